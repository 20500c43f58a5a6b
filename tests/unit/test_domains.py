"""Each service's pure domain rules: transitions and refusals."""

import itertools
from dataclasses import replace
from datetime import UTC, date, datetime
from uuid import uuid4

import pytest

from services.archive import domain as archive
from services.dispatch import domain as dispatch
from services.evaluation import domain as evaluation
from services.intake.catalogue import domain as catalogue
from services.intake.demands import domain as intake
from services.tracking import domain as tracking
from shared.contracts import (
    Answers,
    Assigned,
    AssigneeKind,
    CategoryRef,
    Channel,
    DemandSubmitted,
    Event,
    Finding,
    GreenChannel,
    Handler,
    HandlingMode,
    Outcome,
    Overall,
    RatingSource,
    Resolved,
)
from shared.errors import Forbidden, Invalid, InvalidTransition
from tests.support import events as ev
from tests.support import rehandling_events as re_
from tests.unit import factories as f

NOW = datetime(2026, 9, 30, 2, 0, tzinfo=UTC)
TODAY = date(2026, 9, 30)


# --------------------------------------------------------------------------- intake

LABELS = {"metrology": "计量", "standardization": "标准化", "testing": "检验检测"}


def _catalogue_item(code, category, limit, materials=("营业执照复印件",), legal=None, version=1):
    return catalogue.CatalogueItem(
        item_code=code,
        version=version,
        category=category,
        label=code,
        description="",
        materials=tuple(materials),
        time_limit_days=limit,
        legal_limit_days=legal,
        handled_by="organization",
    )


ITEMS = {
    "metrology.calibration": _catalogue_item("metrology.calibration", "metrology", 10, ("器具清单", "营业执照复印件")),
    "standardization.standard_query": _catalogue_item("standardization.standard_query", "standardization", 3),
    "testing.product_testing": _catalogue_item("testing.product_testing", "testing", 15),
}
ENTRIES = {code: catalogue.resolve_entry(item, LABELS[item.category], [], f.STATION) for code, item in ITEMS.items()}


def _demand(codes=("metrology.calibration", "testing.product_testing"), serial=137, submitted_at=NOW, **extra):
    return intake.new_demand(
        demand_id=uuid4(),
        station_id=f.STATION,
        serial=serial,
        submitted_at=submitted_at,
        received_at=None,
        enterprise_name="沈阳精密仪器有限公司",
        credit_code="91210112MA0U00001J",
        credit_code_flag=None,
        contact_name="王建国",
        contact_phone="+8613804001234",
        items=intake.pick_items([(c, None, []) for c in codes], ENTRIES),
        category_labels=LABELS,
        description="压力表检定",
        channel=Channel.phone,
        first_responder="张晓燕",
        first_responder_id="clerk-zhang",
        green_channel=extra.pop("green_channel", None),
        green_channel_reason=extra.pop("green_channel_reason", None),
        details=extra.pop("details", {}),
        visit_id=None,
        possible_duplicate_of=None,
        correlation_id=uuid4(),
        workday_overrides=extra.pop("workday_overrides", {}),
    )


