-- When each station was last announced (StationRegistered) to the other services. Saving a
-- station announces it in the same transaction; on start intake announces those never
-- announced, such as the seeded ones.
ALTER TABLE stations ADD COLUMN announced_at timestamptz;
