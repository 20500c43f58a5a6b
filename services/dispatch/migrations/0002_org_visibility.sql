-- Row-level security for service organizations (the station policy is added on start):
-- an organization sees a demand, and its assignments, while the current assignment is its own.
CREATE POLICY org_assigned ON assignments FOR SELECT USING (qs_is_org(assignee_kind, assignee_id));
CREATE POLICY org_assigned ON queue FOR SELECT USING (EXISTS (
    SELECT 1 FROM assignments a
    WHERE a.demand_id = queue.demand_id AND a.assignment_no = queue.assignment_count
      AND qs_is_org(a.assignee_kind, a.assignee_id)
));
