"""Special tasks' pure rules (services/tracking/tasks/domain.py): the deadline past a day off, overdue, and when a
station's open part is warned (预警), chased (催办) and supervised (督办) — across New Year and 春节 2026, and 2027's
New Year, which the calendar package does not know yet (an override says so); and the scheduler's round on a fake
unit of work (batches, a failing part alone undone, each station's own clock settings)."""

import contextlib
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from uuid import UUID, uuid4

import pytest
import time_machine

from services.tracking.clock.domain import ClockSettings
from services.tracking.domain import Case
from services.tracking.settings import Settings
from services.tracking.supervision.domain import Alert, due_today
from services.tracking.tasks import domain, usecases
from services.tracking.tasks.domain import AlertKind, Attachment, Clock, Part, PartState, Report, Task, TaskAlert
from shared.auth import Principal, Role, in_scope
from shared.calendar import CHINA, china_today, is_workday
from shared.contracts import SpecialTaskAssigned, SpecialTaskReported, TaskReportKind, utcnow
from shared.errors import Invalid, InvalidTransition, NotFound
from shared.idempotency import IdempotencyConflict
from tests.support.clock import CHINA_DATES
from tests.support.fake_uow import FakeUnitOfWork

STATION = "210100/210112/hunnan-01"

# 春节 2026: Sat 14 Feb is a make-up working day; Sun 15 – Mon 23 Feb off; Tue 24 Feb back at work.
# New Year 2026: Thu 1 – Sat 3 Jan off, Sun 4 Jan a make-up working day.
# New Year 2027: not in the package; the station's override table declares Fri 1 Jan 2027 off.
NEW_YEAR_2027 = {date(2027, 1, 1): False}

WARNING, CHASE, SUPERVISION = AlertKind.warning, AlertKind.chase, AlertKind.supervision


def _days(start: date, end: date) -> list[date]:
    return [start + timedelta(days=n) for n in range((end - start).days + 1)]


def test_the_calendar_is_what_these_tests_assume():
    assert is_workday(date(2026, 2, 14)) and is_workday(date(2026, 2, 24))
    assert not any(is_workday(d) for d in _days(date(2026, 2, 15), date(2026, 2, 23)))
    assert not any(is_workday(d) for d in _days(date(2026, 1, 1), date(2026, 1, 3)))
    assert is_workday(date(2026, 1, 4))
    assert is_workday(date(2027, 1, 1)) and not is_workday(date(2027, 1, 1), NEW_YEAR_2027)


@pytest.mark.parametrize(
    ("due_on", "overrides", "expected"),
    [
        (date(2026, 2, 17), None, date(2026, 2, 24)),  # 春节: moves past the holiday
        (date(2026, 2, 14), None, date(2026, 2, 14)),  # a make-up Saturday is a working day
        (date(2026, 2, 13), None, date(2026, 2, 13)),
        (date(2026, 1, 1), None, date(2026, 1, 4)),  # New Year: to the make-up Sunday
        (date(2027, 1, 1), None, date(2027, 1, 1)),  # unknown year: Monday to Friday
        (date(2027, 1, 1), NEW_YEAR_2027, date(2027, 1, 4)),  # the override decides first
        (date(2026, 11, 21), None, date(2026, 11, 23)),  # an ordinary Saturday
    ],
)
def test_a_deadline_on_a_day_off_moves_to_the_next_working_day(due_on, overrides, expected):
    assert domain.deadline(due_on, overrides) == expected


