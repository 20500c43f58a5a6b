"""The clock of a case, computed from its facts (the events it was told of), never kept as a counter. Pure: no I/O."""

from dataclasses import dataclass


@dataclass(frozen=True)
class ClockSettings:
    """A station's clock (domain.md §8, §9); the service's settings are the defaults, a head may set the station's."""

    response_days: int = 1  # 响应时限: working days from acceptance to the first assignment
    warn_days: int = 1  # 预警: working days before a deadline
    escalate_after_days: int = 2  # 督办: working days overdue before escalation to the district's supervisor
    reply_days: int = 2  # 督办回复时限: working days the station has to answer a 督办
