"""The weekly report (周报, 004 §5.5.1): what a station did this week and what it plans for the next. Pure: no I/O.

Weeks are ISO weeks (Monday to Sunday) of China dates: an event at Sunday 23:30 in Shanghai (15:30 UTC) is in that
week, one at Monday 00:30 (Sunday 16:30 UTC) in the next. The figures come only from the events the archive logs
(every event of every demand, sealed or not), each counted by its own time:

- received (受理): DemandSubmitted.submitted_at;
- dispatched (派单, 改派, 转办): Assigned, when published; a demand counts once however often it was assigned;
- resolved (办结): Resolved.resolved_at;
- overdue (超期): CaseChased of the handling deadline (tracking chases every missed deadline once, the day after it),
  by chased_on: the demands that fell overdue this week;
- rated (评价): Rated.rated_at; the ratings' distribution counts every rating (both rounds), less those voided on
  appeal (申诉复核) by the time the report was made;
- closed without resolution (否定备案, 并单, 撤回): their closed_at.

Each is broken down by category (a demand naming two counts in both) and by channel, from the demand's submission
(or its last correction). Visits (走访) and special tasks (专项工作) travel in no event the archive consumes: the report
says "not available" and names the events that would carry them.
"""

import re
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from shared.calendar import CHINA
from shared.contracts import Channel, Overall
from shared.errors import Invalid

_WEEK = re.compile(r"^([0-9]{4})-W([0-9]{2})$")

SUBMITTED = "demand.submitted"
CORRECTED = "demand.corrected"
ASSIGNED = "demand.assigned"
RESOLVED = "demand.resolved"
RATED = "demand.rated"
VOIDED = "demand.rating_voided"
CHASED = "demand.chased"
CLOSINGS = {"demand.refused": "否定备案", "demand.merged": "并单", "demand.withdrawn": "撤回"}
# The events a week's figures are read from; submissions and corrections of older demands are read by id.
COUNTED = (SUBMITTED, CORRECTED, ASSIGNED, RESOLVED, RATED, VOIDED, CHASED, *CLOSINGS)
# Read this far around the week by the time the event was published, then judged by each event's own time.
MARGIN = timedelta(days=14)

FIGURES = (
    ("received", "受理需求"),
    ("dispatched", "派单"),
    ("resolved", "办结"),
    ("overdue", "超期（本周催办）"),
    ("rated", "评价"),
)
OVERALL_LABELS = {o.value: o.label for o in Overall}
SATISFIED = (Overall.very_satisfied.value, Overall.satisfied.value)
NOT_AVAILABLE = "not available"
# What the archive cannot know from its events, and which events would tell it.
UNAVAILABLE = (
    {
        "figure": "visits",
        "label": "走访企业次数",
        "text": "暂无数据（not available）：走访记录只保存在受理服务中，归档服务收不到相应事件。",
        "needs": "VisitRecorded (intake: visit_id, station_id, credit_code, visited_on, staff) on routing key "
        "visit.recorded; today the archive sees only demands collected during a visit (channel 主动进企业, visit_id)",
    },
    {
        "figure": "special_tasks",
        "label": "专项工作",
        "text": "暂无数据（not available）：专项工作只保存在跟踪服务中，归档服务收不到相应事件。",
        "needs": "SpecialTaskAssigned and SpecialTaskReported (tracking: task_id, station_id, title, due_on, report "
        "kind progress/completed, reported_at) on routing keys special_task.assigned / special_task.reported",
    },
)


@dataclass(frozen=True, order=True)
class Week:
    year: int  # ISO year
    week: int

    @classmethod
    def parse(cls, text: str, field: str = "week") -> "Week":
        """ "2026-W47"; refused (422 naming the field) when malformed or a week the year does not have."""
        m = _WEEK.match(text or "")
        if m:
            year, week = int(m.group(1)), int(m.group(2))
            try:
                date.fromisocalendar(year, week, 1)
                return cls(year, week)
            except ValueError:
                pass
        raise Invalid(
            f"周次格式应为 YYYY-Www（如 2026-W47），且须是该年存在的周：{text}",
            f"week must be YYYY-Www, a week of that ISO year: {text!r}",
            field=field,
        )

    @classmethod
    def of(cls, day: date) -> "Week":
        year, week, _ = day.isocalendar()
        return cls(year, week)

    @property
    def start(self) -> date:
        return date.fromisocalendar(self.year, self.week, 1)

    @property
    def end(self) -> date:
        return self.start + timedelta(days=6)

    def bounds(self) -> tuple[datetime, datetime]:
        """Monday 00:00 to the next Monday 00:00, China time."""
        low = datetime.combine(self.start, time.min, CHINA)
        return low, low + timedelta(days=7)

    def previous(self) -> "Week":
        return Week.of(self.start - timedelta(days=7))

    def next(self) -> "Week":
        return Week.of(self.start + timedelta(days=7))

    def __str__(self) -> str:
        return f"{self.year:04d}-W{self.week:02d}"

    @property
    def label(self) -> str:
        return f"{self.year} 年第 {self.week} 周（{self.start:%m月%d日}—{self.end:%m月%d日}）"


