-- Row-level security for service organizations (the station policy is added on start):
-- an organization sees, and may resolve, the cases currently assigned to it.
CREATE POLICY org_assigned ON cases USING (qs_is_org(assignee_kind, assignee_id));
CREATE POLICY org_assigned ON timeline USING (EXISTS (SELECT 1 FROM cases c WHERE c.demand_id = timeline.demand_id));