@pytest.mark.parametrize(
    ("start", "end", "overrides"),
    [
        (date(2025, 12, 20), date(2026, 1, 15), None),
        (date(2026, 2, 1), date(2026, 3, 5), None),
        (date(2026, 12, 20), date(2027, 1, 15), NEW_YEAR_2027),
    ],
)
def test_overdue_in_sql_agrees_with_overdue_by_the_deadline(start, end, overrides):
    """The list counts overdue parts with `due_on <= overdue_cutoff(today)`; the page judges by the deadline."""
    for today in _days(start, end):
        cutoff = domain.overdue_cutoff(today, overrides)
        assert cutoff < today and is_workday(cutoff, overrides)
        for due_on in _days(start - timedelta(days=10), end):
            assert domain.is_overdue(due_on, today, overrides) == (due_on <= cutoff), (due_on, today)


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        (date(2026, 2, 12), ()),  # Thu: 13, 14, 24 Feb are left
        (date(2026, 2, 13), ()),  # Fri: 14 and 24 Feb left
        (date(2026, 2, 14), (WARNING,)),  # the make-up Saturday: one working day left
        (date(2026, 2, 18), (WARNING,)),  # in the holiday: still one left
        (date(2026, 2, 24), (WARNING,)),  # the deadline itself
        (date(2026, 2, 25), (CHASE,)),  # one working day late
        (date(2026, 2, 26), (CHASE, SUPERVISION)),  # two working days late
        (date(2026, 3, 20), (CHASE, SUPERVISION)),  # a scan after downtime: both, no warning
    ],
)
def test_a_task_due_in_the_spring_festival(today, expected):
    due = domain.alerts_due(date(2026, 2, 17), today, warn_days=1, escalate_after_days=2)
    assert due == expected


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        (date(2025, 12, 30), (WARNING,)),
        (date(2025, 12, 31), (WARNING,)),
        (date(2026, 1, 1), (CHASE,)),  # late, but no working day late yet
        (date(2026, 1, 3), (CHASE,)),
        (date(2026, 1, 4), (CHASE,)),  # the make-up Sunday: one working day late
        (date(2026, 1, 5), (CHASE, SUPERVISION)),
    ],
)
def test_a_task_due_on_new_years_eve(today, expected):
    assert domain.alerts_due(date(2025, 12, 31), today, warn_days=1, escalate_after_days=2) == expected


@pytest.mark.parametrize(
    ("today", "overrides", "expected"),
    [
        (date(2026, 12, 31), NEW_YEAR_2027, (WARNING,)),  # deadline Mon 4 Jan: one working day left
        (date(2027, 1, 4), NEW_YEAR_2027, (WARNING,)),
        (date(2027, 1, 5), NEW_YEAR_2027, (CHASE,)),
        (date(2027, 1, 6), NEW_YEAR_2027, (CHASE, SUPERVISION)),
        (date(2027, 1, 2), None, (CHASE,)),  # without the override 1 Jan is a working day, and the deadline
        (date(2027, 1, 5), None, (CHASE, SUPERVISION)),
    ],
)
def test_a_task_due_on_new_years_day_2027(today, overrides, expected):
    assert domain.alerts_due(date(2027, 1, 1), today, warn_days=1, escalate_after_days=2, overrides=overrides) == (
        expected
    )


def test_warn_days_and_escalate_after_days_are_settings():
    due = date(2026, 11, 27)  # a Friday
    assert domain.alerts_due(due, date(2026, 11, 24), warn_days=3, escalate_after_days=2) == (WARNING,)
    assert domain.alerts_due(due, date(2026, 11, 24), warn_days=2, escalate_after_days=2) == ()
    # 0 means what it means for demands (supervision.domain.due_today): warned on the due day itself, not before.
    assert domain.alerts_due(due, date(2026, 11, 26), warn_days=0, escalate_after_days=2) == ()
    assert domain.alerts_due(due, date(2026, 11, 27), warn_days=0, escalate_after_days=2) == (WARNING,)
    assert domain.alerts_due(due, date(2026, 11, 30), warn_days=1, escalate_after_days=1) == (CHASE, SUPERVISION)
    assert domain.alerts_due(due, date(2026, 12, 2), warn_days=1, escalate_after_days=4) == (CHASE,)


