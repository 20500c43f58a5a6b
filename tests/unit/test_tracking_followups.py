"""Follow-ups (跟进记录), appointments and the printed tracking sheet: the rules, the use cases on a fake unit of
work, and the sheet's one template as HTML and PDF."""

import io
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from functools import cache

import pytest
from pypdf import PdfReader

from services.tracking import domain as case_domain
from services.tracking.domain import Case, TimelineEntry
from services.tracking.followups import domain, sheet, usecases
from services.tracking.followups.domain import FollowUp, UpcomingAppointment
from shared.auth import Principal, Role, in_scope
from shared.calendar import china_today
from shared.contracts import Appointment, FollowUpKind, FollowUpRecorded, utcnow
from shared.errors import Invalid, InvalidTransition, NotFound
from shared.idempotency import IdempotencyConflict
from tests.support.fake_uow import FakeUnitOfWork
from tests.unit import factories as f

TODAY = date(2026, 11, 18)
NOW = datetime(2026, 11, 18, 1, 30, tzinfo=UTC)  # 09:30 in China
HEAD = Principal(subject="head-1", name="周站长", role=Role.head, station=f.STATION)
OTHER_CLERK = Principal(subject="clerk-9", name="何家豪", role=Role.clerk, station="440100/440113/panyu-01")
ORG = Principal(subject="org-user", name="李工", role=Role.org, org="assignee-1")
OTHER_ORG = Principal(subject="org-user-2", name="王工", role=Role.org, org="assignee-9")


def case_of(*events) -> Case:
    case = None
    for event in events:
        case = case_domain.apply(case, event)
    return case


def assigned_case() -> Case:
    submitted = f.submitted()
    return case_of(submitted, f.assigned(submitted))


def meeting(on: date = TODAY, **overrides) -> Appointment:
    return Appointment(
        **{"on": on, "at": time(9, 30), "place": "企业二号车间", "attendees": "张晓燕、李工"} | overrides
    )


def record(case: Case, kind: FollowUpKind = FollowUpKind.contact, appointment: Appointment | None = None, **kw):
    fields = dict(
        kind=kind,
        text="电话联系企业，确认送检时间",
        appointment=appointment,
        recorded_by="周站长",
        recorded_by_org=None,
        now=NOW,
        today=TODAY,
    )
    return domain.record(case, **(fields | kw))


# --- the rules ----------------------------------------------------------------------------------------------


def test_an_appointment_needs_its_date_place_and_people():
    with pytest.raises(Invalid) as missing:
        record(assigned_case(), FollowUpKind.appointment)
    assert missing.value.field == "appointment" and "预约" in missing.value.zh
    with pytest.raises(Invalid) as stray:
        record(assigned_case(), FollowUpKind.contact, meeting())
    assert stray.value.field == "appointment"


def test_an_appointment_is_not_in_the_past_of_china_today():
    with pytest.raises(Invalid) as past:
        record(assigned_case(), FollowUpKind.appointment, meeting(TODAY - timedelta(days=1)))
    assert past.value.field == "appointment.on" and "已过" in past.value.zh
    assert record(assigned_case(), FollowUpKind.appointment, meeting(TODAY)).appointment.on == TODAY
    with pytest.raises(Invalid) as far:
        record(assigned_case(), FollowUpKind.appointment, meeting(TODAY + timedelta(days=400)))
    assert far.value.field == "appointment.on"
    with pytest.raises(Invalid) as zoned:
        record(assigned_case(), FollowUpKind.appointment, meeting(at=time(9, 30, tzinfo=UTC)))
    assert zoned.value.field == "appointment.at"


@pytest.mark.parametrize("kind", list(FollowUpKind))
def test_any_kind_while_the_case_is_handled(kind):
    submitted = f.submitted()
    waiting = case_of(submitted)
    appointment = meeting() if kind is FollowUpKind.appointment else None
    for case in (waiting, case_of(submitted, f.assigned(submitted))):
        assert record(case, kind, appointment).kind is kind


