"""Tracking: the tracking sheet (跟踪单) and ledger (台账) of every demand, from all events."""
