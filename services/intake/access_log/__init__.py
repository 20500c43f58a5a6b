"""The access log: every read of an enterprise's dossier or a demand's contact, who, when, what and why."""