class TestIntake:
    def test_tracking_no(self):
        assert intake.tracking_no(2026, 137) == "2026-000137"
        assert intake.tracking_no(2026, 1) == "2026-000001"
        assert intake.tracking_no(2027, 999999) == "2027-999999"

    def test_the_numbering_year_is_chinas(self):
        # 17:00 UTC on New Year's Eve is already 1 January in China: the serial and the number agree on 2027.
        new_year = datetime(2026, 12, 31, 17, 0, tzinfo=UTC)
        assert intake.numbering_year(new_year) == 2027
        assert _demand(serial=1, submitted_at=new_year).tracking_no == "2027-000001"

    def test_unknown_catalogue_items_are_refused(self):
        with pytest.raises(Invalid) as info:
            intake.pick_items([("metrology.calibration", None, []), ("astrology.horoscope", None, [])], ENTRIES)
        assert info.value.field == "items" and "astrology.horoscope" in info.value.zh
        assert info.value.status == 422

    def test_an_item_named_twice_is_refused(self):
        with pytest.raises(Invalid, match="twice"):
            intake.pick_items([("metrology.calibration", None, [])] * 2, ENTRIES)

    def test_materials_still_needed_are_those_not_yet_received(self):
        [item] = intake.pick_items([("metrology.calibration", "36 台", ["器具清单"])], ENTRIES)
        assert item.materials_needed == ("营业执照复印件",) and item.remarks == "36 台"
        with pytest.raises(Invalid) as info:
            intake.pick_items([("metrology.calibration", None, ["户口本"])], ENTRIES)
        assert info.value.field == "items.0.materials_received"

    def test_new_demand_takes_the_longest_time_limit(self):
        assert _demand().time_limit_days == 15
        assert _demand(("standardization.standard_query",)).time_limit_days == 3
        assert [c.code for c in _demand().categories] == ["metrology", "testing"]

    def test_expected_completion_counts_working_days_across_national_day(self):
        # Accepted on 30 September 2026: 1–7 October are holidays, Saturday 10 October is a make-up workday.
        assert _demand(("standardization.standard_query",)).expected_on == date(2026, 10, 10)
        assert _demand(("metrology.calibration",)).expected_on == date(2026, 10, 20)
        # A station's calendar correction wins over the package.
        moved = _demand(("standardization.standard_query",), workday_overrides={date(2026, 10, 9): False})
        assert moved.expected_on == date(2026, 10, 12)

    def test_overrides_apply_most_specific_scope_and_latest_version(self):
        item = ITEMS["metrology.calibration"]
        overrides = [
            catalogue.Override("210100", item.item_code, 1, 8, None),
            catalogue.Override(f.STATION, item.item_code, 1, 6, ("器具清单",)),
            catalogue.Override(f.STATION, item.item_code, 2, 5, None),
            catalogue.Override("440100", item.item_code, 1, 2, None),
        ]
        entry = catalogue.resolve_entry(item, "计量", overrides, f.STATION)
        assert (entry.time_limit_days, entry.override.version, entry.materials) == (5, 2, item.materials)
        assert catalogue.resolve_entry(item, "计量", overrides, "210100/210106/tiexi-01").time_limit_days == 8
        assert catalogue.resolve_entry(item, "计量", overrides, "320100/320102/x-01").time_limit_days == 10

    def test_a_commitment_may_not_exceed_the_legal_limit(self):
        with pytest.raises(Invalid) as info:
            catalogue.new_item_version(
                None,
                item_code="x.y",
                category="metrology",
                label="x",
                description="",
                materials=(),
                time_limit_days=20,
                legal_limit_days=15,
                handled_by="station",
            )
        assert "法定时限" in info.value.zh
        edited = catalogue.new_item_version(ITEMS["metrology.calibration"], time_limit_days=12)
        assert (edited.version, edited.time_limit_days) == (2, 12)

    def test_detail_tables_must_belong_to_the_chosen_items(self):
        assert _demand(details={"instruments": [{"name": "压力表"}]}).details
        with pytest.raises(Invalid) as info:
            _demand(("standardization.standard_query",), details={"special_equipment": [{"kind": "锅炉"}]})
        assert info.value.field == "details.special_equipment"

    def test_green_channel_needs_its_reason(self):
        with pytest.raises(Invalid) as info:
            _demand(green_channel=GreenChannel.major_project)
        assert info.value.field == "green_channel_reason"
        assert _demand(green_channel=GreenChannel.major_project, green_channel_reason="省重点项目").green_channel

    def test_new_demand_is_numbered_by_its_submission_year(self):
        demand = _demand(serial=42, submitted_at=datetime(2027, 1, 4, 1, tzinfo=UTC))
        assert demand.tracking_no == "2027-000042"
        assert demand.status == "open" and demand.progress == "submitted"
        assert demand.archive_no is None

    def test_submitted_event_carries_the_registration(self):
        demand = _demand(("testing.product_testing", "metrology.calibration"))
        event = intake.submitted_event(demand)
        assert isinstance(event, DemandSubmitted)
        assert (event.tracking_no, event.demand_id, event.station_id) == ("2026-000137", demand.demand_id, f.STATION)
        assert event.correlation_id == demand.correlation_id and event.causation_id is None
        assert event.categories == [
            CategoryRef(code="testing", label="检验检测"),
            CategoryRef(code="metrology", label="计量"),
        ]
        assert [(i.code, i.version, i.time_limit_days) for i in event.items] == [
            ("testing.product_testing", 1, 15),
            ("metrology.calibration", 1, 10),
        ]
        assert event.channel is Channel.phone and event.first_responder == "张晓燕"
        assert event.time_limit_days == 15 and event.submitted_at == NOW
        assert event.enterprise.credit_code == "91210112MA0U00001J"
        assert DemandSubmitted.from_json(event.model_dump_json()) == event

    def test_progress_only_moves_forward(self):
        demand = intake.advance(_demand(), "resolved")
        assert intake.advance(demand, "assigned").progress == "resolved"

    def test_archive_marks_the_demand(self):
        demand = _demand()
        sealed = f.archived(intake.submitted_event(demand), archive_no="A2026-000007")
        done = intake.archive(demand, sealed)
        assert (done.status, done.progress, done.archive_no) == ("archived", "archived", "A2026-000007")
        assert done.archived_at == sealed.sealed_at
        assert demand.status == "open"  # the original is untouched


# --------------------------------------------------------------------------- dispatch


def _item(time_limit_days=3, **fields):
    return dispatch.receive(f.submitted(time_limit_days=time_limit_days, **fields))


def _assign(
    item,
    *,
    kind=AssigneeKind.organization,
    assignee_id="org-01",
    assignee_name="市计量测试院",
    due_on=None,
    today=TODAY,
):
    return dispatch.assign(
        item,
        kind=kind,
        assignee_id=assignee_id,
        assignee_name=assignee_name,
        mode=HandlingMode.independent,
        due_on=due_on,
        assigned_by="李站长",
        note=None,
        now=NOW,
        today=today,
    )


class TestDispatch:
    def test_received_item_waits(self):
        event = f.submitted()
        item = dispatch.receive(event)
        assert item.status == "waiting"
        assert item.assignment_count == 0
        assert item.round == 1
        assert item.demand_id == event.demand_id
        assert item.first_responder == event.first_responder
        assert item.channel == "window"
        assert item.categories == [{"code": "metrology", "label": "计量"}]

    def test_first_assignment(self):
        item, a = _assign(_item())
        assert item.status == "assigned"
        assert item.assignment_count == 1
        assert a.assignment_no == 1
        assert a.round == 1
        assert a.assignee_id == "org-01"
        assert a.assigned_at == NOW

    def test_rematch_numbers_the_second_assignment(self):
        item, first = _assign(_item())
        item, second = _assign(item, assignee_id="org-02", assignee_name="省特检院")
        assert first.assignment_no == 1
        assert second.assignment_no == 2
        assert item.status == "assigned"
        assert item.assignment_count == 2

    def test_resolved_item_cannot_be_assigned(self):
        item, _ = _assign(_item())
        item = dispatch.resolve(item, 1)
        assert item.status == "resolved"
        with pytest.raises(InvalidTransition):
            _assign(item)

    def test_resolved_before_submitted_arrives_resolved(self):
        item = dispatch.receive(f.submitted(), resolved_round=1)
        assert item.status == "resolved"
        with pytest.raises(InvalidTransition):
            _assign(item)

    def test_due_date_counts_working_days_over_national_day(self):
        _, a = _assign(_item(time_limit_days=3), today=date(2026, 9, 30))
        assert a.due_on == date(2026, 10, 10)
        _, a = _assign(_item(time_limit_days=1), today=date(2026, 9, 30))
        assert a.due_on == date(2026, 10, 8)

    def test_explicit_due_date_is_kept(self):
        _, a = _assign(_item(), due_on=date(2026, 11, 30))
        assert a.due_on == date(2026, 11, 30)
        _, a = _assign(_item(), due_on=TODAY)  # today itself is allowed
        assert a.due_on == TODAY

    def test_due_date_in_the_past_is_refused(self):
        with pytest.raises(Invalid) as info:
            _assign(_item(), due_on=date(2026, 9, 29))
        assert info.value.field == "due_on"

    def test_first_responder_keeps_the_demand(self):
        item = _item()
        item, a = _assign(item, kind=AssigneeKind.first_responder, assignee_id=None, assignee_name=None)
        assert a.assignee_kind is AssigneeKind.first_responder
        assert a.assignee_id == "张晓燕"
        assert a.assignee_name == "张晓燕"

    @pytest.mark.parametrize("kind", [AssigneeKind.organization, AssigneeKind.staff, AssigneeKind.department])
    @pytest.mark.parametrize(
        ("assignee_id", "assignee_name"), [(None, None), ("org-01", None), (None, "名称"), ("", "")]
    )
    def test_other_kinds_need_an_assignee(self, kind, assignee_id, assignee_name):
        with pytest.raises(Invalid) as info:
            _assign(_item(), kind=kind, assignee_id=assignee_id, assignee_name=assignee_name)
        assert info.value.field == "assignee_id"

    def test_resolve_of_an_older_round_changes_nothing(self):
        item, _ = _assign(_item())
        item = replace(item, round=2)
        assert dispatch.resolve(item, 1) is item
        assert dispatch.resolve(item, 1).status == "assigned"
        assert dispatch.resolve(item, 2).status == "resolved"

    def test_assigned_event(self):
        submitted = f.submitted(time_limit_days=3)
        item, a = _assign(dispatch.receive(submitted))
        event = dispatch.assigned_event(item, a)
        assert isinstance(event, Assigned)
        assert event.correlation_id == submitted.correlation_id
        assert event.causation_id == submitted.event_id
        assert event.demand_id == submitted.demand_id
        assert event.tracking_no == submitted.tracking_no
        assert event.assignment_no == 1
        assert event.round == 1
        assert event.due_on == date(2026, 10, 10)
        assert event.assignee_kind is AssigneeKind.organization


