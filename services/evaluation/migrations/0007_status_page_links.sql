-- The one-time rating link evaluation makes for the enterprise's status page when a round's survey opens, announced
-- to intake by RatingLinkIssued (its URL, with the token, travels only to intake, which shows it behind the status
-- link). It is a row like the links the station sends (the token's SHA-256 only; one round, once, until it expires;
-- retired with the others), marked so that the count the clerk is told when sending one (POST /surveys/{id}/link,
-- also_valid: the links "sent" still valid) leaves it out. A round gets one: the database keeps that rule too.
ALTER TABLE rating_links ADD COLUMN status_page boolean NOT NULL DEFAULT false;
CREATE UNIQUE INDEX rating_links_one_per_round_for_the_status_page ON rating_links (demand_id, round)
    WHERE status_page;
