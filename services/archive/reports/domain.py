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
(or its last correction).

A station's own work comes from the records the archive keeps of it (stationwork/, fed by VisitRecorded,
SpecialTaskAssigned and SpecialTaskReported; `station_work`). Its visits and reports count in the week the archive
RECEIVED them (`received_at`, the archive's clock when it stored them, China week), whatever their own dates. A
finished week's report is kept as made, and only once the week is over by that same clock with a margin (`SETTLE`,
`keepable`), so every visit and report is in exactly one report, the week it arrived: one entered late, or held up on
the way (recorded Sunday 23:59, received after Monday's scheduler), is in the next report, not in none. One whose own
date is before that week is marked 补录 (`late`):

- visits (走访): the visits received in the week, counted and listed with their date (visited_on, a China date),
  enterprise, staff and findings shortened; 补录 when visited_on is before the week;
- special tasks (专项工作): each station's part that was open at some time in the week (assigned before the week
  ended, its completion not received before the week began), with its due date and where it stood when the week ended
  (for the current week: now): completed (its 完成报告 received this week), overdue (its deadline, the due date moved
  past a day off as tracking moves it, passed before that day) or in progress; and the progress reports (进度填报) and
  completions received in the week, 补录 when reported_at is before the week.

A report kept before the archive received these events has no such figures (null): they are not guessed afterwards.
"""

import re
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from shared.calendar import CHINA, is_workday
from shared.contracts import Channel, Overall, TaskReportKind
from shared.errors import Invalid

from ..exports.domain import counts_as_satisfied
from ..stationwork.domain import TaskPart, TaskReport, Visit

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
# 满意 is evaluation's setting (EVALUATION_SATISFIED_LEVELS): each Rated says whether it counted (counts_as_satisfied);
# a Rated from before that flag counts by DEFAULT_SATISFIED_LEVELS (exports.domain.counts_as_satisfied).
# A station's own work: how much of it the report lists (the counts are always whole), and how short a text gets.
LISTED = 200
SHORT = 60


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


# How long after a week's end its report waits before it is kept: a visit or task report stamped with the archive's
# clock just before Monday 00:00 may commit a moment later, on a replica whose clock is a little behind. Until then
# the finished week is computed when asked, and the scheduler (every ARCHIVE_WEEKLY_REPORT_CHECK_SECONDS) keeps it
# on its next round after the margin.
SETTLE = timedelta(minutes=5)


def keepable(week: Week, now: datetime) -> bool:
    """Whether the week's figures may be kept (never to change): the week ended at least `SETTLE` ago."""
    return now >= week.bounds()[1] + SETTLE


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
    voided = satisfied = 0
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
                satisfied += counts_as_satisfied(e.payload)
        elif e.routing_key in CLOSINGS:
            closed[CLOSINGS[e.routing_key]] += 1
    valid = sum(ratings.values())
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
    }


# --------------------------------------------------------------------------- a station's own work


@dataclass(frozen=True)
class StationWork:
    """What the archive keeps of the stations' own work around one week (reports/store.py reads it)."""

    visits: list[Visit]  # received in the week
    parts: list[TaskPart]  # assigned before the week ended, its completion not received before the week began
    reports: list[TaskReport]  # received in the week
    overrides: dict[date, bool]  # the working-day corrections (CalendarCorrected)


PART_STATES = {"done": "已完成", "overdue": "已逾期", "open": "办理中"}