# --------------------------------------------------------------------------- tracking


def _replay(events):
    case = None
    for event in events:
        case = tracking.apply(case, event)
    return case


class TestTracking:
    def test_in_order(self):
        s, a, r, ra, ar = f.lifecycle()
        case = _replay([s])
        assert case.status == "submitted"
        case = tracking.apply(case, a)
        assert case.status == "assigned"
        assert case.assignee_name == "市计量测试院"
        assert case.due_on == a.due_on
        assert case.assigned_at == a.occurred_at
        case = tracking.apply(case, r)
        assert case.status == "resolved"
        assert case.outcome == "met"
        case = tracking.apply(case, ra)
        assert case.status == "rated"
        assert case.overall == "satisfied"
        case = tracking.apply(case, ar)
        assert case.status == "archived"
        assert case.archive_no == "A2026-000001"
        assert case.enterprise_name == s.enterprise.name
        assert case.time_limit_days == s.time_limit_days

    def test_any_order_gives_the_same_case(self):
        events = f.lifecycle()
        expected = _replay(events)
        assert expected.status == "archived"
        seen = 0
        for order in itertools.permutations(events):
            case = _replay(order)
            assert case == expected, [type(e).__name__ for e in order]
            assert case.status == "archived"
            for name in tracking.CASE_FIELDS:
                assert getattr(case, name) == getattr(expected, name), (name, [type(e).__name__ for e in order])
            seen += 1
        assert seen == 120

    def test_any_order_with_a_rematch(self):
        s = f.submitted()
        events = [s, f.assigned(s, no=1), f.assigned(s, no=2, assignee_name="省特检院"), f.resolved(s), f.rated(s)]
        expected = _replay(events)
        assert expected.assignment_no == 2
        assert expected.assignee_name == "省特检院"
        for order in itertools.permutations(events):
            assert _replay(order) == expected

    def test_resolved_before_assigned_before_submitted(self):
        s = f.submitted()
        a, r = f.assigned(s), f.resolved(s)
        assert _replay([r, a, s]) == _replay([s, a, r])
        assert _replay([r, a, s]).status == "resolved"

    def test_partial_orders_reach_the_same_state(self):
        s = f.submitted()
        a = f.assigned(s)
        backwards = _replay([a, s])
        assert backwards == _replay([s, a])
        assert backwards.status == "assigned"
        # before Submitted arrives the case is known from the envelope only
        only_assigned = _replay([a])
        assert only_assigned.status == "assigned"
        assert only_assigned.enterprise_name is None
        assert only_assigned.tracking_no == s.tracking_no

    @pytest.mark.parametrize("index", range(5))
    def test_the_same_event_twice_is_idempotent(self, index):
        events = f.lifecycle()
        once = _replay(events)
        twice = _replay(events[: index + 1] + [events[index]] + events[index + 1 :])
        assert twice == once
        single = tracking.apply(None, events[index])
        assert tracking.apply(single, events[index]) == single

    def test_redelivering_everything_changes_nothing(self):
        events = f.lifecycle()
        assert _replay(events + events) == _replay(events)

    def test_older_assignment_does_not_overwrite_a_newer_one(self):
        s = f.submitted()
        first = f.assigned(s, no=1, assignee_name="市计量测试院", due_on=date(2026, 10, 10))
        second = f.assigned(s, no=2, assignee_name="省特检院", due_on=date(2026, 10, 20))
        case = _replay([s, second, first])
        assert case.assignment_no == 2
        assert case.assignee_name == "省特检院"
        assert case.assignee_id == "assignee-2"
        assert case.due_on == date(2026, 10, 20)
        assert case.assigned_at == second.occurred_at
        assert case == _replay([s, first, second])

    def test_older_round_resolution_does_not_overwrite(self):
        s = f.submitted()
        case = _replay([s, f.assigned(s), f.resolved(s, round=2)])
        old = f.resolved(s, round=1)
        assert tracking.apply(case, old) == case
        assert case.round == 2

    def test_resolve_an_assigned_case(self):
        s = f.submitted()
        case = _replay([s, f.assigned(s)])
        event = tracking.resolve(
            case, outcome=Outcome.not_met, summary="无法满足，已说明", resolved_by="张晓燕", now=NOW
        )
        assert isinstance(event, Resolved)
        assert event.correlation_id == s.correlation_id
        assert event.demand_id == s.demand_id
        assert event.station_id == s.station_id
        assert event.tracking_no == s.tracking_no
        assert event.round == 1
        assert event.outcome is Outcome.not_met
        assert event.resolved_at == NOW
        assert tracking.apply(case, event).status == "resolved"

    @pytest.mark.parametrize("upto", [1, 3, 4, 5], ids=["submitted", "resolved", "rated", "archived"])
    def test_resolve_refused_unless_assigned(self, upto):
        case = _replay(f.lifecycle()[:upto])
        with pytest.raises(InvalidTransition) as info:
            tracking.resolve(case, outcome=Outcome.met, summary="x", resolved_by="y", now=NOW)
        assert tracking.STATUS_LABELS[case.status] in info.value.zh
        assert info.value.status == 409

    def test_overdue_only_for_open_cases_past_due(self):
        s = f.submitted()
        submitted_only = _replay([s])
        assert not submitted_only.overdue(date(2030, 1, 1))  # no due date yet
        assigned = _replay([s, f.assigned(s, due_on=date(2026, 10, 10))])
        assert not assigned.overdue(date(2026, 10, 9))
        assert not assigned.overdue(date(2026, 10, 10))  # due today is not late
        assert assigned.overdue(date(2026, 10, 11))
        resolved = tracking.apply(assigned, f.resolved(s))
        assert not resolved.overdue(date(2026, 10, 11))
        archived = _replay(f.lifecycle())
        assert not archived.overdue(date(2030, 1, 1))

    def test_timeline_text(self):
        s = f.submitted()
        assert "派单" in tracking.timeline_text(f.assigned(s, no=1))
        assert "改派" in tracking.timeline_text(f.assigned(s, no=2))
        assert "2026-10-10" in tracking.timeline_text(f.assigned(s, no=1))
        assert "满意" in tracking.timeline_text(f.rated(s))
        assert "不满意" in tracking.timeline_text(f.rated(s, overall=Overall.dissatisfied))
        assert "A2026-000001" in tracking.timeline_text(f.archived(s))


