"""The KPIs of the supervisor's view (GET /kpis): the period asked for, the figures and their rates. Pure: no I/O.

The figures are counted in SQL (services/tracking/store.py, `_KPIS`) with the same rules as the KPI metrics
(`COUNTERS` there; README, metrics paragraph); here are what is easier to state and to test in Python: which China
days a period means, a rate that is null rather than NaN when there is nothing to count, the total of a scope, and
whether a rate is below its target (shared/kpis.py, shared with evaluation's view).
"""

from dataclasses import astuple, dataclass, field

from shared.kpis import rate


@dataclass(frozen=True)
class Targets:
    """The supervisors' targets (settings TRACKING_TARGET_ON_TIME_RATE, TRACKING_TARGET_RESPONSE_RATE), 0..1; the
    defaults are the settings'."""

    on_time_rate: float
    response_rate: float

    @classmethod
    def of(cls, settings) -> "Targets":
        return cls(on_time_rate=settings.target_on_time_rate, response_rate=settings.target_response_rate)


class _Counts:
    """Counts that add up field by field (a scope's total is the sum of its stations')."""

    def __add__(self, other):
        return type(self)(*(a + b for a, b in zip(astuple(self), astuple(other), strict=True)))


@dataclass(frozen=True)
class Now(_Counts):
    """Cases as they stand (today = the China date of the service's clock), as the gauges count them."""

    open: int = 0
    overdue_response: int = 0
    overdue_handling: int = 0
    paused: int = 0


@dataclass(frozen=True)
class Handling(_Counts):
    """按时办结 over the period (domain.md §9): `due`, the cases whose handling deadline in force fell in the period,
    resolved or late now; `resolved_on_time`, those of them resolved by that deadline. And 办结率's numerator,
    `resolved_in_period`: the cases resolved on a day of the period, whatever their deadline (so it may exceed
    `due`). Each case counts in one period for each figure, so the periods of a year add up."""

    due: int = 0
    resolved_in_period: int = 0
    resolved_on_time: int = 0

    @property
    def on_time_rate(self) -> float | None:
        return rate(self.resolved_on_time, self.due)


@dataclass(frozen=True)
class Response(_Counts):
    """及时响应 over the period (domain.md §9): `due`, the cases whose response deadline fell in the period or that were
    first assigned in it, assigned or late now; `responded_in_time`, those of them assigned by that deadline."""

    due: int = 0
    responded_in_time: int = 0

    @property
    def response_rate(self) -> float | None:
        return rate(self.responded_in_time, self.due)


@dataclass(frozen=True)
class Figures:
    now: Now = field(default_factory=Now)
    handling: Handling = field(default_factory=Handling)
    response: Response = field(default_factory=Response)


@dataclass(frozen=True)
class StationFigures(Figures):
    station_id: str = ""
    district: str = ""
    city: str = ""


def total(stations: list[StationFigures]) -> Figures:
    """The whole scope: the stations' counts added up, so its rates are those of the sums (not a mean of rates)."""
    whole = Figures()
    for s in stations:
        whole = Figures(whole.now + s.now, whole.handling + s.handling, whole.response + s.response)
    return whole
