"""After a 不满意 rating: verification (核实) and re-handling (重办) of a case, by rounds (issue 10)."""
