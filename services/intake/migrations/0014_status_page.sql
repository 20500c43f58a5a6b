-- What the enterprise's status page (GET /public/status/{token}) adds to the demand's progress
-- (services/intake/public/domain.py).
--
-- The steps' moments from the events intake follows anyway: 派单 the earliest Assigned seen (of any round), 办结 and
-- 评价 the latest round's Resolved and Rated. 受理 and 归档 are the demand's own submitted_at and archived_at. Demands
-- handled before this migration have none of these three: the page shows the steps without their moments.
CREATE TABLE status_steps (
    demand_id         uuid PRIMARY KEY REFERENCES demands (demand_id),
    station_id        text NOT NULL,
    first_assigned_at timestamptz,
    resolved_round    integer,
    resolved_at       timestamptz,
    rated_round       integer,
    rated_at          timestamptz
);

-- The one-time rating link evaluation made when a round's survey opened (RatingLinkIssued): the latest per demand and
-- round. The URL holds the link's token, a secret like the status token: the status page shows it to whoever holds
-- the status link, while the round waits for its rating; no staff API reads this table, and the archive never
-- receives the event. Rows with station_id fall under row-level security like every station table.
CREATE TABLE status_rating_links (
    demand_id  uuid NOT NULL REFERENCES demands (demand_id),
    round      integer NOT NULL CHECK (round >= 1),
    station_id text NOT NULL,
    url        text NOT NULL,
    expires_at timestamptz NOT NULL,
    issued_at  timestamptz NOT NULL,
    event_id   uuid NOT NULL,
    PRIMARY KEY (demand_id, round)
);
