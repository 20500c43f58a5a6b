"""After a resolution: the re-visit (回访) tasks of a station and the re-visits it records (issue 10)."""