def test_after_resolution_only_an_explanation():
    submitted = f.submitted()
    resolved = case_of(submitted, f.assigned(submitted), f.resolved(submitted))
    assert record(resolved, FollowUpKind.explanation).kind is FollowUpKind.explanation
    with pytest.raises(InvalidTransition) as refused:
        record(resolved, FollowUpKind.contact)
    assert "解释说明" in refused.value.zh and refused.value.status == 409
    rated = case_of(submitted, f.assigned(submitted), f.resolved(submitted), f.rated(submitted))
    assert record(rated, FollowUpKind.explanation).kind is FollowUpKind.explanation


def test_nothing_once_the_case_ended_or_is_archived():
    submitted = f.submitted()
    ended = [case_of(submitted, e) for e in f.dispositions(submitted) if e.__class__.__name__ != "DemandCorrected"]
    archived = case_of(*f.lifecycle(submitted.demand_id))
    for case in [c for c in ended if c.closed_as] + [archived]:
        with pytest.raises(InvalidTransition):
            record(case, FollowUpKind.explanation)


def test_the_event_belongs_to_the_demand_and_names_the_assignment_it_follows():
    case = assigned_case()
    event = record(case, FollowUpKind.appointment, meeting(), recorded_by="李工", recorded_by_org="assignee-1")
    assert isinstance(event, FollowUpRecorded)
    assert (event.correlation_id, event.causation_id) == (case.correlation_id, case.assigned_event_id)
    assert (event.demand_id, event.station_id, event.tracking_no) == (case.demand_id, case.station_id, case.tracking_no)
    assert event.recorded_at == event.occurred_at == NOW and event.recorded_by_org == "assignee-1"
    text = case_domain.timeline_text(event)
    assert text == "李工 预约：电话联系企业，确认送检时间（2026-11-18 09:30，企业二号车间，张晓燕、李工）"


def test_before_dispatch_a_follow_up_has_no_causing_event():
    event = record(case_of(f.submitted()))
    assert event.causation_id is None


def test_the_appointments_window_defaults_to_two_weeks_from_today():
    assert domain.window(None, None, TODAY) == (TODAY, TODAY + timedelta(days=14))
    assert domain.window(date(2026, 12, 1), None, TODAY) == (date(2026, 12, 1), date(2026, 12, 15))
    with pytest.raises(Invalid) as backwards:
        domain.window(date(2026, 12, 1), date(2026, 11, 30), TODAY)
    assert backwards.value.field == "to"
    with pytest.raises(Invalid):
        domain.window(date(2026, 1, 1), date(2027, 6, 1), TODAY)


# --- use cases on a fake unit of work -----------------------------------------------------------------------


class FakeStore:
    def __init__(self, *cases: Case) -> None:
        self.cases = {c.demand_id: c for c in cases}
        self.rows: list[tuple[FollowUp, str]] = []
        self.entries: list[TimelineEntry] = []
        self.stations = {f.STATION: "浑南区一站式质量服务站"}

    async def get_visible(self, demand_id, scope, org, *, for_update=False):
        case = self.cases.get(demand_id)
        if case is None:
            return None
        mine = bool(org) and case.assignee_kind == "organization" and case.assignee_id == org
        return case if (scope and in_scope(case.station_id, scope)) or mine else None

    async def add_follow_up(self, event, recorded_by_id):
        self.rows.append((FollowUp.of(event), recorded_by_id))

    async def add_entry(self, event, text):
        self.entries.append(TimelineEntry(kind=event.routing_key, occurred_at=event.occurred_at, text=text))

    async def follow_up(self, follow_up_id):
        return next((r for r, _ in self.rows if r.follow_up_id == follow_up_id), None)

    async def follow_ups(self, demand_id):
        return [r for r, _ in self.rows if r.demand_id == demand_id]

    async def appointments(self, start, end, scope, org, station_id, limit, offset):
        found = []
        for r, _ in self.rows:
            case = await self.get_visible(r.demand_id, scope, org)
            if case and r.appointment and start <= r.appointment.on <= end:
                found.append(
                    UpcomingAppointment(
                        r.follow_up_id,
                        r.demand_id,
                        r.station_id,
                        case.tracking_no,
                        case.enterprise_name,
                        r.appointment.on,
                        r.appointment.at,
                        r.appointment.place,
                        r.appointment.attendees,
                        r.text,
                        r.recorded_by,
                        r.recorded_by_org,
                        r.recorded_at,
                    )  # fmt: skip
                )
        return found[offset : offset + limit]

    async def timeline(self, demand_id):
        return list(self.entries)

    async def station_name(self, station_id):
        return self.stations.get(station_id)


