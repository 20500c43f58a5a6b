"""The satisfaction KPIs (domain.md §9): 满意率 and 解决率 over valid ratings, for GET /kpis and the rating metrics.
Pure: no I/O.

The ratings are counted in SQL (services/evaluation/store.py: per overall level and item 5 answered yes / no, the same
columns for the metrics and the view); here is what the settings decide and what is easier to state and test in
Python: which overall levels count as satisfied (one definition, used for the metrics' `satisfied` label and for the
view's figures alike), the 30 China days the alert looks at, the rates (null rather than NaN), the total of a
scope, and the same figures on the national 好差评 scale (Overall.national) for reporting upward. The period, the rate
and the target comparison are shared/kpis.py's, as for tracking's view.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta

from shared.contracts import DEFAULT_SATISFIED_LEVELS, NationalLevel, Overall
from shared.kpis import Period, rate

# The gauge qs_ratings_last_30_days and the alert QsSatisfactionBelowTarget look at this many China days, today
# included (issue 12: "a station's 满意率 below a threshold over 30 days").
WINDOW_DAYS = 30
# The seeds' 满意 (domain.md §9): 非常满意 + 满意, the contracts' one default; a setting (EVALUATION_SATISFIED_LEVELS).
DEFAULT_SATISFIED = DEFAULT_SATISFIED_LEVELS
_SCALE = tuple(Overall)  # best first: 非常满意, 满意, 一般, 不满意


def satisfied_levels(levels: Iterable[Overall | str]) -> tuple[Overall, ...]:
    """The levels a setting names, checked and in the scale's order: at least one, never 不满意 (it re-opens the case,
    domain.md §5.5), and the top of the scale (a level counts only with every better one), e.g. 非常满意 alone or
    非常满意 + 满意 + 一般. Raises ValueError otherwise."""
    chosen = {Overall(level) for level in levels}
    if not chosen:
        raise ValueError("name at least one overall level as satisfied (满意等级至少一项)")
    if Overall.dissatisfied in chosen:
        raise ValueError("dissatisfied (不满意) cannot count as satisfied")
    ordered = tuple(level for level in _SCALE if level in chosen)
    if ordered != _SCALE[: len(ordered)]:
        raise ValueError(
            f"satisfied levels must be the top of the scale {[lvl.value for lvl in _SCALE]}, e.g. "
            f"very_satisfied,satisfied; got {[lvl.value for lvl in ordered]} (满意等级须从非常满意起连续)"
        )
    return ordered


@dataclass(frozen=True)
class Definition:
    """满意率 as the settings define it (EVALUATION_SATISFIED_LEVELS, EVALUATION_TARGET_SATISFACTION_RATE): the overall
    levels counted as satisfied, and the supervisors' target (0..1). The defaults are the settings'."""

    satisfied_levels: tuple[Overall, ...] = DEFAULT_SATISFIED
    target_satisfaction_rate: float = 0.9

    @classmethod
    def of(cls, settings) -> "Definition":
        return cls(tuple(settings.satisfied_levels), settings.target_satisfaction_rate)

    def satisfied(self, level: Overall) -> bool:
        return level in self.satisfied_levels


def last_days(today: date, days: int = WINDOW_DAYS) -> Period:
    """The `days` China days ending `today`, both ends included: the window of qs_ratings_last_30_days."""
    return Period(today - timedelta(days=days - 1), today)


def _zero() -> dict[Overall, int]:
    return dict.fromkeys(Overall, 0)


@dataclass(frozen=True)
class Figures:
    """A scope's valid ratings (voided ones excluded, store._VALID) over a period: how many at each overall level
    (item 10), and how many answered item 5 (问题是否解决) yes and no. 满意率 = satisfied / valid; 解决率 = yes / (yes +
    no), over the ratings that answer item 5 (domain.md §9)."""

    by_level: Mapping[Overall, int] = field(default_factory=_zero)
    solved_yes: int = 0
    solved_no: int = 0

    def __add__(self, other: "Figures") -> "Figures":
        return Figures(
            {level: self.count(level) + other.count(level) for level in Overall},
            self.solved_yes + other.solved_yes,
            self.solved_no + other.solved_no,
        )

    def count(self, level: Overall) -> int:
        return self.by_level.get(level, 0)

    @property
    def valid(self) -> int:
        """满意率's denominator: every valid rating, whatever its level."""
        return sum(self.count(level) for level in Overall)

    def satisfied(self, definition: Definition) -> int:
        """满意率's numerator: the ratings at a level the definition counts as satisfied."""
        return sum(self.count(level) for level in Overall if definition.satisfied(level))

    def satisfaction_rate(self, definition: Definition) -> float | None:
        return rate(self.satisfied(definition), self.valid)

    @property
    def solution_rate(self) -> float | None:
        """解决率: yes / (yes + no); ratings that leave item 5 blank are not counted."""
        return rate(self.solved_yes, self.solved_yes + self.solved_no)

    @property
    def national(self) -> dict[NationalLevel, int]:
        """The valid ratings on the national 好差评 scale (Overall.national: 一般 is 基本满意), every level listed;
        非常不满意 has no counterpart on the seeds' form and stays 0."""
        counts = dict.fromkeys(NationalLevel, 0)
        for level in Overall:
            counts[level.national] += self.count(level)
        return counts

    @property
    def bad(self) -> int:
        """差评: the valid ratings at a level the national scale counts as bad (不满意, 非常不满意)."""
        return sum(n for level, n in self.national.items() if level.is_bad)

    @property
    def bad_rate(self) -> float | None:
        """差评率 = 差评 / valid ratings; null without a valid rating."""
        return rate(self.bad, self.valid)


@dataclass(frozen=True)
class StationFigures(Figures):
    station_id: str = ""
    district: str = ""
    city: str = ""


def total(stations: list[StationFigures]) -> Figures:
    """The whole scope: the stations' counts added up, so its rates are those of the sums (not a mean of rates)."""
    whole = Figures()
    for s in stations:
        whole = whole + s
    return whole


@dataclass(frozen=True)
class Report:
    """Everything GET /kpis shows: per station in scope and the whole scope, for one period."""

    period: Period
    stations: list[StationFigures]
    total: Figures
