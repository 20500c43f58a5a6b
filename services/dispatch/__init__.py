"""Dispatch: the queue of demands waiting for a decision, and every assignment made."""
