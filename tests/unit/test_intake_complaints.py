"""Complaints (投诉) in intake without PostgreSQL: the stages in order, their working-day limits across holidays and
corrections under frozen clocks, the numbering per station and China year, who may do what, and the events."""

import hashlib
from datetime import UTC, date, datetime, timedelta
from uuid import UUID, uuid4

import pytest
import time_machine

from services.intake.complaints import domain, usecases
from services.intake.complaints.domain import Complaint, StageLimits, Subject, SubjectCorrection
from services.intake.complaints.schemas import ComplaintOut, PublicComplaintOut, StageIn
from services.intake.demands.domain import Demand, Handling
from services.intake.demands.usecases import StatusLinks
from services.intake.settings import Settings
from services.intake.stations.domain import Station
from shared.auth import Principal, Role, in_scope
from shared.calendar import CHINA
from shared.contracts import Channel, ComplaintChannel, ComplaintStage, ComplaintSubject, ComplaintUpdated
from shared.errors import Forbidden, Invalid, InvalidTransition, NotFound
from tests.support.clock import CHINA_DATES
from tests.support.fake_uow import FakeUnitOfWork

S = ComplaintStage
HUNNAN = "210100/210112/hunnan-01"
TIEXI = "210100/210106/tiexi-01"
CLERK = Principal(subject="clerk-1", name="张晓燕", role=Role.clerk, station=HUNNAN)
OTHER_CLERK = Principal(subject="clerk-9", name="刘窗口", role=Role.clerk, station=HUNNAN)
HEAD = Principal(subject="head-1", name="周站长", role=Role.head, station=HUNNAN)
TIEXI_HEAD = Principal(subject="head-2", name="铁西站长", role=Role.head, station=TIEXI)
SUPERVISOR = Principal(subject="sup-1", name="沈阳市市场监管局", role=Role.supervisor, station="210100")
ORG = Principal(subject="org-user", name="市计量测试院", role=Role.org, org="org-01")
OTHER_ORG = Principal(subject="org-user-2", name="另一检测机构", role=Role.org, org="org-02")
LIMITS = StageLimits(acknowledged=1, investigated=5, resolved=5, answered=2, closed=5)
LINKS = StatusLinks(secret="test-secret", base_url="https://intake.example", days=30)
# Friday 13 February 2026, 10:00 in China: Saturday 14 is a make-up working day, 15–23 the Spring Festival.
BEFORE_SPRING_FESTIVAL = datetime(2026, 2, 13, 10, 0, tzinfo=CHINA)


def test_the_default_limits_are_the_settings_and_every_stage_has_one():
    limits = usecases.limits_of(Settings())
    assert [limits.days(s) for s in domain.MOVES] == [1, 5, 5, 2, 5]
    with pytest.raises(ValueError):
        StageLimits(acknowledged=0, investigated=5, resolved=5, answered=2, closed=5)


# --------------------------------------------------------------------------- the domain


def _received(at: datetime = BEFORE_SPRING_FESTIVAL, subject: Subject | None = None, **kw) -> Complaint:
    return domain.receive(
        complaint_id=uuid4(),
        station_id=HUNNAN,
        station_name="沈阳市浑南区一站式质量服务站",
        year_serial=(at.astimezone(CHINA).year, 12),
        channel=ComplaintChannel.phone,
        subject=subject or Subject(ComplaintSubject.organization, "org-01", "市计量测试院"),
        complainant_name="王建国",
        complainant_contact="13804001234",
        content="报告出具超期两周",
        by="张晓燕",
        by_id="clerk-1",
        at=at,
        event_id=uuid4(),
        correlation_id=uuid4(),
        limits=LIMITS,
        workday_overrides=kw.pop("overrides", {}),
        **kw,
    )


def _move(c: Complaint, stage: ComplaintStage, at: datetime, overrides=None, **kw) -> Complaint:
    return domain.advance(
        c,
        stage,
        note=kw.pop("note", f"{stage.label}：已办"),
        by="周站长",
        by_id="head-1",
        at=at,
        event_id=uuid4(),
        limits=LIMITS,
        workday_overrides=overrides or {},
        founded=kw.pop("founded", True if stage is S.resolved else None),
        **kw,
    )