def test_warn_days_zero_means_the_same_for_tasks_and_demands():
    """A task due on a working day is warned on exactly the days a demand due then is (supervision.domain)."""
    for warn_days in (0, 1, 2):
        for due_on in (date(2026, 2, 13), date(2026, 2, 24), date(2026, 11, 27)):
            case = Case(
                demand_id=uuid4(),
                station_id=STATION,
                tracking_no="2026-000001",
                correlation_id=uuid4(),
                submitted_at=datetime(2026, 1, 5, 2, tzinfo=UTC),
                assignment_no=1,
                assignee_kind="organization",
                assignee_id="org-01",
                due_on=due_on,
                handling_due_on=due_on,
                first_assigned_at=datetime(2026, 1, 5, 3, tzinfo=UTC),
            )
            for today in _days(due_on - timedelta(days=12), due_on):
                demand = [d.alert for d in due_today(case, today, ClockSettings(warn_days=warn_days), None)]
                task = domain.alerts_due(due_on, today, warn_days=warn_days, escalate_after_days=2)
                assert (Alert.warning in demand) == (WARNING in task), (warn_days, due_on, today)


@pytest.mark.parametrize("warn_days", [0, 1, 3, 10])
def test_the_scan_horizon_never_leaves_a_warning_out(warn_days):
    overrides = NEW_YEAR_2027
    for today in _days(date(2026, 2, 5), date(2026, 2, 25)) + _days(date(2026, 12, 25), date(2027, 1, 5)):
        horizon = domain.scan_horizon(today, overrides)
        for due_on in _days(today, today + timedelta(days=30)):
            if domain.alerts_due(due_on, today, warn_days=warn_days, escalate_after_days=2, overrides=overrides):
                assert due_on <= horizon, (today, due_on)


def test_a_supervision_goes_to_the_issuer_and_the_rest_to_the_station():
    station = "210100/210112/hunnan-01"
    assert domain.to_scope(SUPERVISION, "210100", station) == "210100"
    assert domain.to_scope(CHASE, "210100", station) == station
    assert domain.to_scope(WARNING, "210100/210112", station) == station


def test_a_parts_state():
    part = Part(task_id=uuid4(), station_id="210100/210112/hunnan-01")
    clock = Clock(date(2026, 2, 24))
    assert clock.state(part, date(2026, 2, 17)) is PartState.open
    assert Clock(date(2026, 2, 25)).state(part, date(2026, 2, 17)) is PartState.overdue
    done = Part(task_id=part.task_id, station_id=part.station_id, completed_at=datetime(2026, 3, 1))
    assert Clock(date(2026, 3, 2)).state(done, date(2026, 2, 17)) is PartState.done
    assert clock.deadline(date(2026, 2, 17)) == date(2026, 2, 24)


def test_the_due_date_may_be_today_in_china_but_not_before(frozen_clock):
    today = china_today(utcnow())
    assert today == CHINA_DATES[frozen_clock]
    domain.check_due_on(today, today)
    with pytest.raises(Invalid) as refused:
        domain.check_due_on(today - timedelta(days=1), today)
    assert refused.value.field == "due_on" and "今天" in refused.value.zh


def test_stations_default_to_the_subtree_and_must_lie_in_it():
    subtree = ["210100/210106/tiexi-01", "210100/210112/hunnan-01", "210100/210112/hunnan-xinsong"]
    assert domain.choose_stations(None, subtree) == subtree
    chosen = domain.choose_stations(["210100/210112/hunnan-01", "210100/210112/hunnan-01"], subtree)
    assert chosen == ["210100/210112/hunnan-01"]
    with pytest.raises(Invalid) as outside:
        domain.choose_stations(["210100/210112/hunnan-01", "440100/440113/panyu-01"], subtree)
    assert outside.value.field == "station_ids" and "440100/440113/panyu-01" in outside.value.zh
    with pytest.raises(Invalid) as empty:
        domain.choose_stations(None, [])
    assert empty.value.field == "station_ids"


@pytest.mark.parametrize(
    "ref",
    [
        "https://scjg.shenyang.gov.cn/zwgk/2026/tz-12.html",
        "http://10.1.2.3:8080/docs/1",
        "沈市监发〔2026〕12号",
        "辽市监函[2026]第3号",
        "SYSCJG-2026-0012",
    ],
)
def test_an_attachment_is_a_web_address_or_a_document_number(ref):
    assert domain.attachment_ref(ref) == ref


