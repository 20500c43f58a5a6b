-- Issue 11: the hash chain per station, retention and legal holds, the audited disposal, every read in the log.
-- Run as the database owner; row-level security is forced even for the owner, so see every station's rows.
SELECT set_config('qs.scope', '*', true);

-- ---------------------------------------------------------------------------------------------- the chain
-- Each dossier's chain hash covers the previous dossier's chain hash of the same station, its own place in the
-- chain, its archive number, its demand and its content hash (archive_chain_link; services/archive/domain.py
-- computes the very same text). Altering a sealed record, or removing or reordering one, breaks the chain from
-- there on: `python -m services.archive verify-chain` finds the first broken link.
ALTER TABLE dossiers
    ADD COLUMN chain_no        bigint,
    ADD COLUMN previous_sha256 text,
    ADD COLUMN chain_sha256    text,
    -- Disposal (销毁) after retention: the content is removed, the row and its hashes stay, so the chain still verifies.
    ADD COLUMN disposed_at     timestamptz,
    ADD COLUMN disposal_id     uuid;
ALTER TABLE dossiers ALTER COLUMN content DROP NOT NULL;

CREATE FUNCTION archive_chain_link(previous text, station text, n bigint, archive_no text, demand uuid, content_sha256 text)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT encode(sha256(convert_to(
        coalesce(previous, '') || '|' || station || '|' || n::text || '|' || archive_no || '|' || demand::text
            || '|' || content_sha256, 'UTF8')), 'hex')
$$;

-- Dossiers sealed before the chain existed are chained here, per station in archive-number order (A2026-000001,
-- A2026-000002, …, A2027-000001): the trigger that refuses every change is off for this one pass only.
ALTER TABLE dossiers DISABLE TRIGGER dossiers_append_only;
DO $$
DECLARE
    r record;
    station text;
    previous text;
    n bigint;
BEGIN
    FOR r IN SELECT demand_id, station_id, archive_no, content_sha256 FROM dossiers ORDER BY station_id, archive_no LOOP
        IF station IS DISTINCT FROM r.station_id THEN
            station := r.station_id;
            previous := NULL;
            n := 0;
        END IF;
        n := n + 1;
        UPDATE dossiers
           SET chain_no = n,
               previous_sha256 = previous,
               chain_sha256 = archive_chain_link(previous, r.station_id, n, r.archive_no, r.demand_id, r.content_sha256)
         WHERE demand_id = r.demand_id
        RETURNING chain_sha256 INTO previous;
    END LOOP;
END $$;
ALTER TABLE dossiers ENABLE TRIGGER dossiers_append_only;
ALTER TABLE dossiers
    ALTER COLUMN chain_no SET NOT NULL,
    ALTER COLUMN chain_sha256 SET NOT NULL,
    ADD CONSTRAINT dossiers_chain UNIQUE (station_id, chain_no),
    ADD CONSTRAINT dossiers_disposed CHECK ((disposed_at IS NULL) = (disposal_id IS NULL)
                                            AND (content IS NOT NULL OR disposed_at IS NOT NULL));

-- A new dossier is linked by the database itself, whoever inserts it: one station's sealings take turns on a lock of
-- that station (two dossiers sealed at once chain one after the other, never both after the same head), and the
-- unique (station_id, chain_no) refuses a fork should anything get past the lock.
CREATE FUNCTION archive_chain_insert() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    head record;
BEGIN
    PERFORM pg_advisory_xact_lock(1634886515, hashtext(NEW.station_id));  -- 'arch': a lock space of its own
    -- A statement after the lock sees what the previous holder committed (READ COMMITTED, a fresh snapshot).
    SELECT chain_no, chain_sha256 INTO head FROM dossiers WHERE station_id = NEW.station_id
     ORDER BY chain_no DESC LIMIT 1;
    NEW.chain_no := coalesce(head.chain_no, 0) + 1;
    NEW.previous_sha256 := head.chain_sha256;
    NEW.chain_sha256 := archive_chain_link(
        NEW.previous_sha256, NEW.station_id, NEW.chain_no, NEW.archive_no, NEW.demand_id, NEW.content_sha256);
    NEW.disposed_at := NULL;  -- a dossier is sealed whole; disposal comes later, by its own procedure
    NEW.disposal_id := NULL;
    RETURN NEW;
END $$;
CREATE TRIGGER dossiers_chain BEFORE INSERT ON dossiers FOR EACH ROW EXECUTE FUNCTION archive_chain_insert();

-- ---------------------------------------------------------------------------------------- retention
-- A station may keep its dossiers longer than the three-year minimum (never shorter). A dossier keeps the date it was
-- sealed with; a longer setting later lengthens it (retention is a minimum), a shorter one never shortens it.
CREATE TABLE retention_settings (
    station_id text PRIMARY KEY,
    years      integer NOT NULL CHECK (years BETWEEN 3 AND 100),
    reason     text NOT NULL,
    set_by     text NOT NULL,
    set_at     timestamptz NOT NULL
);