def test_a_complaint_is_numbered_per_station_and_year_and_its_acknowledgement_is_due_the_next_working_day():
    c = _received()
    assert c.complaint_no == "T2026-000012" and domain.complaint_no(2027, 1) == "T2027-000001"
    assert (c.stage, c.next_stage) == (S.received, S.acknowledged)
    assert c.due_on == date(2026, 2, 14)  # the make-up Saturday is a working day
    saturday = _received(datetime(2026, 2, 14, 17, 0, tzinfo=CHINA))
    assert saturday.due_on == date(2026, 2, 24)  # over the whole Spring Festival


def test_limits_count_working_days_from_the_stage_before_across_holidays_and_corrections():
    c = _received()
    acknowledged = _move(c, S.acknowledged, datetime(2026, 2, 13, 16, 0, tzinfo=CHINA))
    # investigation: 5 working days after Friday 13 → 14 (make-up), 24, 25, 26, 27
    assert acknowledged.due_on == date(2026, 2, 27)
    # a correction known when the stage is recorded counts: 25 February declared a holiday
    corrected = _move(c, S.acknowledged, datetime(2026, 2, 13, 16, 0, tzinfo=CHINA), {date(2026, 2, 25): False})
    assert corrected.due_on == date(2026, 2, 28)  # 14, 24, 26, 27, then Saturday 28 (the second make-up day)
    # the stage reached keeps the limit it had, and whether it was met
    [received, ack] = acknowledged.stages
    assert (received.due_on, ack.due_on, ack.late) == (None, date(2026, 2, 14), False)
    late = _move(c, S.acknowledged, datetime(2026, 2, 24, 9, 0, tzinfo=CHINA))
    assert late.stages[-1].late and late.due_on == date(2026, 3, 2)  # 25, 26, 27, 28 (make-up), Monday 2 March


def test_stages_go_once_each_in_order_and_only_resolution_says_founded():
    c = _received()
    with pytest.raises(InvalidTransition) as skipped:
        _move(c, S.investigated, BEFORE_SPRING_FESTIVAL)
    assert "下一步只能是「确认」" in skipped.value.zh
    t = BEFORE_SPRING_FESTIVAL
    for stage in (S.acknowledged, S.investigated):
        c = _move(c, stage, t)
        with pytest.raises(InvalidTransition):
            _move(c, stage, t)  # each stage once
    with pytest.raises(Invalid) as missing:
        _move(c, S.resolved, t, founded=None)
    assert missing.value.field == "founded"
    c = _move(c, S.resolved, t, founded=False)
    with pytest.raises(Invalid) as extra:
        _move(c, S.answered, t, founded=True)
    assert extra.value.field == "founded"
    c = _move(c, S.answered, t, note="经调查，报告已按约定时间出具，投诉不属实")
    c = _move(c, S.closed, t)
    assert [s.stage for s in c.stages] == list(S)
    assert (c.founded, c.due_on, c.answer.note) == (False, None, "经调查，报告已按约定时间出具，投诉不属实")
    assert not c.overdue(date(2030, 1, 1))
    with pytest.raises(InvalidTransition) as closed:
        _move(c, S.closed, t)
    assert closed.value.code == "complaint_closed"


def test_overdue_is_the_next_stage_past_its_limit_by_china_date():
    c = _received()
    assert not c.overdue(date(2026, 2, 14)) and c.overdue(date(2026, 2, 15))


def test_what_a_complaint_is_about():
    with pytest.raises(Invalid) as staff:
        _received(subject=Subject(ComplaintSubject.staff))
    assert staff.value.field == "subject_name"
    with pytest.raises(Invalid):
        _received(subject=Subject(ComplaintSubject.organization))
    station = _received(subject=Subject(ComplaintSubject.station, "anything", "typed"))
    assert station.subject == Subject(ComplaintSubject.station, HUNNAN, "沈阳市浑南区一站式质量服务站")

    # an organization named online is identified by the head before it is resolved, and not after
    named = _received(subject=Subject(ComplaintSubject.organization, None, "市计量测试院"))
    t = BEFORE_SPRING_FESTIVAL
    c = _move(_move(named, S.acknowledged, t), S.investigated, t)
    with pytest.raises(Invalid) as unidentified:
        _move(c, S.resolved, t)
    assert unidentified.value.field == "subject_id"
    c = _move(c, S.resolved, t, correction=SubjectCorrection(id="org-01"))
    assert c.subject == Subject(ComplaintSubject.organization, "org-01", "市计量测试院")
    assert c.stages[0].subject.id is None and c.stages[-1].subject.id == "org-01"  # each stage keeps its own
    with pytest.raises(Invalid) as after:
        _move(c, S.answered, t, correction=SubjectCorrection(name="另一家"))
    assert after.value.field == "subject"
    # turned out to be about a staff member: a new kind keeps nothing of the old subject
    moved = _move(named, S.acknowledged, t, correction=SubjectCorrection(ComplaintSubject.staff, name="李工"))
    assert moved.subject == Subject(ComplaintSubject.staff, None, "李工")


