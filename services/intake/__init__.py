"""Intake: enterprises, demands as submitted, per-station tracking numbers."""
