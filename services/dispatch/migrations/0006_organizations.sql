-- The service-organization registry (服务机构库, 001 §7.2.2). Organizations span stations, so these tables
-- have no station_id column and no row-level security: who may read or change an organization is decided
-- in SQL with qs_covers(scope, area) against its service areas.
CREATE TABLE organizations (
    org_id                text PRIMARY KEY CHECK (org_id ~ '^[a-z0-9][a-z0-9-]{1,39}$'),
    name                  text NOT NULL,
    credit_code           text NOT NULL UNIQUE,              -- 统一社会信用代码
    contacts              jsonb NOT NULL DEFAULT '[]',       -- [{name, phone, role}]
    categories            text[] NOT NULL CHECK (cardinality(categories) > 0),
    item_codes            text[] NOT NULL DEFAULT '{}',      -- a category with none listed is served whole
    areas                 text[] NOT NULL CHECK (cardinality(areas) > 0),  -- city/district prefixes or station ids
    agreement_party       text NOT NULL,                     -- 协议: the city bureau or a station
    agreement_no          text NOT NULL,
    agreement_valid_until date NOT NULL,
    status                text NOT NULL CHECK (status IN ('admitted', 'suspended', 'exited')),
    status_reason         text,
    suspended_until       date,                              -- the last day of a suspension
    admitted_at           timestamptz NOT NULL,
    updated_at            timestamptz NOT NULL,
    CHECK (status = 'admitted' OR status_reason IS NOT NULL),
    CHECK (suspended_until IS NULL OR status = 'suspended')
);
CREATE INDEX organizations_by_area ON organizations USING gin (areas);

-- 资质: certificates with their validity; categories empty = they back all the organization's categories.
CREATE TABLE organization_qualifications (
    org_id         text NOT NULL REFERENCES organizations (org_id),
    position       integer NOT NULL,
    kind           text NOT NULL,
    certificate_no text NOT NULL,
    issuer         text NOT NULL,
    scope          text NOT NULL,
    valid_from     date NOT NULL,
    valid_until    date NOT NULL CHECK (valid_until >= valid_from),
    file_ref       text,
    categories     text[] NOT NULL DEFAULT '{}',
    PRIMARY KEY (org_id, position)
);
CREATE INDEX organization_qualifications_by_expiry ON organization_qualifications (valid_until);

-- Who admitted, edited, suspended, reinstated or exited an organization, when and why, with the profile
-- before and after. Append-only: the database refuses to alter or delete a row.
CREATE TABLE organization_audit (
    id         bigserial PRIMARY KEY,
    org_id     text NOT NULL REFERENCES organizations (org_id),
    action     text NOT NULL CHECK (action IN ('admitted', 'edited', 'suspended', 'reinstated', 'exited')),
    actor      text NOT NULL,
    actor_name text NOT NULL,
    actor_role text NOT NULL,
    at         timestamptz NOT NULL,
    reason     text,
    before     jsonb,
    after      jsonb NOT NULL
);
CREATE INDEX organization_audit_by_org ON organization_audit (org_id, id);

CREATE FUNCTION organization_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP;
END $$;
CREATE TRIGGER organization_audit_append_only BEFORE UPDATE OR DELETE ON organization_audit
    FOR EACH ROW EXECUTE FUNCTION organization_audit_append_only();

-- The facts of each round's resolution and rating, as their events said them (Resolved, Rated), in any
-- order: the running record (动态评价, 001 §7.2.2.2) is counted from these joined to `assignments`, never
-- kept as a score. Per demand, so it carries the station (and row-level security) like `assignments`.
CREATE TABLE resolution_outcomes (
    demand_id     uuid NOT NULL,
    round         integer NOT NULL,
    station_id    text NOT NULL,
    assignment_no integer,            -- the assignment the resolution answers; NULL until the Resolved is seen
    outcome       text,
    resolved_at   timestamptz,
    resolved_on   date,               -- the China date of resolved_at, compared with the assignment's due_on
    overall       text,               -- item 10 of the rating; NULL until the Rated is seen
    rated_at      timestamptz,
    PRIMARY KEY (demand_id, round)
);
CREATE INDEX assignments_by_assignee ON assignments (assignee_kind, assignee_id);

-- The catalogue items of a demand (ItemRef of DemandSubmitted), which dispatch fills: candidates match them.
ALTER TABLE queue ADD COLUMN items jsonb NOT NULL DEFAULT '[]';
