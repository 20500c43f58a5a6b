"""The access log: every read of an enterprise's data (its dossier, a search, a visit) or of a demand's contact (the
demand, a list of demands, its notice, the ledger export), who, when, what and why."""
