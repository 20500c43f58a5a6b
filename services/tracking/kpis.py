"""The KPIs of the supervisor's view (GET /kpis): the period asked for, the figures and their rates. Pure: no I/O.

The figures are counted in SQL (services/tracking/store.py, `_KPIS`) with the same rules as the KPI metrics
(`COUNTERS` there; README, metrics paragraph); here are what is easier to state and to test in Python: which China
days a period means, a rate that is null rather than NaN when there is nothing to count, the total of a scope, the
average and 90th percentile of the time to resolve, and whether a rate is below its target (shared/kpis.py, shared
with evaluation's view).
"""

from collections.abc import Sequence
from dataclasses import astuple, dataclass, field

from shared.kpis import Period, rate

P90 = 90  # the percentile of the time to resolve the city watches


@dataclass(frozen=True)
class Targets:
    """The supervisors' targets (settings TRACKING_TARGET_ON_TIME_RATE, TRACKING_TARGET_RESPONSE_RATE,
    TRACKING_TARGET_REVISIT_RATE), 0..1; the defaults are the settings'."""

    on_time_rate: float
    response_rate: float
    revisit_rate: float = 1.0

    @classmethod
    def of(cls, settings) -> "Targets":
        return cls(
            on_time_rate=settings.target_on_time_rate,
            response_rate=settings.target_response_rate,
            revisit_rate=settings.target_revisit_rate,
        )


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
    `due`). Each case counts in one period for each figure, so the periods of a year add up: a re-handled demand (重办)
    by its first resolution and the deadline it met, and in `reopened` (重办率's numerator) as well."""

    due: int = 0
    resolved_in_period: int = 0
    resolved_on_time: int = 0
    reopened: int = 0  # 重办: of resolved_in_period, the demands reopened after a founded verification

    @property
    def on_time_rate(self) -> float | None:
        return rate(self.resolved_on_time, self.due)

    @property
    def reopen_rate(self) -> float | None:
        """重办率 (domain.md §9): reopened / resolved in the period."""
        return rate(self.reopened, self.resolved_in_period)


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
class Revisits(_Counts):
    """回访 over the period (domain.md §9, services/tracking/revisits): `due`, the re-visit tasks due on a day of the
    period (appeared by today); `done`, those of them done by now (a re-visit reached the enterprise after what made
    the task); the same for 差评回访 (the tasks of 不满意 ratings); `overdue`, the tasks late now (as the gauge
    qs_revisits_overdue, whatever the period); `voluntary`, re-visits of demands without a task that reached the
    enterprise on a day of the period (counted apart, in no rate)."""

    due: int = 0
    done: int = 0
    dissatisfied_due: int = 0
    dissatisfied_done: int = 0
    overdue: int = 0
    voluntary: int = 0

    @property
    def revisit_rate(self) -> float | None:
        """回访率 = done / due."""
        return rate(self.done, self.due)

    @property
    def dissatisfied_revisit_rate(self) -> float | None:
        """差评回访率 = dissatisfied_done / dissatisfied_due (target 100%)."""
        return rate(self.dissatisfied_done, self.dissatisfied_due)


@dataclass(frozen=True)
class RevisitReport:
    """The re-visit figures of GET /kpis: per station in scope (a station without a task has none) and in total."""

    stations: dict[str, Revisits] = field(default_factory=dict)

    @property
    def total(self) -> Revisits:
        whole = Revisits()
        for figures in self.stations.values():
            whole = whole + figures
        return whole

    def of(self, station_id: str) -> Revisits:
        return self.stations.get(station_id, Revisits())


def nearest_rank(ordered: Sequence[int], percent: int) -> int | None:
    """The `percent`-th percentile by nearest rank: the ⌈percent × n / 100⌉-th smallest of the n values (`ordered`
    increasing), i.e. the smallest value that at least `percent`% of them do not exceed; always one of the values,
    never interpolated. None without values."""
    if not ordered:
        return None
    rank = max(1, -(-percent * len(ordered) // 100))  # ⌈percent × n / 100⌉ in integers
    return ordered[rank - 1]


@dataclass(frozen=True)
class ResolutionTime:
    """办结用时 over the period: the working days from acceptance to resolution (Case.resolution_working_days,
    pauses not deducted) of the cases resolved on a China date of the period, in increasing order."""

    working_days: tuple[int, ...] = ()

    def __add__(self, other: "ResolutionTime") -> "ResolutionTime":
        return ResolutionTime(tuple(sorted(self.working_days + other.working_days)))

    @property
    def resolved(self) -> int:
        """How many resolved cases were measured."""
        return len(self.working_days)

    @property
    def average(self) -> float | None:
        return sum(self.working_days) / len(self.working_days) if self.working_days else None

    @property
    def p90(self) -> int | None:
        return nearest_rank(self.working_days, P90)


@dataclass(frozen=True)
class Figures:
    now: Now = field(default_factory=Now)
    handling: Handling = field(default_factory=Handling)
    response: Response = field(default_factory=Response)
    resolution: ResolutionTime = field(default_factory=ResolutionTime)

    def __add__(self, other: "Figures") -> "Figures":
        return Figures(
            self.now + other.now,
            self.handling + other.handling,
            self.response + other.response,
            self.resolution + other.resolution,
        )


@dataclass(frozen=True)
class StationFigures(Figures):
    station_id: str = ""
    district: str = ""
    city: str = ""


@dataclass(frozen=True)
class CategoryFigures(Figures):
    """The scope's figures of the demands naming a category (a demand of two categories counts in both, so the
    categories add up to more than the total)."""

    category: str = ""
    label: str = ""


@dataclass(frozen=True)
class OrganizationFigures(Figures):
    """The scope's figures of the cases whose current assignment a service organization holds (not given back):
    being handled by it now, or resolved under its assignment. Response is the station's, not counted here."""

    organization_id: str = ""
    name: str = ""


def total(stations: list[StationFigures]) -> Figures:
    """The whole scope: the stations' counts added up, so its rates are those of the sums (not a mean of rates),
    and its time to resolve that of all the cases together (not a mean of the stations')."""
    whole = Figures()
    for s in stations:
        whole = whole + s
    return whole


@dataclass(frozen=True)
class Report:
    """Everything GET /kpis shows: per station in scope, the whole scope, and the whole scope per category and per
    organization, for one period."""

    period: Period
    stations: list[StationFigures]
    total: Figures
    by_category: list[CategoryFigures] = field(default_factory=list)
    by_organization: list[OrganizationFigures] = field(default_factory=list)
