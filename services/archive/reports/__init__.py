"""The weekly report (周报, 004 §5.5.1) of a station or a subtree, from the events the archive logs."""