def test_every_stage_makes_one_whole_event_caused_by_the_stage_before():
    demand_id = uuid4()
    c = _received(demand_id=demand_id, tracking_no="2026-000137")
    first = domain.updated_event(c)
    assert (first.stage, first.note, first.causation_id, first.founded) == (S.received, c.content, None, None)
    assert (first.demand_id, first.tracking_no, first.due_on) == (demand_id, "2026-000137", date(2026, 2, 14))
    assert first.lock_key == f"complaint:{c.complaint_id}" and first.event_id == c.stages[0].event_id
    assert "王建国" not in first.model_dump_json() and "13804001234" not in first.model_dump_json()
    c = _move(
        _move(_move(c, S.acknowledged, BEFORE_SPRING_FESTIVAL), S.investigated, BEFORE_SPRING_FESTIVAL),
        S.resolved,
        BEFORE_SPRING_FESTIVAL,
    )
    resolved = domain.updated_event(c)
    assert resolved.causation_id == c.stages[-2].event_id and resolved.correlation_id == first.correlation_id
    assert (resolved.stage, resolved.founded, resolved.stage_by, resolved.subject_id) == (
        S.resolved,
        True,
        "周站长",
        "org-01",
    )
    assert ComplaintUpdated.from_json(resolved.model_dump_json()) == resolved


def test_what_the_complainant_is_told():
    c = _received()
    assert domain.stage_label_for_complainant(c) == "已收到您的投诉，等待服务站确认受理"
    t = BEFORE_SPRING_FESTIVAL
    for stage in (S.acknowledged, S.investigated, S.resolved):
        c = _move(c, stage, t)
    assert domain.stage_label_for_complainant(c) == "已处理，即将答复您"
    c = _move(c, S.answered, t, note="已责成机构重新出具报告")
    assert domain.stage_label_for_complainant(c) == "已答复：经调查，投诉属实"
    assert domain.stage_label_for_complainant(_move(c, S.closed, t)) == "已答复：经调查，投诉属实，已结案"


def test_the_stage_body_names_a_correction_only_when_given():
    assert StageIn(stage="acknowledged", note="已电话告知").correction() is None
    assert StageIn(stage="resolved", note="x", founded=True, subject_id="org-01").correction() == SubjectCorrection(
        None, "org-01", None
    )
    with pytest.raises(ValueError):
        StageIn(stage="received", note="x")


# --------------------------------------------------------------------------- the use cases on a fake store


