-- Exports (issue 11): books of sealed dossiers, background jobs that produce them, weekly reports.

-- Books find their dossiers by what the sealed submission says of the enterprise: its credit code (一企一册), and
-- where its dossier at the station placed it when the demand was submitted (DemandSubmitted.enterprise_profile:
-- 一链一册 by chain, 一镇一册 by specialised town or park). Expression indexes, not columns: the sealed table is
-- append-only and its rows are hashed, so nothing is added to them.
CREATE INDEX dossiers_by_credit_code ON dossiers ((content #>> '{demand,enterprise,credit_code}'));
CREATE INDEX dossiers_by_chain ON dossiers ((content #>> '{demand,enterprise_profile,chain}'))
    WHERE content #>> '{demand,enterprise_profile,chain}' IS NOT NULL;
CREATE INDEX dossiers_by_town ON dossiers ((content #>> '{demand,enterprise_profile,town}'))
    WHERE content #>> '{demand,enterprise_profile,town}' IS NOT NULL;
CREATE INDEX dossiers_by_park ON dossiers ((content #>> '{demand,enterprise_profile,park_name}'))
    WHERE content #>> '{demand,enterprise_profile,park_name}' IS NOT NULL;

-- The weekly report reads the logged events of a station (or a subtree) around a week.
CREATE INDEX event_log_by_station_time ON event_log (station_id, occurred_at);

-- A book too large for one request is a job: queued, claimed by one replica (SELECT … FOR UPDATE SKIP LOCKED),
-- running with a heartbeat, done with its file (here as bytea, or in a configured directory) until it expires.
-- A running job whose heartbeat is older than the lease (its replica stopped) is claimed again.
-- station_id is the scope the job reads in (a station, or a supervisor's district or city prefix): row-level
-- security shows a job only to callers whose scope covers it, and the requester alone reads it (requested_by).
CREATE TABLE export_jobs (
    job_id          uuid PRIMARY KEY,
    station_id      text NOT NULL,
    kind            text NOT NULL CHECK (kind IN ('book')),
    parameters      jsonb NOT NULL,
    requested_by    text NOT NULL,
    requester_name  text NOT NULL,
    requester_role  text NOT NULL,
    state           text NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'running', 'done', 'failed')),
    progress_done   integer NOT NULL DEFAULT 0,
    progress_total  integer,
    attempts        integer NOT NULL DEFAULT 0,
    error           text,
    created_at      timestamptz NOT NULL,
    started_at      timestamptz,
    heartbeat_at    timestamptz,
    finished_at     timestamptz,
    expires_at      timestamptz,
    file_name       text,
    media_type      text,
    file_size       bigint,
    file_sha256     text,
    file_bytes      bytea,
    file_path       text,
    -- The dossiers the file holds, so each download is recorded in the access log against each of them.
    dossiers        jsonb NOT NULL DEFAULT '[]'
);
CREATE INDEX export_jobs_claimable ON export_jobs (created_at) WHERE state IN ('queued', 'running');
CREATE INDEX export_jobs_by_requester ON export_jobs (requested_by, created_at DESC);
CREATE INDEX export_jobs_expiring ON export_jobs (expires_at) WHERE expires_at IS NOT NULL;

-- 周报 (004 §5.5.1): one per station and ISO week (China dates). Its figures are the snapshot taken when the week
-- was over (by the scheduler, on any replica: the key makes it once) or when first asked for; the head's plan for
-- the next week may be written before the figures exist (figures NULL until then).
CREATE TABLE weekly_reports (
    station_id    text NOT NULL,
    iso_year      integer NOT NULL,
    iso_week      integer NOT NULL CHECK (iso_week BETWEEN 1 AND 53),
    figures       jsonb,
    generated_at  timestamptz,
    generated_by  text,
    plan          text,
    plan_by       text,
    plan_at       timestamptz,
    PRIMARY KEY (station_id, iso_year, iso_week)
);
