-- Issue 10: the second round (重办) and the appeal (申诉复核).
--
-- A rating names the Rated event that announced it (event_id), so a voiding can say which rating it voids
-- (RatingVoided.rated_event_id) and the archive can match the two. Ratings kept before this take theirs from the
-- outbox while it still holds it (published rows are pruned after the retention); a rating whose event is gone keeps
-- NULL, and voiding it is refused with a 409 that says why.
ALTER TABLE ratings ADD COLUMN event_id uuid UNIQUE;
UPDATE ratings r SET event_id = o.event_id
FROM outbox o
WHERE o.routing_key = 'demand.rated' AND o.demand_id = r.demand_id AND (o.payload ->> 'round')::integer = r.round;

-- 申诉复核: a voided rating is kept, marked void (who, when, why), and left out of every satisfaction figure.
ALTER TABLE ratings
    ADD COLUMN voided_at   timestamptz,
    ADD COLUMN voided_by   text,
    ADD COLUMN void_reason text,
    ADD CONSTRAINT ratings_void_says_who_when_why
        CHECK ((voided_at IS NULL) = (voided_by IS NULL) AND (voided_at IS NULL) = (void_reason IS NULL));

-- The rounds whose rating was voided, on the survey too, so lists show it without reading the ratings.
ALTER TABLE surveys ADD COLUMN voided_rounds integer[] NOT NULL DEFAULT '{}';

-- The database keeps the rule: a rating is never deleted nor rewritten. The one change it accepts is its voiding
-- (once; a void rating changes no more), and naming its event where it was unknown.
CREATE FUNCTION ratings_kept() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('DELETE', 'TRUNCATE') THEN
        RAISE EXCEPTION 'ratings are kept: % refused (void a rating instead)', TG_OP;
    END IF;
    IF OLD.voided_at IS NOT NULL THEN
        RAISE EXCEPTION 'the rating of demand % round % is void: it changes no more', OLD.demand_id, OLD.round;
    END IF;
    IF (NEW.demand_id, NEW.round, NEW.station_id, NEW.answers, NEW.overall, NEW.source, NEW.recorded_by, NEW.rated_at)
            IS DISTINCT FROM
        (OLD.demand_id, OLD.round, OLD.station_id, OLD.answers, OLD.overall, OLD.source, OLD.recorded_by, OLD.rated_at)
        OR (OLD.event_id IS NOT NULL AND NEW.event_id IS DISTINCT FROM OLD.event_id) THEN
        RAISE EXCEPTION 'the rating of demand % round % is never rewritten: only its voiding is recorded',
            OLD.demand_id, OLD.round;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER ratings_never_rewritten BEFORE UPDATE OR DELETE ON ratings
    FOR EACH ROW EXECUTE FUNCTION ratings_kept();
CREATE TRIGGER ratings_never_truncated BEFORE TRUNCATE ON ratings
    FOR EACH STATEMENT EXECUTE FUNCTION ratings_kept();