class FakeStore:
    def __init__(self) -> None:
        self.stations = {
            HUNNAN: Station(HUNNAN, "沈阳市浑南区一站式质量服务站", "", 2, None, True, "024-12345678"),
            TIEXI: Station(TIEXI, "沈阳市铁西区一站式质量服务站", "", 2, None, True),
        }
        self.serials: dict[tuple[str, int], int] = {}
        self.rows: dict[UUID, Complaint] = {}
        self.recorders: dict[UUID, str] = {}
        self.demands: dict[UUID, Demand] = {}
        self.links: dict[str, tuple[UUID, datetime]] = {}
        self.overrides: dict[date, bool] = {}

    async def station(self, station_id):
        return self.stations.get(station_id)

    async def workday_overrides(self):
        return dict(self.overrides)

    async def status_link(self, digest):
        found = self.links.get(digest)
        return {"demand_id": found[0], "expires_at": found[1]} if found else None

    async def get(self, demand_id, *, for_update=False):
        return self.demands.get(demand_id)

    async def clock(self, demand_id):
        return (), ()

    async def next_complaint_serial(self, station_id, year):
        self.serials[(station_id, year)] = self.serials.get((station_id, year), 0) + 1
        return self.serials[(station_id, year)]

    async def station_demand(self, station_id, demand_id, tracking_no):
        for d in self.demands.values():
            if d.station_id == station_id and demand_id in (None, d.demand_id) and tracking_no in (None, d.tracking_no):
                return {
                    "demand_id": d.demand_id,
                    "tracking_no": d.tracking_no,
                    "correlation_id": d.correlation_id,
                    "enterprise_name": d.enterprise_name,
                }
        return None

    async def add_complaint(self, c):
        self.rows[c.complaint_id] = c
        self.recorders[c.complaint_id] = c.received.by_id

    async def save_complaint_stage(self, c):
        self.rows[c.complaint_id] = c

    def _visible(self, c, scope, recorder, org):
        staff = bool(scope) and (scope == "*" or in_scope(c.station_id, scope))
        return (staff and recorder in (None, self.recorders[c.complaint_id])) or bool(
            org and c.shown_to_organization(org)
        )

    async def complaint(self, complaint_id, *, scope, recorder, org, for_update=False):
        c = self.rows.get(complaint_id)
        return c if c and self._visible(c, scope, recorder, org) else None

    async def complaints(self, *, scope, recorder, org, stage, subject, overdue, today, limit, offset):
        found = [
            c
            for c in self.rows.values()
            if self._visible(c, scope, recorder, org)
            and stage in (None, c.stage.value)
            and subject in (None, c.subject.kind.value)
            and overdue in (None, c.overdue(today))
        ]
        return sorted(found, key=lambda c: c.complaint_no, reverse=True)[offset : offset + limit]

    async def online_complaints(self, demand_id):
        return [c for c in self.rows.values() if c.demand_id == demand_id and c.channel is ComplaintChannel.online]

    def demand(self, station_id=HUNNAN, tracking_no="2026-000137", **handling) -> tuple[Demand, str]:
        d = Demand(
            demand_id=uuid4(),
            station_id=station_id,
            tracking_no=tracking_no,
            enterprise_name="沈阳精密仪器有限公司",
            credit_code="91210112MA0U000010",
            contact_name="王建国",
            contact_phone="+8613804001234",
            categories=(),
            description="压力表检定",
            channel=Channel.window,
            first_responder="张晓燕",
            time_limit_days=10,
            submitted_at=datetime.now(UTC),
            correlation_id=uuid4(),
            handling=Handling(**handling),
        )
        self.demands[d.demand_id] = d
        token = LINKS.token(d.demand_id)
        self.links[hashlib.sha256(token.encode()).hexdigest()] = (d.demand_id, datetime.now(UTC) + timedelta(days=30))
        return d, token


def _form(**kw) -> usecases.ComplaintForm:
    fields = dict(
        channel=ComplaintChannel.phone,
        subject=ComplaintSubject.organization,
        subject_id="org-01",
        subject_name="市计量测试院",
        complainant_name="王建国",
        complainant_contact="13804001234",
        content="报告出具超期两周",
    )
    return usecases.ComplaintForm(**(fields | kw))


@pytest.fixture
def store():
    return FakeStore()


@pytest.fixture
def uow(store):
    return FakeUnitOfWork(store)


async def test_numbers_are_gapless_per_station_and_china_year(frozen_clock, uow, store):
    year = CHINA_DATES[frozen_clock].year  # 00:30 on 1 January 2027 in China numbers in 2027, though UTC is 2026
    first = await usecases.record_complaint(uow, CLERK, _form(), LIMITS)
    second = await usecases.record_complaint(uow, HEAD, _form(), LIMITS)
    tiexi = await usecases.record_complaint(uow, TIEXI_HEAD, _form(), LIMITS)
    assert [first.complaint_no, second.complaint_no] == [f"T{year}-000001", f"T{year}-000002"]
    assert tiexi.complaint_no == f"T{year}-000001" and tiexi.station_id == TIEXI
    assert first.received.at == frozen_clock
    assert [e.complaint_no for e in uow.events(ComplaintUpdated)] == [
        f"T{year}-000001",
        f"T{year}-000002",
        f"T{year}-000001",
    ]