-- The date the archive is in, in China (the day a retention ends is a China date).
CREATE FUNCTION archive_today() RETURNS date LANGUAGE sql STABLE AS $$
    SELECT (now() AT TIME ZONE 'Asia/Shanghai')::date
$$;

-- Kept through this date: the later of the date sealed with and the station's setting counted from sealing.
CREATE FUNCTION archive_retained_until(station text, sealed_at timestamptz, sealed_until date) RETURNS date
LANGUAGE sql STABLE AS $$
    SELECT greatest(sealed_until, coalesce(
        ((sealed_at AT TIME ZONE 'Asia/Shanghai')::date
            + make_interval(years => (SELECT years FROM retention_settings s WHERE s.station_id = station)))::date,
        sealed_until))
$$;

-- A legal hold (法律保全/暂停销毁): set and lifted by the head with a reason; while one is on, nothing is disposed.
CREATE TABLE legal_holds (
    hold_id      uuid PRIMARY KEY,
    demand_id    uuid NOT NULL REFERENCES dossiers (demand_id),
    station_id   text NOT NULL,
    reason       text NOT NULL,
    set_by       text NOT NULL,
    set_at       timestamptz NOT NULL,
    lift_reason  text,
    lifted_by    text,
    lifted_at    timestamptz,
    CHECK ((lifted_at IS NULL) = (lifted_by IS NULL) AND (lifted_at IS NULL) = (lift_reason IS NULL))
);
CREATE UNIQUE INDEX legal_holds_one_active ON legal_holds (demand_id) WHERE lifted_at IS NULL;

-- A hold is never deleted nor rewritten: the only change is lifting it, once.
CREATE FUNCTION archive_hold_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.lifted_at IS NULL AND NEW.lifted_at IS NOT NULL
       AND (NEW.hold_id, NEW.demand_id, NEW.station_id, NEW.reason, NEW.set_by, NEW.set_at)
           IS NOT DISTINCT FROM (OLD.hold_id, OLD.demand_id, OLD.station_id, OLD.reason, OLD.set_by, OLD.set_at) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION '% is append-only: % refused (a hold is only ever lifted, once)', TG_TABLE_NAME, TG_OP;
END $$;
CREATE TRIGGER legal_holds_guard BEFORE UPDATE OR DELETE ON legal_holds
    FOR EACH ROW EXECUTE FUNCTION archive_hold_guard();

-- ---------------------------------------------------------------------------------------- disposal
-- A disposal request (销毁申请) lists the dossiers due when it was made; its confirmation disposes those still due.
CREATE TABLE disposals (
    disposal_id    uuid PRIMARY KEY,
    station_id     text NOT NULL,
    reason         text NOT NULL,
    requested_by   text NOT NULL,
    requested_at   timestamptz NOT NULL,
    items          jsonb NOT NULL,
    confirmed_by   text,
    confirmed_at   timestamptz,
    CHECK ((confirmed_by IS NULL) = (confirmed_at IS NULL))
);
CREATE INDEX disposals_by_station ON disposals (station_id, requested_at DESC);

CREATE FUNCTION archive_disposal_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.confirmed_at IS NULL AND NEW.confirmed_at IS NOT NULL
       AND (NEW.disposal_id, NEW.station_id, NEW.reason, NEW.requested_by, NEW.requested_at, NEW.items)
           IS NOT DISTINCT FROM
           (OLD.disposal_id, OLD.station_id, OLD.reason, OLD.requested_by, OLD.requested_at, OLD.items) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION '% is append-only: % refused (a request is only ever confirmed, once)', TG_TABLE_NAME, TG_OP;
END $$;
CREATE TRIGGER disposals_guard BEFORE UPDATE OR DELETE ON disposals
    FOR EACH ROW EXECUTE FUNCTION archive_disposal_guard();

-- The disposal record (销毁记录), kept forever: what was disposed, its hashes, by whom and when.
CREATE TABLE disposal_records (
    demand_id      uuid PRIMARY KEY REFERENCES dossiers (demand_id),
    disposal_id    uuid NOT NULL REFERENCES disposals (disposal_id),
    station_id     text NOT NULL,
    archive_no     text NOT NULL,
    tracking_no    text NOT NULL,
    sealed_at      timestamptz NOT NULL,
    retained_until date NOT NULL,
    content_sha256 text NOT NULL,
    chain_no       bigint NOT NULL,
    chain_sha256   text NOT NULL,
    disposed_by    text NOT NULL,
    disposed_at    timestamptz NOT NULL
);
CREATE INDEX disposal_records_by_disposal ON disposal_records (disposal_id);
CREATE TRIGGER disposal_records_append_only BEFORE UPDATE OR DELETE ON disposal_records
    FOR EACH ROW EXECUTE FUNCTION refuse_change();