def china_day(now: datetime) -> date:
    return now.astimezone(CHINA).date()


def last_complete_week(now: datetime) -> Week:
    """The week the scheduler reports on: the one before the week China is in now."""
    return Week.of(china_day(now)).previous()


def complete(week: Week, now: datetime) -> bool:
    return week.end < china_day(now)


def check_not_future(week: Week, now: datetime, field: str = "week") -> None:
    if week > Week.of(china_day(now)):
        raise Invalid(f"{week} 尚未开始", f"week {week} has not begun", field=field)


@dataclass(frozen=True)
class Logged:
    demand_id: object
    station_id: str
    routing_key: str
    occurred_at: datetime
    payload: dict


def _instant(value) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str) and value:
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def _when(e: Logged) -> datetime | date | None:
    """The time an event is counted at: its own time field, else when it was published."""
    p = e.payload
    if e.routing_key == SUBMITTED:
        return _instant(p.get("submitted_at"))
    if e.routing_key == RESOLVED:
        return _instant(p.get("resolved_at"))
    if e.routing_key == RATED:
        return _instant(p.get("rated_at"))
    if e.routing_key == CHASED:
        return date.fromisoformat(p["chased_on"]) if p.get("chased_on") else None
    if e.routing_key in CLOSINGS:
        return _instant(p.get("closed_at"))
    return e.occurred_at


def in_week(e: Logged, week: Week) -> bool:
    when = _when(e)
    if when is None:
        return False
    day = when if not isinstance(when, datetime) else when.astimezone(CHINA).date()
    return week.start <= day <= week.end


@dataclass(frozen=True)
class DemandKind:
    categories: tuple[tuple[str, str], ...]  # (code, label)
    channel: str


UNKNOWN = DemandKind(categories=(("unknown", "未知（未收到受理事件）"),), channel="unknown")


def kinds(submissions: list[Logged]) -> dict:
    """Each demand's categories and channel: its submission's, the categories replaced by its last correction's."""
    found: dict = {}
    ordered = sorted(submissions, key=lambda e: (e.routing_key != SUBMITTED, e.occurred_at))
    for e in ordered:
        cats = tuple((c.get("code", ""), c.get("label", "")) for c in e.payload.get("categories") or [])
        if e.routing_key == SUBMITTED:
            found[e.demand_id] = DemandKind(cats or UNKNOWN.categories, e.payload.get("channel") or "unknown")
        elif e.demand_id in found and cats:
            found[e.demand_id] = DemandKind(cats, found[e.demand_id].channel)
    return found


def _channel_label(code: str) -> str:
    try:
        return Channel(code).label
    except ValueError:
        return "未知"


def _breakdown(demands: set, by_demand: dict) -> dict:
    categories: Counter[str] = Counter()
    channels: Counter[str] = Counter()
    for d in demands:
        kind = by_demand.get(d, UNKNOWN)
        for label in {label for _, label in kind.categories}:
            categories[label] += 1
        channels[_channel_label(kind.channel)] += 1
    return {
        "total": len(demands),
        "by_category": [
            {"label": k, "count": v} for k, v in sorted(categories.items(), key=lambda kv: (-kv[1], kv[0]))
        ],
        "by_channel": [{"label": k, "count": v} for k, v in sorted(channels.items(), key=lambda kv: (-kv[1], kv[0]))],
    }