async def test_staff_record_a_complaint_for_their_own_station_about_one_of_its_demands(uow, store):
    demand, _ = store.demand()
    by_number = await usecases.record_complaint(uow, CLERK, _form(tracking_no="2026-000137"), LIMITS)
    assert (by_number.demand_id, by_number.tracking_no) == (demand.demand_id, "2026-000137")
    assert by_number.enterprise_name == "沈阳精密仪器有限公司"
    [event] = uow.events(ComplaintUpdated)
    assert event.correlation_id == demand.correlation_id and event.stage_by == "张晓燕"
    tiexi_demand, _ = store.demand(TIEXI, "2026-000001")
    for wrong in (dict(demand_id=tiexi_demand.demand_id), dict(tracking_no="2026-000001"),
                  dict(demand_id=demand.demand_id, tracking_no="2026-000001")):  # fmt: skip
        with pytest.raises(Invalid):
            await usecases.record_complaint(uow, CLERK, _form(**wrong), LIMITS)
    with pytest.raises(Invalid) as online:
        await usecases.record_complaint(uow, CLERK, _form(channel=ComplaintChannel.online), LIMITS)
    assert online.value.field == "channel"
    for outsider in (SUPERVISOR, ORG):
        with pytest.raises(Forbidden):
            await usecases.record_complaint(uow, outsider, _form(), LIMITS)
    assert len(uow.events(ComplaintUpdated)) == 1  # nothing published by the refusals
    assert store.serials[(HUNNAN, by_number.received.at.astimezone(CHINA).year)] == 1


async def test_a_retried_recording_returns_the_first_complaint(uow, store):
    first = await usecases.record_complaint(uow, CLERK, _form(), LIMITS, idempotency_key="retry-key-1")
    again = await usecases.record_complaint(uow, CLERK, _form(), LIMITS, idempotency_key="retry-key-1")
    assert again.complaint_id == first.complaint_id and len(store.rows) == 1


async def test_only_the_head_moves_a_complaint_of_its_scope_and_every_stage_is_published(uow, store):
    c = await usecases.record_complaint(uow, CLERK, _form(), LIMITS)
    for refused in (CLERK, SUPERVISOR, ORG):
        with pytest.raises(Forbidden):
            await usecases.move(uow, refused, c.complaint_id, S.acknowledged, "已告知", LIMITS)
    with pytest.raises(NotFound):
        await usecases.move(uow, TIEXI_HEAD, c.complaint_id, S.acknowledged, "已告知", LIMITS)
    for stage in domain.MOVES:
        c = await usecases.move(
            uow, HEAD, c.complaint_id, stage, f"{stage.label}", LIMITS, founded=True if stage is S.resolved else None
        )
    assert [e.stage for e in uow.events(ComplaintUpdated)] == list(S)
    assert [e.founded for e in uow.events(ComplaintUpdated)] == [None, None, None, True, True, True]
    assert store.rows[c.complaint_id].stage is S.closed


async def test_who_sees_which_complaint(uow, store):
    mine = await usecases.record_complaint(uow, CLERK, _form(), LIMITS)
    theirs = await usecases.record_complaint(uow, OTHER_CLERK, _form(subject=ComplaintSubject.station), LIMITS)
    tiexi = await usecases.record_complaint(uow, TIEXI_HEAD, _form(), LIMITS)

    async def listed(principal, **filters):
        args = dict(station_id=None, stage=None, subject=None, overdue=None, limit=100, offset=0) | filters
        return {c.complaint_no + c.station_id for c in await usecases.list_complaints(uow, principal, **args)}

    def key(c):
        return c.complaint_no + c.station_id

    assert await listed(CLERK) == {key(mine)}  # a clerk: what they recorded
    assert await listed(HEAD) == {key(mine), key(theirs)}
    assert await listed(SUPERVISOR) == {key(mine), key(theirs), key(tiexi)}
    assert await listed(SUPERVISOR, station_id=TIEXI) == {key(tiexi)}
    assert await listed(HEAD, subject=ComplaintSubject.station) == {key(theirs)}
    assert await listed(HEAD, overdue=True) == set() and await listed(HEAD, overdue=False) == {key(mine), key(theirs)}
    with pytest.raises(NotFound):
        await usecases.list_complaints(
            uow, HEAD, station_id=TIEXI, stage=None, subject=None, overdue=None, limit=10, offset=0
        )
    for blind, c in ((CLERK, theirs), (TIEXI_HEAD, mine), (ORG, mine), (OTHER_ORG, mine)):
        with pytest.raises(NotFound):
            await usecases.get_complaint(uow, blind, c.complaint_id)
    assert await listed(ORG) == set()

    # the organization reads a complaint about itself once the complainant has been answered, and not its author
    for stage in domain.MOVES[:4]:
        await usecases.move(
            uow, HEAD, mine.complaint_id, stage, stage.label, LIMITS, founded=True if stage is S.resolved else None
        )
    seen = await usecases.get_complaint(uow, ORG, mine.complaint_id)
    assert seen.stage is S.answered and await listed(ORG) == {key(mine)}
    shown = ComplaintOut.of(seen, date.today(), for_organization=True)
    assert (shown.complainant_name, shown.complainant_contact, shown.enterprise_name) == (None, None, None)
    assert ComplaintOut.of(seen, date.today()).complainant_name == "王建国"
    with pytest.raises(NotFound):
        await usecases.get_complaint(uow, OTHER_ORG, mine.complaint_id)