CLOSINGS = {"refused": ev.refused, "merged": ev.merged, "withdrawn": ev.withdrawn}


def _closed(kind, cause, assignment_count=1, at=None):
    return CLOSINGS[kind](cause, assignment_count=assignment_count, at=at or f.at(9))


def _same_whatever_the_order(events):
    expected = _replay(events)
    for order in itertools.permutations(events):
        assert _replay(order) == expected, [type(e).__name__ for e in order]
    return expected


class TestTrackingDispositions:
    """Returns, rematches, referrals, corrections and closings (issue 8), in any order."""

    def test_a_return_sends_the_case_back_to_the_head(self):
        s = f.submitted()
        case = _replay([s, f.assigned(s, due_on=date(2026, 10, 10)), ev.returned(s, 1, at=f.at(5))])
        assert case.status == "returned" and case.is_open
        assert (case.returned_no, case.returned_by, case.return_reason) == (1, "市计量测试院", "超出本机构资质范围")
        assert case.overdue(date(2026, 10, 11))  # the promise to the enterprise still stands until rematched
        with pytest.raises(InvalidTransition) as info:
            tracking.resolve(case, outcome=Outcome.met, summary="x", resolved_by="y", now=NOW)
        assert "退单" in info.value.zh and "returned" in info.value.en and info.value.status == 409

    def test_returned_then_rematched_in_any_order(self):
        s = f.submitted()
        a1, a2 = f.assigned(s, no=1), f.assigned(s, no=2, assignee_name="省特检院")
        case = _same_whatever_the_order([s, a1, ev.returned(s, 1, at=f.at(5)), a2])
        assert case.status == "assigned" and case.assignee_name == "省特检院" and case.assignment_no == 2
        assert case.returned_no == 1  # the return stays known, for the sheet

    def test_a_return_seen_before_its_assignment_still_counts(self):
        s = f.submitted()
        r1 = ev.returned(s, 1, at=f.at(5))
        early = _replay([s, r1])
        assert early.status == "returned" and early.assignment_no == 0
        assert _replay([s, r1, f.assigned(s, no=1)]).status == "returned"

    def test_a_late_return_of_an_older_assignment_does_not_undo_the_rematch(self):
        s = f.submitted()
        case = _replay([s, f.assigned(s, no=1), f.assigned(s, no=2), ev.returned(s, 1, at=f.at(5))])
        assert case.status == "assigned" and case.assignment_no == 2
        assert _replay([s, f.assigned(s, no=2), ev.returned(s, 2, at=f.at(6))]).status == "returned"

    @pytest.mark.parametrize("kind", CLOSINGS)
    def test_a_closing_is_terminal_whatever_the_order(self, kind):
        s = f.submitted()
        closing = _closed(kind, s)
        case = _same_whatever_the_order([s, f.assigned(s, due_on=date(2026, 10, 10)), closing])
        assert case.status == kind and not case.is_open
        assert not case.overdue(date(2030, 1, 1))
        assert case.closed_at == closing.closed_at and case.closing["reason"] == closing.reason
        with pytest.raises(InvalidTransition) as info:
            tracking.resolve(case, outcome=Outcome.met, summary="x", resolved_by="y", now=NOW)
        assert tracking.STATUS_LABELS[kind] in info.value.zh and kind in info.value.en and info.value.status == 409
        # a late assignment or return does not reopen it; only the archive comes after
        late = _replay([s, closing, f.assigned(s, no=2), ev.returned(s, 1, at=f.at(5))])
        assert late.status == kind
        assert tracking.apply(case, f.archived(s)).status == "archived"

    def test_a_closing_before_its_assignments_arrive(self):
        s = f.submitted()
        refused = _closed("refused", s, assignment_count=2)
        case = _replay([refused])
        assert case.status == "refused" and case.enterprise_name is None
        case = _replay([refused, f.assigned(s, no=2), s, f.assigned(s, no=1)])
        assert case.status == "refused" and case.assignment_no == 2 and case.enterprise_name

    def test_the_details_of_each_closing(self):
        s = f.submitted()
        refused = _replay([_closed("refused", s)]).closing
        assert refused["basis"] == "《服务站工作规范》第 7.2 条"
        original = f.submitted(tracking_no="2026-000002")
        merged = _replay([ev.merged(s, into=original, assignment_count=0, at=f.at(9))]).closing
        assert merged["merged_into"] == str(original.demand_id) and merged["merged_into_tracking_no"] == "2026-000002"
        assert _replay([ev.withdrawn(s, by_enterprise=False, at=f.at(9))]).closing["by_enterprise"] is False
        # The shape kept in the jsonb column (and added to by the API) is the one rows already hold.
        assert set(refused) == {"reason", "closed_by", "assignment_count", "basis"}
        assert set(merged) == {"reason", "closed_by", "assignment_count", "merged_into", "merged_into_tracking_no"}

    def test_of_two_closings_the_earlier_counts_whatever_the_order(self):
        s = f.submitted()
        first, second = ev.withdrawn(s, at=f.at(8)), ev.merged(s, at=f.at(9))
        assert _same_whatever_the_order([s, second, first]).status == "withdrawn"

    def test_a_correction_replaces_the_form_fields_unless_older(self):
        s = f.submitted()
        c1 = ev.corrected(s, at=f.at(2), description="压力表 40 台")
        c2 = ev.corrected(
            s,
            at=f.at(3),
            description="压力表 40 台、千分尺 2 台",
            time_limit_days=5,
            categories=[CategoryRef(code="metrology", label="计量"), CategoryRef(code="testing", label="检验检测")],
        )
        case = _same_whatever_the_order([s, c1, c2, f.assigned(s)])
        assert case.description == "压力表 40 台、千分尺 2 台" and case.time_limit_days == 5
        assert [c["code"] for c in case.categories] == ["metrology", "testing"]
        assert case.corrected_at == c2.corrected_at and case.enterprise_name == s.enterprise.name
        assert _replay([s, c2, c1]) == _replay([s, c1, c2])

    def test_a_referral_stays_open_and_is_resolvable(self):
        s = f.submitted()
        case = _replay([s, ev.referred(s, 1, at=f.at(4))])
        assert case.status == "referred" and case.is_open
        assert case.referral["department"] == "区发展和改革局" and case.referral["contact_name"] == "刘科长"
        assert case.overdue(date(2027, 1, 1))
        event = tracking.resolve(case, outcome=Outcome.met, summary="发改局已答复", resolved_by="张晓燕", now=NOW)
        assert event.assignment_no == 1 and tracking.apply(case, event).status == "resolved"

    def test_each_event_twice_changes_nothing(self):
        s = f.submitted()
        events = [
            s,
            ev.corrected(s, at=f.at(2)),
            f.assigned(s, no=1),
            ev.returned(s, 1, at=f.at(5)),
            f.assigned(s, no=2),
            _closed("refused", s, assignment_count=2),
        ]
        once = _same_whatever_the_order(events)
        assert once.status == "refused"
        for e in events:
            assert tracking.apply(once, e) == once
        assert _replay(events + events) == once

    def test_timeline_texts(self):
        s = f.submitted()
        staff = s.caused(
            Assigned,
            assignment_no=1,
            assignee_kind=AssigneeKind.staff,
            assignee_id="staff-li",
            assignee_name="李工",
            handling_mode=HandlingMode.joint,
            due_on=date(2026, 10, 10),
            assigned_by="周站长",
            department="计量科",
            co_handlers=[Handler(kind=AssigneeKind.staff, id="staff-wang", name="王工")],
        )
        text = tracking.timeline_text(staff)
        assert "派单" in text and "牵头科室 计量科" in text and "协办 王工" in text and "共同办理" in text
        text = tracking.timeline_text(ev.referred(s, 2))
        assert "转办至 区发展和改革局" in text and "刘科长" in text and "属发改部门职责" in text
        text = tracking.timeline_text(ev.returned(s, 1))
        assert "退单" in text and "市计量测试院" in text and "超出本机构资质范围" in text
        text = tracking.timeline_text(ev.corrected(s, changed=["contact.phone", "description"]))
        assert "更正登记（联系人、需求描述）" in text and "张晓燕" in text and "企业补充了台数" in text
        text = tracking.timeline_text(ev.refused(s))
        assert "否定备案" in text and "不属于质量基础设施服务范围" in text and "第 7.2 条" in text
        assert "并入跟踪单 2026-000099" in tracking.timeline_text(ev.merged(s))
        assert "企业申请撤回" in tracking.timeline_text(ev.withdrawn(s))
        assert "服务站撤回" in tracking.timeline_text(ev.withdrawn(s, by_enterprise=False))
        assert "改派给 市计量测试院" in tracking.timeline_text(f.assigned(s, no=2))


