-- Complaints about organizations (投诉, issue 10): the registry's running record counts them (received, founded), from
-- intake's ComplaintUpdated. One row per complaint, as its latest stage describes it: every event carries the whole
-- complaint, so a later stage replaces what an earlier one said (the head may identify the organization late) and an
-- earlier one arriving late changes nothing. org_id NULL: not about an identified organization (or no longer).
CREATE TABLE organization_complaints (
    complaint_id uuid PRIMARY KEY,
    station_id   text NOT NULL,
    org_id       text,
    stage        text NOT NULL
        CHECK (stage IN ('received', 'acknowledged', 'investigated', 'resolved', 'answered', 'closed')),
    position     integer NOT NULL CHECK (position BETWEEN 0 AND 5),
    founded      boolean,
    stage_at     timestamptz NOT NULL,
    event_id     uuid NOT NULL
);
CREATE INDEX organization_complaints_by_org ON organization_complaints (org_id) WHERE org_id IS NOT NULL;