def short(text: str, limit: int = SHORT) -> str:
    """One line, at most `limit` characters (an ellipsis marks the cut)."""
    line = " ".join((text or "").split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def task_deadline(due_on: date, overrides: dict[date, bool] | None = None) -> date:
    """The due date, or the next working day when it falls on a day off (民法典 §203), as tracking judges a part."""
    day = due_on
    while not is_workday(day, overrides):
        day += timedelta(days=1)
    return day


def judged_on(week: Week, now: datetime) -> date:
    """The China day a part's state is judged on: the Monday after a week that is over (as tracking sees it the moment
    the week ends), else today."""
    return week.end + timedelta(days=1) if complete(week, now) else china_day(now)


def _station(names: dict[str, str], station_id: str) -> str:
    return names.get(station_id) or station_id


def received_in(week: Week, at: datetime) -> bool:
    """Whether a visit or task report the archive received at `at` counts in `week` (China time). For the current
    week: whatever has arrived so far."""
    low, high = week.bounds()
    return low <= at < high


def late(week: Week, day: date | datetime) -> bool:
    """补录: a fact counted in `week` whose own date (a visit's day, a report's time, China date) is before it."""
    return (day.astimezone(CHINA).date() if isinstance(day, datetime) else day) < week.start


def _visits(week: Week, visits: list[Visit], names: dict[str, str]) -> dict:
    counted = [v for v in visits if received_in(week, v.received_at)]
    ordered = sorted(counted, key=lambda v: (v.visited_on, v.station_id, v.enterprise_name, str(v.visit_id)))
    by_station = Counter(v.station_id for v in counted)
    return {
        "total": len(counted),
        "late": sum(1 for v in counted if late(week, v.visited_on)),
        "enterprises": len({v.credit_code for v in counted}),
        "by_station": [
            {"station_id": s, "label": _station(names, s), "count": by_station[s]} for s in sorted(by_station)
        ],
        "listed": [
            {
                "visit_id": str(v.visit_id),
                "visited_on": v.visited_on.isoformat(),
                "station_id": v.station_id,
                "station": _station(names, v.station_id),
                "enterprise_name": v.enterprise_name,
                "credit_code": v.credit_code,
                "staff": list(v.staff),
                "findings": short(v.findings),
                "received_at": v.received_at.isoformat(),
                "late": late(week, v.visited_on),
            }
            for v in ordered[:LISTED]
        ],
        "not_listed": max(0, len(ordered) - LISTED),
    }


def _special_tasks(week: Week, work: StationWork, names: dict[str, str], now: datetime) -> dict:
    day = judged_on(week, now)
    reports = sorted(
        (r for r in work.reports if received_in(week, r.received_at)),
        key=lambda r: (r.reported_at, r.station_id, str(r.report_id)),
    )
    completed = {(r.task_id, r.station_id): r for r in reports if r.kind is TaskReportKind.completion}
    in_week = Counter((r.task_id, r.station_id) for r in reports)
    parts = []
    for p in work.parts:
        key = (p.task_id, p.station_id)
        deadline = task_deadline(p.due_on, work.overrides)
        done = completed.get(key)
        state = "done" if done else "overdue" if deadline < day else "open"
        parts.append(
            {
                "task_id": str(p.task_id),
                "station_id": p.station_id,
                "station": _station(names, p.station_id),
                "title": p.title,
                "issued_by": p.issued_by,
                "due_on": p.due_on.isoformat(),
                "deadline": deadline.isoformat(),
                "state": state,
                "state_label": PART_STATES[state],
                "completed_on": done.reported_at.astimezone(CHINA).date().isoformat() if done else None,
                "reports": in_week[key],
            }
        )
    parts.sort(key=lambda x: (x["state"] != "overdue", x["deadline"], x["title"], x["station_id"], x["task_id"]))
    return {
        "as_of": day.isoformat(),
        "tasks": len({p["task_id"] for p in parts}),
        "parts": len(parts),
        "progress_reports": sum(1 for r in reports if r.kind is TaskReportKind.progress),
        "late_reports": sum(1 for r in reports if late(week, r.reported_at)),
        "completed": sum(1 for p in parts if p["state"] == "done"),
        "overdue": sum(1 for p in parts if p["state"] == "overdue"),
        "open": parts[:LISTED],
        "reports": [
            {
                "report_id": str(r.report_id),
                "task_id": str(r.task_id),
                "station_id": r.station_id,
                "station": _station(names, r.station_id),
                "title": r.title,
                "kind": r.kind.value,
                "kind_label": r.kind.label,
                "reported_at": r.reported_at.isoformat(),
                "received_at": r.received_at.isoformat(),
                "late": late(week, r.reported_at),
                "reported_by": r.reported_by,
                "text": short(r.text),
            }
            for r in reports[:LISTED]
        ],
    }


def station_work(week: Week, work: StationWork, names: dict[str, str], now: datetime) -> dict:
    """The week's visits and special tasks (see the module's docstring): JSON-ready, kept with the figures.

    `names` are the stations' names (a station missing from it is shown by its id); `now` decides the day the parts'
    states are judged on (the Monday after a finished week, else today). Visits and reports count by when the archive
    received them."""
    return {"visits": _visits(week, work.visits, names), "special_tasks": _special_tasks(week, work, names, now)}


def station_ids(work: StationWork) -> list[str]:
    """The stations the work names, for their names."""
    return sorted({x.station_id for x in (*work.visits, *work.parts, *work.reports)})


def _day(iso: str | None) -> str:
    if not iso:
        return "—"
    d = date.fromisoformat(iso)
    return f"{d.month}月{d.day}日"


def _moment(at: datetime) -> str:
    local = at.astimezone(CHINA)
    return f"{local.month}月{local.day}日 {local:%H:%M}"


def _stations_named(f: dict) -> int:
    """How many stations a report's own work names (a station's report covers its service points too)."""
    found = {s["station_id"] for s in (f.get("visits") or {}).get("by_station", [])}
    tasks = f.get("special_tasks") or {}
    found |= {x["station_id"] for x in [*tasks.get("open", []), *tasks.get("reports", [])]}
    return len(found)


def _visits_view(v: dict | None) -> dict | None:
    """None for a report kept before the archive received visits."""
    if v is None:
        return None
    return {
        "total": v["total"],
        "late": v.get("late", 0),  # absent from a report kept before late entries were marked
        "enterprises": v["enterprises"],
        "by_station": "、".join(f"{s['label']} {s['count']}" for s in v["by_station"]) or "—",
        "rows": [
            {
                "day": _day(x["visited_on"]),
                "late": bool(x.get("late")),
                "station": x["station"],
                "enterprise": x["enterprise_name"],
                "credit_code": x["credit_code"],
                "staff": "、".join(x["staff"]),
                "findings": x["findings"],
            }
            for x in v["listed"]
        ],
        "not_listed": v["not_listed"],
    }


def _tasks_view(t: dict | None, complete: bool) -> dict | None:
    """None for a report kept before the archive received special tasks."""
    if t is None:
        return None
    return {
        "as_of": "截至本周末" if complete else f"截至今天 {_day(t['as_of'])}",
        "tasks": t["tasks"],
        "parts": t["parts"],
        "progress_reports": t["progress_reports"],
        "late_reports": t.get("late_reports", 0),
        "completed": t["completed"],
        "overdue": t["overdue"],
        "open": [
            {
                "title": x["title"],
                "station": x["station"],
                "issued_by": x["issued_by"] or "—",
                "due_on": _day(x["due_on"]),
                "deadline": _day(x["deadline"]) if x["deadline"] != x["due_on"] else "",
                "state": x["state"],
                "state_label": x["state_label"]
                + (f"（{_day(x['completed_on'])}）" if x["state"] == "done" and x["completed_on"] else ""),
                "reports": x["reports"],
            }
            for x in t["open"]
        ],
        "reports": [
            {
                "at": _moment(datetime.fromisoformat(x["reported_at"])),
                "late": bool(x.get("late")),  # absent from a report kept before reports counted by receipt
                "station": x["station"],
                "title": x["title"],
                "kind": x["kind_label"],
                "text": x["text"],
                "by": x["reported_by"],
            }
            for x in t["reports"]
        ],
    }


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
            "visits": _visits_view(f.get("visits")),
            "tasks": _tasks_view(f.get("special_tasks"), self.complete),
            "by_station": self.subtree or _stations_named(f) > 1,
            "plans": [
                {"station": name, "text": p.text, "by": p.by, "at": p.at.astimezone(CHINA).strftime("%Y-%m-%d %H:%M")}
                for p, name in self.plans
            ],
        }