@pytest.fixture
def case():
    return assigned_case()


@pytest.fixture
def uow(case):
    return FakeUnitOfWork(FakeStore(case))


def today() -> date:
    return china_today(utcnow())


async def test_staff_record_a_follow_up_kept_on_the_timeline_and_published(uow, case):
    kept = await usecases.record(
        uow, HEAD, case.demand_id, kind=FollowUpKind.problem, text="送检样品规格不符", appointment=None
    )
    [event] = uow.events(FollowUpRecorded)
    assert event.follow_up_id == kept.follow_up_id and event.recorded_by == "周站长" and event.recorded_by_org is None
    assert uow.store.rows == [(kept, "head-1")]
    assert [e.text for e in uow.store.entries] == ["周站长 发现问题：送检样品规格不符"]


async def test_the_assigned_organization_records_an_appointment(uow, case):
    on = today() + timedelta(days=2)
    kept = await usecases.record(
        uow, ORG, case.demand_id, kind=FollowUpKind.appointment, text="现场检定", appointment=meeting(on)
    )
    assert kept.recorded_by_org == "assignee-1" and kept.appointment.on == on
    [row] = await usecases.appointments(uow, ORG, None, None, None, 100, 0)
    assert (row.demand_id, row.on, row.place) == (case.demand_id, on, "企业二号车间")
    assert await usecases.appointments(uow, OTHER_ORG, None, None, None, 100, 0) == []
    assert [r.follow_up_id for r in await usecases.appointments(uow, HEAD, None, None, None, 100, 0)] == [
        kept.follow_up_id
    ]


async def test_another_station_and_another_organization_see_nothing_and_change_nothing(uow, case):
    for who in (OTHER_CLERK, OTHER_ORG):
        with pytest.raises(NotFound):
            await usecases.record(uow, who, case.demand_id, kind=FollowUpKind.contact, text="联系", appointment=None)
        with pytest.raises(NotFound):
            await usecases.follow_ups(uow, who, case.demand_id)
        with pytest.raises(NotFound):
            await usecases.sheet(uow, who, case.demand_id)
    with pytest.raises(NotFound):
        await usecases.appointments(uow, OTHER_CLERK, f.STATION, None, None, 100, 0)
    assert uow.published == [] and uow.store.rows == []


async def test_a_retry_with_the_same_key_records_once(uow, case):
    args = dict(kind=FollowUpKind.contact, text="电话联系企业", appointment=None, idempotency_key="follow-up-0001")
    first = await usecases.record(uow, HEAD, case.demand_id, **args)
    again = await usecases.record(uow, HEAD, case.demand_id, **args)
    assert again == first and len(uow.published) == 1 and len(uow.store.rows) == 1
    with pytest.raises(IdempotencyConflict):
        await usecases.record(uow, HEAD, case.demand_id, **(args | {"text": "另一件事"}))


async def test_a_refused_follow_up_publishes_nothing(uow, case):
    with pytest.raises(Invalid):
        await usecases.record(uow, HEAD, case.demand_id, kind=FollowUpKind.appointment, text="见面", appointment=None)
    assert uow.published == [] and uow.store.rows == [] and uow.store.entries == []


# --- the printed sheet --------------------------------------------------------------------------------------


def printed(case: Case | None = None, entries=None, **kw) -> sheet.TrackingSheet:
    case = case or assigned_case()
    if entries is None:
        entries = [
            TimelineEntry("demand.submitted", f.T0, "张晓燕 受理需求（窗口）"),
            TimelineEntry("demand.followed_up", f.at(8, 15), "周站长 联系企业：约定下周二现场检定"),
        ]
    fields = dict(case=case, entries=entries, station_name="浑南区一站式质量服务站", printed_at=NOW, today=TODAY)
    return sheet.TrackingSheet(**(fields | kw))


COLUMNS = ("企业需求", "牵头科室", "责任人", "开始时间", "结束时间", "处理过程及结果")