@pytest.mark.parametrize(
    "ref",
    [
        "javascript:alert(1)",
        "ftp://files.example.cn/a.pdf",
        "https://",
        "https://exa mple.cn/a",
        "file:///etc/passwd",
        "通知",  # no number
        "<script>1</script>",
        "data:text/html,1",
    ],
)
def test_anything_else_is_refused_as_an_attachment(ref):
    with pytest.raises(Invalid):
        domain.attachment_ref(ref)


def test_no_report_after_completion():
    part = Part(task_id=uuid4(), station_id="210100/210112/hunnan-01")
    domain.check_report(part)
    done = Part(task_id=part.task_id, station_id=part.station_id, completed_at=datetime(2026, 3, 1))
    with pytest.raises(InvalidTransition) as refused:
        domain.check_report(done)
    assert refused.value.status == 409 and refused.value.zh


# --------------------------------------------------------------------------- the scan on a fake unit of work


class ScanStore:
    """The store the scan uses: parts (SKIP LOCKED and batches as the SQL does them), station clock settings and
    the alerts' unique key; `broken` parts fail when raised, as a bug would."""

    def __init__(self, parts: list[dict], stations: dict[str, ClockSettings] | None = None) -> None:
        self.parts = sorted(parts, key=lambda p: (p["task_id"], p["station_id"]))
        self.stations = stations or {}
        self.alerts: dict[tuple[UUID, str, str], TaskAlert] = {}
        self.broken: set[tuple[UUID, str]] = set()
        self.locked: set[tuple[UUID, str]] = set()  # held by another replica
        self.batches: list[int] = []
        self.settings_read: list[str] = []

    async def calendar_overrides(self) -> dict[date, bool]:
        return {}

    async def clock_settings(self, station_id: str, defaults: ClockSettings) -> ClockSettings:
        self.settings_read.append(station_id)
        return self.stations.get(station_id, defaults)

    async def parts_to_scan(self, horizon: date, after: tuple[UUID, str], limit: int) -> list[dict]:
        rows = []
        for p in self.parts:
            key = (p["task_id"], p["station_id"])
            raised = [k for (t, s, k) in self.alerts if (t, s) == key]
            if key <= after or key in self.locked or p["due_on"] > horizon or "supervision" in raised:
                continue
            rows.append({**p, "raised": raised})
            if len(rows) == limit:
                break
        self.batches.append(len(rows))
        return rows

    def savepoint(self):
        # Undo what a failing part wrote, as ROLLBACK TO SAVEPOINT does.
        store = self

        @contextlib.asynccontextmanager
        async def nested():
            before = dict(store.alerts)
            try:
                yield
            except BaseException:
                store.alerts = before
                raise

        return nested()

    async def raise_alert(self, alert: TaskAlert) -> bool:
        key = (alert.task_id, alert.station_id, alert.kind.value)
        if key in self.alerts:
            return False
        self.alerts[key] = alert
        if (alert.task_id, alert.station_id) in self.broken:
            raise RuntimeError("a bug")
        return True

    def kinds(self, task_id: UUID, station_id: str) -> list[str]:
        return sorted(k for (t, s, k) in self.alerts if (t, s) == (task_id, station_id))


def _part(due_on: date, station_id: str = STATION, task_id: UUID | None = None) -> dict:
    return {"task_id": task_id or uuid4(), "station_id": station_id, "due_on": due_on, "issuer_scope": "210100"}


def _at(day: date):
    return time_machine.travel(datetime.combine(day, datetime.min.time().replace(hour=12), CHINA), tick=False)


