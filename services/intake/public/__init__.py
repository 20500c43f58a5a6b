"""The enterprise's own channel, without login: online submission and the private status link."""