# --------------------------------------------------------------------------- evaluation

BASIC = Answers(station_service=5, station_timeliness=4, problem_solved=True, overall=Overall.satisfied)


def _open_survey(kind=AssigneeKind.staff):
    s = f.submitted()
    survey = evaluation.on_assigned(None, f.assigned(s, kind=kind), now=NOW)
    return evaluation.on_resolved(survey, f.resolved(s)), s


class TestEvaluation:
    def test_resolved_opens_the_survey(self):
        s = f.submitted()
        r = f.resolved(s)
        survey = evaluation.on_resolved(None, r)
        assert survey.status == "open"
        assert survey.round == 1
        assert survey.opened_at == r.occurred_at
        assert survey.demand_id == s.demand_id

    def test_rate_an_open_survey(self):
        survey, s = _open_survey()
        rated, event = evaluation.rate(survey, BASIC, source=RatingSource.online, recorded_by=None, now=NOW)
        assert rated.status == "rated"
        assert rated.rated_at == NOW
        assert event.answers == BASIC
        assert event.round == 1
        assert event.source is RatingSource.online
        assert event.correlation_id == s.correlation_id
        assert event.demand_id == s.demand_id
        assert event.tracking_no == s.tracking_no
        assert event.rated_at == NOW

    def test_waiting_survey_cannot_be_rated(self):
        s = f.submitted()
        survey = evaluation.on_assigned(None, f.assigned(s), now=NOW)
        assert survey.status == "waiting"
        with pytest.raises(InvalidTransition):
            evaluation.rate(survey, BASIC, source=RatingSource.online, recorded_by=None, now=NOW)

    def test_rated_survey_cannot_be_rated_again(self):
        survey, _ = _open_survey()
        survey, _ = evaluation.rate(survey, BASIC, source=RatingSource.online, recorded_by=None, now=NOW)
        with pytest.raises(InvalidTransition) as info:
            evaluation.rate(survey, BASIC, source=RatingSource.online, recorded_by=None, now=NOW)
        assert "重复" in info.value.zh

    @pytest.mark.parametrize("item", evaluation.TECHNICIAN_ITEMS)
    def test_technician_items_refused_without_an_organization(self, item):
        survey, _ = _open_survey(kind=AssigneeKind.staff)
        assert not survey.served_by_org
        answers = Answers(overall=Overall.satisfied, **{item: 4})
        with pytest.raises(Invalid) as info:
            evaluation.rate(survey, answers, source=RatingSource.online, recorded_by=None, now=NOW)
        assert info.value.field == f"answers.{item}"

    def test_technician_items_accepted_when_an_organization_served(self):
        survey, _ = _open_survey(kind=AssigneeKind.organization)
        assert survey.served_by_org
        answers = Answers(
            overall=Overall.very_satisfied,
            technician_professionalism=5,
            technician_timeliness=4,
            technician_civility=5,
            facilities=3,
        )
        rated, event = evaluation.rate(survey, answers, source=RatingSource.online, recorded_by=None, now=NOW)
        assert rated.status == "rated"
        assert event.answers.facilities == 3

    def test_organization_seen_after_resolution_still_counts(self):
        s = f.submitted()
        survey = evaluation.on_resolved(None, f.resolved(s))
        survey = evaluation.on_assigned(survey, f.assigned(s, kind=AssigneeKind.organization), now=NOW)
        assert survey.status == "open"
        assert survey.served_by_org
        answers = Answers(overall=Overall.satisfied, technician_civility=5)
        rated, _ = evaluation.rate(survey, answers, source=RatingSource.online, recorded_by=None, now=NOW)
        assert rated.status == "rated"

    def test_paper_rating_needs_the_recorder(self):
        survey, _ = _open_survey()
        for recorded_by in (None, ""):
            with pytest.raises(Invalid) as info:
                evaluation.rate(survey, BASIC, source=RatingSource.paper, recorded_by=recorded_by, now=NOW)
            assert info.value.field == "recorded_by"
        rated, event = evaluation.rate(survey, BASIC, source=RatingSource.paper, recorded_by="张晓燕", now=NOW)
        assert event.recorded_by == "张晓燕"
        assert event.source is RatingSource.paper

    def test_resolved_again_for_a_rated_round_leaves_it_rated(self):
        survey, s = _open_survey()
        survey, _ = evaluation.rate(survey, BASIC, source=RatingSource.online, recorded_by=None, now=NOW)
        again = evaluation.on_resolved(survey, f.resolved(s, round=1))
        assert again == survey
        assert again.status == "rated"

    def test_resolution_of_an_older_round_is_ignored(self):
        s = f.submitted()
        survey = evaluation.on_resolved(None, f.resolved(s, round=2))
        assert evaluation.on_resolved(survey, f.resolved(s, round=1)) == survey
        assert survey.round == 2

    def test_a_new_round_reopens_a_rated_survey(self):
        survey, s = _open_survey()
        survey, _ = evaluation.rate(survey, BASIC, source=RatingSource.online, recorded_by=None, now=NOW)
        reopened = evaluation.on_resolved(survey, f.resolved(s, round=2))
        assert reopened.status == "open"
        assert reopened.round == 2
        _, event = evaluation.rate(reopened, BASIC, source=RatingSource.online, recorded_by=None, now=NOW)
        assert event.round == 2