def figures(week: Week, events: list[Logged], submissions: list[Logged]) -> dict:
    """The week's figures from the logged events (see the module's docstring): JSON-ready."""
    by_demand = kinds([e for e in [*events, *submissions] if e.routing_key in (SUBMITTED, CORRECTED)])
    this_week = [e for e in events if e.routing_key not in (CORRECTED, VOIDED) and in_week(e, week)]
    sets: dict[str, set] = {name: set() for name, _ in FIGURES}
    closed: Counter[str] = Counter()
    ratings: Counter[str] = Counter()
    voided_ids = {e.payload.get("rated_event_id") for e in events if e.routing_key == VOIDED}
    voided = 0
    for e in this_week:
        if e.routing_key == SUBMITTED:
            sets["received"].add(e.demand_id)
        elif e.routing_key == ASSIGNED:
            sets["dispatched"].add(e.demand_id)
        elif e.routing_key == RESOLVED:
            sets["resolved"].add(e.demand_id)
        elif e.routing_key == CHASED and e.payload.get("deadline") == "handling":
            sets["overdue"].add(e.demand_id)
        elif e.routing_key == RATED:
            sets["rated"].add(e.demand_id)
            if e.payload.get("event_id") in voided_ids:
                voided += 1
            else:
                ratings[(e.payload.get("answers") or {}).get("overall", "")] += 1
        elif e.routing_key in CLOSINGS:
            closed[CLOSINGS[e.routing_key]] += 1
    valid = sum(ratings.values())
    satisfied = sum(ratings[c] for c in SATISFIED)
    return {
        "counted": {name: _breakdown(sets[name], by_demand) for name, _ in FIGURES},
        "ratings": {
            "by_overall": [{"label": label, "count": ratings[code]} for code, label in OVERALL_LABELS.items()],
            "valid": valid,
            "voided": voided,
            "satisfied": satisfied,
            "satisfaction_rate": satisfied / valid if valid else None,
        },
        "closed": [{"label": label, "count": closed[label]} for label in CLOSINGS.values()],
        "visits_collected": sum(
            1 for d in sets["received"] if by_demand.get(d, UNKNOWN).channel == Channel.visit.value
        ),
        "unavailable": [dict(u) for u in UNAVAILABLE],
    }


def empty_figures(week: Week) -> dict:
    return figures(week, [], [])


@dataclass(frozen=True)
class Plan:
    station_id: str
    text: str
    by: str
    at: datetime


@dataclass(frozen=True)
class Report:
    """One report as shown: a station's (stored snapshot or live) or a subtree's (live, with its stations' plans)."""

    scope: str
    scope_name: str
    week: Week
    figures: dict
    generated_at: datetime
    generated_by: str
    stored: bool  # a snapshot kept in weekly_reports (a station's, once the week was over)
    complete: bool  # the week was over when the figures were taken
    plans: list[tuple[Plan, str]]  # (plan, station name): the station's own, or every station's of the subtree
    subtree: bool

    def view(self) -> dict:
        f = self.figures
        rate = f["ratings"]["satisfaction_rate"]
        labels = dict(FIGURES)
        return {
            "title": "服务站工作周报" if not self.subtree else "服务站工作周报（辖区汇总）",
            "scope": self.scope,
            "scope_name": self.scope_name,
            "week": str(self.week),
            "week_label": self.week.label,
            "next_week_label": self.week.next().label,
            "generated_at": self.generated_at.astimezone(CHINA).strftime("%Y-%m-%d %H:%M"),
            "generated_by": "系统每周自动生成" if self.generated_by == "scheduler" else self.generated_by,
            "complete": self.complete,
            "note": "" if self.complete else "本周尚未结束，以下为截至生成时间的数据。",
            "rows": [
                {
                    "label": labels[name],
                    "total": f["counted"][name]["total"],
                    "by_category": "、".join(f"{c['label']} {c['count']}" for c in f["counted"][name]["by_category"])
                    or "—",
                    "by_channel": "、".join(f"{c['label']} {c['count']}" for c in f["counted"][name]["by_channel"])
                    or "—",
                }
                for name, _ in FIGURES
            ],
            "ratings": f["ratings"]["by_overall"],
            "valid": f["ratings"]["valid"],
            "voided": f["ratings"]["voided"],
            "rate": "—" if rate is None else f"{rate * 100:.1f}%",
            "closed": f["closed"],
            "visits_collected": f["visits_collected"],
            "unavailable": f["unavailable"],
            "plans": [
                {"station": name, "text": p.text, "by": p.by, "at": p.at.astimezone(CHINA).strftime("%Y-%m-%d %H:%M")}
                for p, name in self.plans
            ],
        }