def test_the_sheet_has_the_seed_layout_and_the_case_facts():
    page = sheet.render_html(printed())
    for text in ("需求处理跟踪单", "服务对象", "跟踪单号", "序号", "备注", *COLUMNS):
        assert text in page, text
    assert "hunnan-01-2026-000001" in page  # printed with the station's code
    assert "浑南区一站式质量服务站" in page and "沈阳精密仪器有限公司" in page
    assert "市计量测试院（服务机构）" in page and "2026-10-10" in page  # the lead and the committed date
    # China times: 01:00 UTC is 09:00 in Shanghai; 08:15 UTC is 16:15.
    assert "2026-09-30 09:00" in page and "2026-09-30 16:15" in page
    assert page.index("受理需求") < page.index("约定下周二现场检定") < page.index("处理结果")


def test_the_sheet_escapes_what_people_typed():
    hostile = '<script>alert("x")</script>&'
    case = replace(assigned_case(), enterprise_name=hostile, description=hostile)
    page = sheet.render_html(printed(case, [TimelineEntry("demand.followed_up", f.T0, hostile)]))
    assert "<script>" not in page
    assert page.count("&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&amp;") == 4  # name ×2, need, the line


def test_the_result_ends_the_process():
    submitted = f.submitted()
    resolved = case_of(submitted, f.assigned(submitted), f.resolved(submitted))
    assert sheet.result(resolved).startswith("需求已满足")
    assert "尚未办结" in sheet.result(assigned_case())
    refused = case_of(submitted, *[e for e in f.dispositions(submitted) if e.routing_key == "demand.refused"])
    assert sheet.result(refused).startswith("否定备案")


def test_the_lead_before_dispatch_is_the_first_responder():
    assert sheet.lead(case_of(f.submitted())) == ("—", "张晓燕（首问负责）")


@cache
def sample_pdf() -> bytes:
    return sheet.render_pdf(printed())


def test_the_pdf_reads_back_in_chinese():
    text = "".join("\n".join(p.extract_text() for p in PdfReader(io.BytesIO(sample_pdf())).pages).split())
    for words in ("需求处理跟踪单", "服务对象", *COLUMNS, "约定下周二现场检定", "沈阳精密仪器有限公司"):
        assert words in text, words
    assert "hunnan-01-2026-000001" in text


def test_a_long_process_continues_on_the_next_page():
    entries = [TimelineEntry("demand.followed_up", f.T0, f"第{i}次联系企业，核对送检清单") for i in range(120)]
    pdf = sheet.render_pdf(printed(entries=entries))
    pages = PdfReader(io.BytesIO(pdf)).pages
    text = "".join("".join(p.extract_text() for p in pages).split())
    assert len(pages) > 1 and "第119次联系企业" in text and "处理结果" in text
    assert all("处理过程及结果" in "".join(p.extract_text().split()) for p in pages)  # the header repeats


def test_a_station_not_yet_known_prints_its_code():
    assert sheet.view(printed(station_name=None))["station_name"] == "hunnan-01"


def test_the_remark_late_follows_the_clock_a_paused_or_extended_case_is_not_late():
    def remarks(case: Case) -> list[str]:
        return sheet.view(printed(case))["row"]["remarks"]

    late = assigned_case()
    assert late.due_on < TODAY and "已超期" in remarks(late)  # committed 2026-10-10, printed 2026-11-18
    paused = replace(late, paused_since=datetime(2026, 10, 9, 2, tzinfo=UTC))
    assert "已超期" not in remarks(paused) and "挂起中（自 2026-10-09 10:00）" in remarks(paused)
    extended = replace(late, handling_due_on=TODAY + timedelta(days=14))  # an approved extension moved it
    assert "已超期" not in remarks(extended)
    assert sheet.view(printed(extended))["deadlines"][1] == ("办结期限（现行）", extended.handling_due_on.isoformat())
    moved_but_passed = replace(late, handling_due_on=TODAY - timedelta(days=1))
    assert "已超期" in remarks(moved_but_passed)
    assert "已超期" not in remarks(replace(late, resolved_at=NOW))  # a resolved case is never late