# --------------------------------------------------------------------------- archive


def _logged(event: Event) -> archive.LoggedEvent:
    # as services/archive/store.py logs and reads it back
    return archive.LoggedEvent(
        event_id=event.event_id,
        routing_key=event.routing_key,
        occurred_at=event.occurred_at,
        payload=event.model_dump(mode="json"),
    )


def _log(*events):
    return [_logged(e) for e in events]


SEALED_AT = datetime(2026, 10, 12, 9, 30, tzinfo=UTC)
COMMON_OUTCOME = ("kind", "label", "reason", "closed_by", "closed_at", "assignment_count")


class TestArchive:
    def test_not_ready_without_a_rating(self):
        s = f.submitted()
        assert not archive.ready_to_seal(_log(s, f.assigned(s), f.resolved(s)))
        assert not archive.ready_to_seal(_log(s))
        assert not archive.ready_to_seal([])

    def test_not_ready_without_submitted_or_resolved(self):
        s = f.submitted()
        assert not archive.ready_to_seal(_log(f.assigned(s), f.resolved(s), f.rated(s)))
        assert not archive.ready_to_seal(_log(s, f.assigned(s), f.rated(s)))

    @pytest.mark.parametrize(
        ("overall", "ready"),
        [
            (Overall.very_satisfied, True),
            (Overall.satisfied, True),
            (Overall.average, True),
            (Overall.dissatisfied, False),
        ],
    )
    def test_ready_depends_on_the_rating(self, overall, ready):
        s = f.submitted()
        assert archive.ready_to_seal(_log(s, f.assigned(s), f.resolved(s), f.rated(s, overall=overall))) is ready

    def test_only_the_latest_rounds_rating_counts(self):
        s = f.submitted()
        # round 1 satisfied, but round 2 resolved and rated dissatisfied
        events = _log(
            s,
            f.assigned(s),
            f.resolved(s, round=1),
            f.rated(s, round=1),
            f.resolved(s, round=2),
            f.rated(s, round=2, overall=Overall.dissatisfied),
        )
        assert not archive.ready_to_seal(events)
        # round 1 dissatisfied, verified founded and reopened; round 2 assigned and resolved but not yet rated
        dissatisfied = f.rated(s, round=1, overall=Overall.dissatisfied)
        verification = re_.verified(dissatisfied, Finding.founded)
        events = _log(
            s,
            f.assigned(s),
            f.resolved(s, round=1),
            dissatisfied,
            verification,
            re_.reopened(verification),
            f.assigned(s, no=2, round=2),
            f.resolved(s, round=2),
        )
        assert not archive.ready_to_seal(events)
        # round 2 rated satisfied
        events.append(_logged(f.rated(s, round=2)))
        assert archive.ready_to_seal(events)
        # a satisfied rating of an older round does not cover a newer resolution
        events = _log(s, f.resolved(s, round=1), f.rated(s, round=1), f.resolved(s, round=2))
        assert not archive.ready_to_seal(events)

    def test_archive_no(self):
        assert archive.archive_no(2026, 1) == "A2026-000001"
        assert archive.archive_no(2027, 123456) == "A2027-123456"

    def test_seal(self):
        s = f.submitted()
        events = _log(s, f.assigned(s), f.resolved(s), f.rated(s))
        dossier = archive.seal(events, serial=1, sealed_at=SEALED_AT)
        assert dossier.archive_no == "A2026-000001"
        assert dossier.demand_id == s.demand_id
        assert dossier.station_id == s.station_id
        assert dossier.tracking_no == s.tracking_no
        assert dossier.sealed_at == SEALED_AT
        assert dossier.retain_until == date(2029, 10, 12)
        assert len(dossier.content_sha256) == 64
        assert len(dossier.content["assignments"]) == 1
        assert len(dossier.content["resolutions"]) == 1
        assert len(dossier.content["ratings"]) == 1
        assert [e["type"] for e in dossier.content["events"]] == [
            "demand.submitted",
            "demand.assigned",
            "demand.resolved",
            "demand.rated",
        ]

    def test_hash_does_not_depend_on_arrival_order(self):
        s = f.submitted()
        events = _log(s, f.assigned(s, no=1), f.assigned(s, no=2), f.resolved(s), f.rated(s))
        first = archive.seal(events, serial=3, sealed_at=SEALED_AT)
        for order in itertools.permutations(events):
            other = archive.seal(list(order), serial=3, sealed_at=SEALED_AT)
            assert other.content_sha256 == first.content_sha256
            assert other.content == first.content

    def test_hash_changes_with_the_content(self):
        s = f.submitted()
        base = _log(s, f.assigned(s), f.resolved(s), f.rated(s))
        one = archive.seal(base, serial=1, sealed_at=SEALED_AT)
        more = archive.seal(base + _log(f.assigned(s, no=2)), serial=1, sealed_at=SEALED_AT)
        assert one.content_sha256 != more.content_sha256

    def test_retention_is_three_years(self):
        d = archive.seal(_log(f.submitted()), serial=9, sealed_at=datetime(2026, 1, 5, tzinfo=UTC))
        assert d.retain_until == date(2029, 1, 5)
        assert d.archive_no == "A2026-000009"
        leap = archive.seal(_log(f.submitted()), serial=1, sealed_at=datetime(2028, 2, 29, 12, tzinfo=UTC))
        assert leap.retain_until == date(2031, 2, 28)
        assert leap.archive_no == "A2028-000001"

    def test_archived_event(self):
        s = f.submitted()
        events = _log(s, f.assigned(s), f.resolved(s), f.rated(s))
        dossier = archive.seal(events, serial=5, sealed_at=SEALED_AT)
        rating = archive.closing_rating(events)
        event = archive.archived_event(dossier, rating)
        assert event.causation_id == rating.event_id and event.correlation_id == s.correlation_id
        assert event.demand_id == s.demand_id
        assert event.archive_no == "A2026-000005"
        assert event.content_sha256 == dossier.content_sha256
        assert event.event_count == 4
        assert event.sealed_at == SEALED_AT