async def test_the_scan_goes_in_batches_and_a_failing_part_holds_up_no_other():
    overdue = date(2026, 3, 2)  # a Monday; scanned on Thursday 5 March, three working days late
    parts = [_part(overdue, f"210100/210112/s-{n:02d}") for n in range(usecases.BATCH * 2 + 5)]
    store = ScanStore(parts)
    bad = parts[3]
    store.broken.add((bad["task_id"], bad["station_id"]))
    with _at(date(2026, 3, 5)):
        await usecases.scan(FakeUnitOfWork(store), Settings())
    assert store.batches == [usecases.BATCH, usecases.BATCH, 5]
    assert store.kinds(bad["task_id"], bad["station_id"]) == []  # undone alone, retried next round
    for p in parts:
        if p is not bad:
            assert store.kinds(p["task_id"], p["station_id"]) == ["chase", "supervision"]
    # Each station's settings are read once per scan.
    assert sorted(store.settings_read) == sorted({p["station_id"] for p in parts})

    store.broken.clear()
    with _at(date(2026, 3, 5)):
        await usecases.scan(FakeUnitOfWork(store), Settings())
    assert store.kinds(bad["task_id"], bad["station_id"]) == ["chase", "supervision"]
    assert store.batches[3:] == [1]  # every other part has its 督办: only the one left to look at


async def test_the_scan_uses_each_stations_clock_settings():
    due = date(2026, 11, 27)  # a Friday
    patient = "210100/210112/patient-01"  # warns three days ahead, supervised only after four late
    strict = "210100/210112/strict-01"  # warns on the due day only
    task_id = uuid4()
    store = ScanStore(
        [_part(due, STATION, task_id), _part(due, patient, task_id), _part(due, strict, task_id)],
        {patient: ClockSettings(warn_days=3, escalate_after_days=4), strict: ClockSettings(warn_days=0)},
    )
    uow = FakeUnitOfWork(store)
    with _at(date(2026, 11, 24)):  # Tuesday: three working days left
        await usecases.scan(uow, Settings())
    assert [store.kinds(task_id, s) for s in (STATION, patient, strict)] == [[], ["warning"], []]
    with _at(date(2026, 11, 26)):  # Thursday: one left
        await usecases.scan(uow, Settings())
    assert [store.kinds(task_id, s) for s in (STATION, patient, strict)] == [["warning"], ["warning"], []]
    with _at(due):
        await usecases.scan(uow, Settings())
    assert store.kinds(task_id, strict) == ["warning"]
    with _at(date(2026, 12, 1)):  # Tuesday: two working days late
        await usecases.scan(uow, Settings())
        await usecases.scan(uow, Settings())
    assert store.kinds(task_id, STATION) == ["chase", "supervision", "warning"]
    assert store.kinds(task_id, patient) == ["chase", "warning"]
    assert store.alerts[(task_id, STATION, "supervision")].to_scope == "210100"
    with _at(date(2026, 12, 3)):  # four late
        await usecases.scan(uow, Settings())
    assert store.kinds(task_id, patient) == ["chase", "supervision", "warning"]


async def test_a_part_another_replica_holds_is_left_to_it():
    part = _part(date(2026, 3, 2))
    store = ScanStore([part])
    store.locked.add((part["task_id"], part["station_id"]))
    with _at(date(2026, 3, 5)):
        await usecases.scan(FakeUnitOfWork(store), Settings())
    assert store.alerts == {}


# --------------------------------------------------------------------------- what others hear (outbox)

CITY = Principal(subject="sup-city", name="沈阳市市场监督管理局", role=Role.supervisor, station="210100")
HUNNAN_CLERK = Principal(subject="clerk-1", name="张晓燕", role=Role.clerk, station=STATION)
HUNNAN_HEAD = Principal(subject="head-1", name="周站长", role=Role.head, station=STATION)
TIEXI = "210100/210106/tiexi-01"
SUBTREE = [TIEXI, STATION]


