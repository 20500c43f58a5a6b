"""Library every service uses: contracts, messaging, database, auth, observability."""