class TestArchiveClosings:
    """A refused, merged or withdrawn demand is sealed once its history is complete (issue 8)."""

    @pytest.mark.parametrize("kind", CLOSINGS)
    def test_a_closing_before_any_assignment_needs_only_the_submission(self, kind):
        s = f.submitted()
        closing = _closed(kind, s, assignment_count=0)
        assert archive.missing(_log(closing)) == ["demand.submitted"]
        assert archive.ready_to_seal(_log(closing, s))

    @pytest.mark.parametrize("kind", CLOSINGS)
    def test_a_closing_waits_for_the_assignments_it_counts(self, kind):
        s = f.submitted()
        closing = _closed(kind, s, assignment_count=2)
        assert archive.missing(_log(s, closing)) == ["demand.assigned #1", "demand.assigned #2"]
        assert archive.missing(_log(s, closing, f.assigned(s, no=2))) == ["demand.assigned #1"]
        assert archive.ready_to_seal(_log(s, closing, f.assigned(s, no=2), f.assigned(s, no=1)))

    def test_returns_and_corrections_do_not_hold_the_seal_back(self):
        s = f.submitted()
        # assignment 2 follows a return of 1 here, but a head may rematch without one: nothing proves it exists
        assert archive.ready_to_seal(_log(s, f.assigned(s, no=1), f.assigned(s, no=2), f.resolved(s), f.rated(s)))
        assert archive.ready_to_seal(_log(s, f.assigned(s), _closed("withdrawn", s)))

    def test_a_closing_ends_the_demand_even_with_a_resolution_logged(self):
        s = f.submitted()
        events = _log(s, f.assigned(s), f.resolved(s), _closed("withdrawn", s))
        assert archive.ready_to_seal(events)  # no rating needed: the withdrawal ended it
        assert archive.outcome(events)["kind"] == "withdrawn"

    @pytest.mark.parametrize("kind", CLOSINGS)
    def test_the_dossier_says_how_it_ended_and_holds_every_section(self, kind):
        s = f.submitted()
        closing = _closed(kind, s, assignment_count=2)
        correction, back = ev.corrected(s, at=f.at(2)), ev.returned(s, 1, at=f.at(5))
        events = _log(s, correction, f.assigned(s, no=1), back, f.assigned(s, no=2), closing)
        dossier = archive.seal(events, serial=4, sealed_at=SEALED_AT)
        c = dossier.content
        assert dossier.outcome == kind and c["outcome"]["kind"] == kind
        assert c["outcome"]["reason"] == closing.reason and c["outcome"]["event_id"] == str(closing.event_id)
        assert [x["event_id"] for x in c["corrections"]] == [str(correction.event_id)]
        assert [x["event_id"] for x in c["returns"]] == [str(back.event_id)]
        assert len(c["assignments"]) == 2 and c["resolutions"] == [] and c["ratings"] == []
        assert c[archive.SECTIONS[closing.routing_key]][0]["event_id"] == str(closing.event_id)
        detail = {
            "refused": ("basis", "《服务站工作规范》第 7.2 条"),
            "merged": ("merged_into_tracking_no", "2026-000099"),
            "withdrawn": ("by_enterprise", True),
        }[kind]
        assert c["outcome"][detail[0]] == detail[1]
        # The keys dossiers already hold, the closing's own label, its time exactly as logged.
        assert set(c["outcome"]) == {
            *COMMON_OUTCOME,
            "event_id",
            detail[0],
            *(["merged_into"] if kind == "merged" else []),
        }
        assert c["outcome"]["label"] == {"refused": "否定备案", "merged": "已并单", "withdrawn": "已撤回"}[kind]
        assert c["outcome"]["closed_at"] == _logged(closing).payload["closed_at"]
        event = archive.archived_event(dossier, archive.ending(events))
        assert event.causation_id == closing.event_id and event.event_count == 6
        # what the dossier holds is exactly what was logged: nothing for the audit to find
        assert archive.audit(dossier, [], events) is None

    def test_a_resolved_dossier_names_the_resolution_and_rating(self):
        s = f.submitted()
        events = _log(s, f.assigned(s), f.resolved(s), f.rated(s, overall=Overall.very_satisfied))
        outcome = archive.seal(events, serial=1, sealed_at=SEALED_AT).content["outcome"]
        assert (outcome["kind"], outcome["overall"], outcome["outcome"]) == ("resolved", "very_satisfied", "met")

    def test_of_two_closings_the_earlier_ends_it(self):
        s = f.submitted()
        events = _log(s, ev.merged(s, at=f.at(9)), ev.refused(s, at=f.at(8)))
        assert archive.outcome(events)["kind"] == "refused"
        assert archive.outcome(list(reversed(events)))["kind"] == "refused"

    def test_a_return_logged_after_a_resolved_seal_is_found_and_supplemented(self):
        s = f.submitted()
        sealed = _log(s, f.assigned(s, no=1), f.assigned(s, no=2), f.resolved(s), f.rated(s))
        dossier = archive.seal(sealed, serial=1, sealed_at=SEALED_AT)
        late = _logged(ev.returned(s, 1, at=f.at(5)))
        finding = archive.audit(dossier, [], [*sealed, late])
        assert finding.lacking == [] and finding.unattached == [late]
        added = archive.supplement(finding, [], added_at=SEALED_AT)
        assert archive.audit(dossier, [added], [*sealed, late]) is None


