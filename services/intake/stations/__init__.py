"""The station registry intake owns, announced to every service as StationRegistered."""
