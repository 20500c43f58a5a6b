"""Station staff and departments (科室): who at a station may lead or co-handle a demand (domain.md §5.2 b)."""
