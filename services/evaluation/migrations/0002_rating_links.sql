-- One-time rating links (一次性评价链接): only the SHA-256 of the token is kept, so a
-- database reader cannot rate in the enterprise's name. Single purpose, expiring, single use.
CREATE TABLE rating_links (
    token_sha256 text PRIMARY KEY,
    demand_id    uuid NOT NULL REFERENCES surveys (demand_id),
    station_id   text NOT NULL,
    round        integer NOT NULL,
    created_by   text NOT NULL,
    created_at   timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    used_at      timestamptz
);
CREATE INDEX rating_links_by_demand ON rating_links (demand_id);