def test_dispatch_remembers_a_green_channel_request():
    event = f.submitted().model_copy(update={"green_channel": GreenChannel.superior_task})
    assert dispatch.receive(event).green_channel == "superior_task"
    assert dispatch.receive(f.submitted()).green_channel is None


def test_a_clerk_may_keep_only_a_waiting_demand_they_received():
    item = dispatch.receive(f.submitted().model_copy(update={"first_responder_id": "clerk-zhang"}))
    dispatch.check_clerk_may_keep(item, AssigneeKind.first_responder, "clerk-zhang")
    for kind, who, state in (
        (AssigneeKind.organization, "clerk-zhang", item),
        (AssigneeKind.first_responder, "clerk-liu", item),
        (AssigneeKind.first_responder, "clerk-zhang", replace(item, status="assigned")),
    ):
        with pytest.raises(Forbidden):
            dispatch.check_clerk_may_keep(state, kind, who)


def test_the_default_due_date_is_the_one_promised_in_the_notice():
    item = replace(dispatch.receive(f.submitted()), expected_on=date(2026, 10, 20))
    _, assignment = dispatch.assign(
        item,
        kind=AssigneeKind.organization,
        assignee_id="org-01",
        assignee_name="院",
        mode=HandlingMode.independent,
        due_on=None,
        assigned_by="周站长",
        note=None,
        now=NOW,
        today=TODAY,
    )
    assert assignment.due_on == date(2026, 10, 20)


class TestOneClosingRule:
    """Of two closings every service keeps the same one, whatever order they arrive in (Closing.precedes)."""

    @pytest.mark.parametrize("same_instant", [False, True], ids=["refused-earlier", "same-instant"])
    def test_every_service_keeps_the_same_closing(self, same_instant):
        s = f.submitted()
        withdrawn = ev.withdrawn(s, at=f.at(9))
        refused = ev.refused(s, at=f.at(9) if same_instant else f.at(8))
        expected = min((withdrawn, refused), key=lambda e: (e.closed_at, str(e.event_id)))
        for first, second in ((withdrawn, refused), (refused, withdrawn)):
            item = dispatch.close(dispatch.close(dispatch.receive(s), first), second)
            case = _replay([s, first, second])
            survey = evaluation.on_closed(evaluation.on_closed(None, first), second)
            demand = intake.close(intake.close(_demand(), first), second)
            dossier = archive.outcome(_log(s, first, second))
            kept = (item.closing_id, case.closing_id, survey.closing_id, demand.closure.event_id)
            assert set(kept) | {archive.closing(_log(s, first, second)).event_id} == {expected.event_id}
            ended_as = (item.status, case.status, survey.closed_as, intake.stage(demand), dossier["kind"])
            assert set(ended_as) == {expected.kind}
