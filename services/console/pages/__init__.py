"""The console's pages, one module per area, each with a `router` of thin routes."""
