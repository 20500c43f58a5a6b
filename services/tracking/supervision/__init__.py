"""Warnings (预警), chases (催办) and supervision (督办): the scheduler and the supervisors' hand."""
