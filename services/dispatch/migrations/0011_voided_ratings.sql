-- Voided ratings (申诉复核, issue 10): evaluation's RatingVoided marks a rating void; it is never deleted, but every
-- satisfaction figure excludes it (domain.md §8, §9): the running record's `rated` and `satisfied` skip it.
-- One row per voided rating, named by the Rated's event id, so a void that arrives before its Rated still counts
-- and a later rating of the same round (after verification) is not voided by an earlier rating's void.
CREATE TABLE voided_ratings (
    rated_event_id uuid PRIMARY KEY,
    demand_id      uuid NOT NULL,
    round          integer NOT NULL,
    station_id     text NOT NULL,
    voided_at      timestamptz NOT NULL
);
CREATE INDEX voided_ratings_by_round ON voided_ratings (demand_id, round);

-- The rating the row holds, to match its void; NULL for ratings recorded before this column (their round's void
-- then matches by demand and round).
ALTER TABLE resolution_outcomes ADD COLUMN rated_event_id uuid;
