-- How the demand ended: resolved (办结 and rated), refused (否定备案), merged (并单) or withdrawn (撤回).
-- Every dossier sealed before this column existed was resolved and rated: the default fills them without
-- an UPDATE (which the table refuses), then new dossiers name their outcome themselves.
ALTER TABLE dossiers ADD COLUMN outcome text DEFAULT 'resolved'
    CHECK (outcome IN ('resolved', 'refused', 'merged', 'withdrawn'));
ALTER TABLE dossiers ALTER COLUMN outcome DROP DEFAULT;