-- Whether a dossier may be disposed of now: retention over (China date), no hold on, not yet disposed.
CREATE FUNCTION archive_disposable(d dossiers) RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT d.disposed_at IS NULL
       AND archive_retained_until(d.station_id, d.sealed_at, d.retain_until) < archive_today()
       AND NOT EXISTS (SELECT 1 FROM legal_holds h WHERE h.demand_id = d.demand_id AND h.lifted_at IS NULL)
$$;

-- The sealed record is still refused every change but one: its disposal, and only when due. The content goes (NULL),
-- the disposal is named, nothing else moves, and the database itself refuses it before retention ends or under a
-- hold, whatever the caller believes.
CREATE FUNCTION archive_dossier_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.disposed_at IS NULL AND NEW.disposed_at IS NOT NULL AND NEW.content IS NULL
       AND (NEW.demand_id, NEW.station_id, NEW.tracking_no, NEW.archive_no, NEW.sealed_at, NEW.retain_until,
            NEW.content_sha256, NEW.outcome, NEW.chain_no, NEW.previous_sha256, NEW.chain_sha256)
           IS NOT DISTINCT FROM
           (OLD.demand_id, OLD.station_id, OLD.tracking_no, OLD.archive_no, OLD.sealed_at, OLD.retain_until,
            OLD.content_sha256, OLD.outcome, OLD.chain_no, OLD.previous_sha256, OLD.chain_sha256) THEN
        IF archive_retained_until(OLD.station_id, OLD.sealed_at, OLD.retain_until) >= archive_today() THEN
            RAISE EXCEPTION 'dossier % is retained until %: disposal refused',
                OLD.archive_no, archive_retained_until(OLD.station_id, OLD.sealed_at, OLD.retain_until);
        END IF;
        IF EXISTS (SELECT 1 FROM legal_holds h WHERE h.demand_id = OLD.demand_id AND h.lifted_at IS NULL) THEN
            RAISE EXCEPTION 'dossier % is under a legal hold: disposal refused', OLD.archive_no;
        END IF;
        RETURN NEW;
    END IF;
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP;
END $$;
-- The same trigger name as before (0001), now with the one exception above.
DROP TRIGGER dossiers_append_only ON dossiers;
CREATE TRIGGER dossiers_append_only BEFORE UPDATE OR DELETE ON dossiers
    FOR EACH ROW EXECUTE FUNCTION archive_dossier_guard();

CREATE FUNCTION archive_is_disposed(demand uuid) RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT EXISTS (SELECT 1 FROM dossiers d WHERE d.demand_id = demand AND d.disposed_at IS NOT NULL)
$$;

-- The raw events of a disposed dossier go with it (they hold the same personal and enterprise data); until then,
-- nothing of the log is altered or deleted.
CREATE FUNCTION archive_event_log_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND archive_is_disposed(OLD.demand_id) THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP;
END $$;
DROP TRIGGER event_log_append_only ON event_log;
CREATE TRIGGER event_log_append_only BEFORE UPDATE OR DELETE ON event_log
    FOR EACH ROW EXECUTE FUNCTION archive_event_log_guard();

-- So do a disposed dossier's supplements' contents; their hashes stay.
ALTER TABLE dossier_supplements ALTER COLUMN content DROP NOT NULL;
CREATE FUNCTION archive_supplement_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.content IS NOT NULL AND NEW.content IS NULL AND archive_is_disposed(OLD.demand_id)
       AND (NEW.demand_id, NEW.supplement_no, NEW.station_id, NEW.added_at, NEW.content_sha256)
           IS NOT DISTINCT FROM (OLD.demand_id, OLD.supplement_no, OLD.station_id, OLD.added_at, OLD.content_sha256) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP;
END $$;
DROP TRIGGER dossier_supplements_append_only ON dossier_supplements;
CREATE TRIGGER dossier_supplements_append_only BEFORE UPDATE OR DELETE ON dossier_supplements
    FOR EACH ROW EXECUTE FUNCTION archive_supplement_guard();

-- ---------------------------------------------------------------------------------------- the access log
-- Every read of personal or enterprise data (a dossier, a list of dossiers, an export) and every act on the archive
-- (retention set, hold set or lifted, disposal requested or confirmed): who, in which role, what, when, why.
-- `action` names the kind (dossier.read, dossier.list, export.…, retention.set, hold.set, hold.lift,
-- disposal.request, disposal.confirm); a line written without it is a dossier read, as every line before was.
ALTER TABLE access_log
    ALTER COLUMN demand_id DROP NOT NULL,
    ADD COLUMN action       text NOT NULL DEFAULT 'dossier.read',
    ADD COLUMN subject_name text,
    ADD COLUMN what         text,
    ADD COLUMN demand_ids   uuid[],
    ADD COLUMN purpose      text,
    ADD COLUMN detail       jsonb;
CREATE INDEX access_log_by_station ON access_log (station_id, accessed_at DESC);
