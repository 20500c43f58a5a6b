-- Station contact shown on notices.
ALTER TABLE stations ADD COLUMN phone text;
UPDATE stations SET phone = '024-23456789' WHERE station_id LIKE '210100/%';
UPDATE stations SET phone = '020-34567890' WHERE station_id LIKE '440100/%';

-- 一企一册: one dossier per enterprise and station; detail tables of the forms as validated JSON.
CREATE TABLE enterprises (
    station_id               text NOT NULL,
    credit_code              text NOT NULL,
    credit_code_flag         text,            -- 'check_failed': a legacy code whose check character does not verify
    name                     text NOT NULL,
    legal_representative     text,
    industry                 text,
    size                     text,
    employees                integer,
    output_value_wan         numeric(14, 2),  -- 企业产值, 万元
    main_products            text,
    address                  text,
    in_park                  boolean,
    park_name                text,
    town                     text,            -- 专业镇
    chain                    text,            -- 产业链
    chain_leader             boolean NOT NULL DEFAULT false,  -- 链主
    own_labs                 integer,
    labs_cover_own_testing   boolean,
    contacts                 jsonb NOT NULL DEFAULT '[]',
    products                 jsonb NOT NULL DEFAULT '[]',
    instruments              jsonb NOT NULL DEFAULT '[]',
    special_equipment        jsonb NOT NULL DEFAULT '[]',
    operator_exams           jsonb NOT NULL DEFAULT '[]',
    created_at               timestamptz NOT NULL DEFAULT now(),
    updated_at               timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (station_id, credit_code)
);
CREATE INDEX enterprises_by_name ON enterprises (station_id, name);

-- The complete demand form.
ALTER TABLE demands
    ADD COLUMN credit_code_flag text,
    ADD COLUMN received_at timestamptz,
    ADD COLUMN green_channel text,
    ADD COLUMN green_channel_reason text,
    ADD COLUMN details jsonb NOT NULL DEFAULT '{}',
    ADD COLUMN visit_id uuid,
    ADD COLUMN possible_duplicate_of uuid,
    ADD COLUMN expected_on date,
    ADD COLUMN progress text NOT NULL DEFAULT 'submitted',
    ADD COLUMN first_responder_id text;

-- The catalogue entries a demand names, as they were when it was submitted.
CREATE TABLE demand_items (
    demand_id       uuid NOT NULL REFERENCES demands (demand_id),
    station_id      text NOT NULL,
    position        integer NOT NULL,
    item_code       text NOT NULL,
    item_version    integer NOT NULL,
    override_scope  text,
    category        text NOT NULL,
    label           text NOT NULL,
    time_limit_days integer NOT NULL,
    materials       jsonb NOT NULL,
    handled_by      text NOT NULL,
    materials_received jsonb NOT NULL DEFAULT '[]',
    remarks         text,
    PRIMARY KEY (demand_id, position)
);
CREATE INDEX demand_items_by_code ON demand_items (station_id, item_code);

-- A retried submission with the same Idempotency-Key returns the first result.
CREATE TABLE idempotency_keys (
    station_id     text NOT NULL,
    key            text NOT NULL,
    request_sha256 text NOT NULL,
    demand_id      uuid NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (station_id, key)
);

-- The enterprise's private status link (only the token's SHA-256 is kept).
CREATE TABLE status_links (
    token_sha256 text PRIMARY KEY,
    demand_id    uuid NOT NULL REFERENCES demands (demand_id),
    station_id   text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL
);

-- 主动进企业: a visit and what was found; demands collected during it point to it.
CREATE TABLE visits (
    visit_id      uuid PRIMARY KEY,
    station_id    text NOT NULL,
    credit_code   text NOT NULL,
    enterprise_name text NOT NULL,
    staff         jsonb NOT NULL,
    visited_on    date NOT NULL,
    findings      text NOT NULL,
    recorded_by   text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX visits_by_station ON visits (station_id, visited_on DESC);

-- Working-day corrections for years the calendar package does not know yet (admin-maintained).
CREATE TABLE calendar_overrides (
    day        date PRIMARY KEY,
    is_workday boolean NOT NULL,
    note       text NOT NULL DEFAULT ''
);