async def test_overdue_complaints_are_listed_as_such_when_the_china_date_passes_the_limit(uow, store):
    with time_machine.travel(datetime(2026, 2, 13, 10, 0, tzinfo=CHINA), tick=False):
        c = await usecases.record_complaint(uow, CLERK, _form(), LIMITS)
    assert c.due_on == date(2026, 2, 14)
    args = dict(station_id=None, stage=None, subject=None, limit=10, offset=0)
    with time_machine.travel(datetime(2026, 2, 14, 23, 59, tzinfo=CHINA), tick=False):
        assert await usecases.list_complaints(uow, HEAD, overdue=True, **args) == []
    with time_machine.travel(datetime(2026, 2, 15, 0, 1, tzinfo=CHINA), tick=False):
        [late] = await usecases.list_complaints(uow, HEAD, overdue=True, **args)
        assert ComplaintOut.of(late, usecases.today()).overdue


async def test_the_enterprise_complains_through_its_link_and_follows_it_there(uow, store):
    demand, token = store.demand(assignee_kind="organization", assignee_name="市计量测试院", assignment_no=1)
    online = usecases.OnlineComplaint(subject=ComplaintSubject.organization, content="检定人员迟到三小时")
    c, station = await usecases.file_online(uow, token, online, LIMITS)
    assert (c.channel, c.demand_id, c.station_id) == (ComplaintChannel.online, demand.demand_id, HUNNAN)
    assert c.subject == Subject(ComplaintSubject.organization, None, "市计量测试院")  # as the enterprise was told
    assert (c.complainant_name, c.complainant_contact, c.received.by) == ("王建国", "+8613804001234", "网上投诉")
    with pytest.raises(NotFound):
        await usecases.file_online(uow, token[:-2] + "xx", online, LIMITS)
    # a clerk never sees it (they did not record it); the head does
    with pytest.raises(NotFound):
        await usecases.get_complaint(uow, CLERK, c.complaint_id)
    [shown] = [
        PublicComplaintOut.of(x, s) for x in (await usecases.online_complaints(uow, token))[0] for s in [station]
    ]
    assert (shown.answer, shown.founded, shown.progress_label) == (None, None, "已收到您的投诉，等待服务站确认受理")
    for stage in domain.MOVES[:4]:
        await usecases.move(
            uow,
            HEAD,
            c.complaint_id,
            stage,
            "已责成机构致歉并调整预约" if stage is S.answered else f"内部记录：{stage.label}",
            LIMITS,
            founded=True if stage is S.resolved else None,
            correction=SubjectCorrection(id="org-01") if stage is S.resolved else None,
        )
    [answered], station = await usecases.online_complaints(uow, token)
    shown = PublicComplaintOut.of(answered, station)
    assert (shown.answer, shown.founded, shown.station_phone) == ("已责成机构致歉并调整预约", True, "024-12345678")
    assert [s.stage for s in shown.stages] == list(S)[:5]
    assert "周站长" not in shown.model_dump_json() and "内部记录" not in shown.model_dump_json()
