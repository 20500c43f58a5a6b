"""Archive: sealed, numbered, append-only dossiers (资料归档), kept at least three years."""