class TaskStore:
    """The store assign, report and the task's page use: tasks, parts and reports in memory, scoped as the SQL."""

    def __init__(self, stations: list[str] = SUBTREE) -> None:
        self.stations = stations
        self.kept: dict[UUID, Task] = {}
        self.shares: dict[tuple[UUID, str], Part] = {}

    async def calendar_overrides(self) -> dict[date, bool]:
        return {}

    async def subtree_stations(self, scope: str) -> list[str]:
        return [s for s in self.stations if in_scope(s, scope)]

    async def add_task(self, task: Task, stations: list[str]) -> None:
        self.kept[task.task_id] = task
        for s in stations:
            self.shares[(task.task_id, s)] = Part(task_id=task.task_id, station_id=s)

    async def task(self, task_id: UUID, scope: str) -> Task | None:
        seen = any(t == task_id and in_scope(s, scope) for (t, s) in self.shares)
        return self.kept.get(task_id) if seen else None

    async def parts(self, task_id: UUID, scope: str) -> list[Part]:
        return [p for (t, s), p in sorted(self.shares.items()) if t == task_id and in_scope(s, scope)]

    async def own_part(self, task_id: UUID, station_id: str) -> Part | None:
        return self.shares.get((task_id, station_id))

    async def add_report(self, report: Report, role: str) -> None:
        part = self.shares[(report.task_id, report.station_id)]
        self.shares[(report.task_id, report.station_id)] = replace(part, reports=(*part.reports, report))

    async def complete_part(self, task_id: UUID, station_id: str, at: datetime, by: str) -> None:
        self.shares[(task_id, station_id)] = replace(
            self.shares[(task_id, station_id)], completed_at=at, completed_by=by
        )


def _assign(uow, principal=CITY, **fields):
    form = {
        "title": "2026年计量器具专项检查",
        "description": "请各站于截止日前完成重点企业计量器具台账核查。",
        "due_on": china_today(utcnow()) + timedelta(days=7),
        "attachments": [Attachment(name="通知", ref="沈市监发〔2026〕12号")],
        "station_ids": None,
    }
    return usecases.assign(uow, principal, **(form | fields))


def test_the_report_kinds_are_the_contracts_with_their_labels():
    assert domain.ReportKind is TaskReportKind
    assert {k.value for k in domain.ReportKind} == {"progress", "completion"}
    assert {TaskReportKind.progress: "进度填报", TaskReportKind.completion: "完成报告"} == domain.REPORT_LABELS


def test_the_events_say_what_a_consumer_that_saw_nothing_else_needs():
    issued = datetime(2026, 2, 13, 16, 30, tzinfo=UTC)  # Saturday 14 February 00:30 in China
    task = Task(
        task_id=uuid4(),
        issuer_scope="210100/210112",
        issued_by="sup-1",
        issued_by_name="浑南区市场监管局",
        title="质量提升专项",
        description="核查辖区企业质量管理制度",
        due_on=date(2026, 2, 17),  # in 春节: the deadline moves, the due date as set travels
        attachments=(Attachment(name="通知", ref="沈市监发〔2026〕12号"),),
        issued_at=issued,
    )
    assigned = domain.assigned(task, [STATION, "210100/210112/hunnan-xinsong"])
    assert isinstance(assigned, SpecialTaskAssigned) and assigned.causation_id is None
    assert (assigned.task_id, assigned.correlation_id, assigned.occurred_at) == (task.task_id, task.task_id, issued)
    assert (assigned.issuer_scope, assigned.issued_by, assigned.title) == (
        "210100/210112",
        "浑南区市场监管局",
        "质量提升专项",
    )
    assert (assigned.due_on, assigned.issued_at) == (date(2026, 2, 17), issued)
    assert assigned.stations == [STATION, "210100/210112/hunnan-xinsong"]
    assert assigned.routing_key == "special_task.assigned" and assigned.lock_key == f"special_task:{task.task_id}"
    assert SpecialTaskAssigned.from_json(assigned.model_dump_json()) == assigned

    report = Report(
        report_id=uuid4(),
        task_id=task.task_id,
        station_id=STATION,
        kind=domain.ReportKind.completion,
        text="全部完成",
        attachments=(),
        reported_by="head-1",
        reported_by_name="周站长",
        reported_at=issued + timedelta(days=3),
    )
    reported = domain.reported(task, report)
    assert isinstance(reported, SpecialTaskReported) and reported.causation_id is None
    assert (reported.correlation_id, reported.task_id, reported.report_id) == (
        task.task_id,
        task.task_id,
        report.report_id,
    )
    assert (reported.station_id, reported.title, reported.due_on) == (STATION, "质量提升专项", date(2026, 2, 17))
    assert (reported.kind, reported.text, reported.reported_by) == (TaskReportKind.completion, "全部完成", "周站长")
    assert reported.reported_at == reported.occurred_at == report.reported_at
    assert SpecialTaskReported.from_json(reported.model_dump_json()) == reported


