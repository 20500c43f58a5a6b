"""Scorecards (issue 10): the rating figures of a period per station, first responder, organization or category."""