async def test_assigning_announces_the_task_once_with_every_station_even_on_a_retry(frozen_clock):
    """Due today in China, at each awkward instant: the event carries that China date."""
    uow = FakeUnitOfWork(TaskStore())
    today = CHINA_DATES[frozen_clock]
    task, parts, _clock = await _assign(uow, due_on=today, idempotency_key="jl-2026")
    [event] = uow.events(SpecialTaskAssigned)
    assert event.task_id == task.task_id and event.due_on == today and event.issued_at == frozen_clock
    assert event.stations == SUBTREE == [p.station_id for p in parts]
    assert (event.issued_by, event.issuer_scope) == ("沈阳市市场监督管理局", "210100")

    again, _, _ = await _assign(uow, due_on=today, idempotency_key="jl-2026")
    assert again == task and uow.published == [event]
    with pytest.raises(IdempotencyConflict):
        await _assign(uow, due_on=today, title="另一项任务", idempotency_key="jl-2026")
    assert uow.published == [event]


async def test_a_task_named_to_some_stations_announces_those_only():
    uow = FakeUnitOfWork(TaskStore())
    await _assign(uow, station_ids=[STATION])
    [event] = uow.events(SpecialTaskAssigned)
    assert event.stations == [STATION]


async def test_a_refused_assignment_announces_nothing():
    uow = FakeUnitOfWork(TaskStore())
    with pytest.raises(Invalid):
        await _assign(uow, station_ids=["440100/440113/panyu-01"])
    with pytest.raises(Invalid):
        await _assign(uow, due_on=china_today(utcnow()) - timedelta(days=1))
    assert uow.published == [] and uow.store.kept == {}


async def test_each_report_is_announced_once_and_none_after_completion():
    uow = FakeUnitOfWork(TaskStore())
    task, _, _ = await _assign(uow)
    progress = {"kind": domain.ReportKind.progress, "text": "已核查 12 家企业", "attachments": []}
    _, part, _ = await usecases.report(uow, HUNNAN_CLERK, task.task_id, **progress, idempotency_key="r-1")
    await usecases.report(uow, HUNNAN_CLERK, task.task_id, **progress, idempotency_key="r-1")  # a retry
    [first] = uow.events(SpecialTaskReported)
    assert (first.task_id, first.station_id, first.kind) == (task.task_id, STATION, TaskReportKind.progress)
    assert (first.report_id, first.reported_by) == (part.reports[0].report_id, "张晓燕")
    assert (first.title, first.due_on, first.correlation_id) == (task.title, task.due_on, task.task_id)
    assert len(part.reports) == 1

    _, done, _ = await usecases.report(
        uow, HUNNAN_HEAD, task.task_id, kind=domain.ReportKind.completion, text="全部完成", attachments=[]
    )
    assert done.done and [r.kind for r in done.reports] == ["progress", "completion"]
    with pytest.raises(InvalidTransition):
        await usecases.report(uow, HUNNAN_CLERK, task.task_id, **progress)
    reports = uow.events(SpecialTaskReported)
    assert [(e.kind, e.reported_by) for e in reports] == [("progress", "张晓燕"), ("completion", "周站长")]
    assert reports[1].report_id == done.reports[1].report_id


async def test_a_station_the_task_did_not_go_to_reports_nothing():
    uow = FakeUnitOfWork(TaskStore())
    task, _, _ = await _assign(uow, station_ids=[TIEXI])
    with pytest.raises(NotFound):
        await usecases.report(
            uow, HUNNAN_CLERK, task.task_id, kind=domain.ReportKind.progress, text="越权", attachments=[]
        )
    assert uow.events(SpecialTaskReported) == []
