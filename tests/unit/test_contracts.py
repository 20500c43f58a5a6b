"""Event contracts: JSON round-trip, tolerant consumers, envelope rules, topology names."""

import json
from datetime import date, time, timedelta, timezone
from uuid import uuid4

import pytest
from pydantic import ValidationError

from shared.contracts import (
    CLOSINGS,
    DISPOSITIONS,
    EVENT_TYPES,
    FOLLOWING,
    LIFECYCLE,
    RATING_LINKS,
    REHANDLING,
    Appointment,
    Archived,
    Assigned,
    CalendarCorrected,
    CaseChased,
    CasePaused,
    CaseResumed,
    CaseSupervised,
    Closing,
    ComplaintUpdated,
    DeadlineKind,
    DeadlineWarned,
    DemandMerged,
    DemandRefused,
    DemandSubmitted,
    DemandWithdrawn,
    ExtensionDecided,
    ExtensionRequested,
    FollowUpKind,
    FollowUpRecorded,
    PauseReason,
    Rated,
    Resolved,
    RevisitRecorded,
    SupervisionAnswered,
    SupervisionLevel,
    dead_letter_queue_name,
    printed_tracking_no,
    queue_name,
)
from tests.support import aftercare_events as ae
from tests.support import following_events as fe
from tests.support import rehandling_events as re_
from tests.unit import factories as f


def _one_of_each() -> dict[type, object]:
    events = f.lifecycle()
    events += f.dispositions(events[0])
    events += fe.one_of_each(events[1], at=f.at(6))  # fixed instants: the examples are compared whole
    events += re_.one_of_each(f.rated(events[0]), at=f.at(8))
    events.append(ae.revisited(events[2], at=f.at(9)))
    events.append(f.rating_link_issued(events[0]))
    return {type(e): e for e in events}


EXAMPLES = _one_of_each()
DEMAND_EVENTS = (*LIFECYCLE, *DISPOSITIONS, *RATING_LINKS, *FOLLOWING, *REHANDLING, RevisitRecorded)


def test_examples_cover_every_demand_event():
    assert set(EXAMPLES) == set(DEMAND_EVENTS)
    assert (DemandSubmitted, Assigned, Resolved, Rated, Archived) == LIFECYCLE
    assert set(DEMAND_EVENTS) == {t for t in EVENT_TYPES.values() if t.routing_key.startswith("demand.")}


@pytest.mark.parametrize("event_type", DEMAND_EVENTS, ids=lambda t: t.__name__)
def test_round_trips_through_json_unchanged(event_type):
    event = EXAMPLES[event_type]
    body = event.model_dump_json()
    back = event_type.from_json(body)
    assert back == event
    assert back.model_dump() == event.model_dump()
    assert back.model_dump_json() == body
    # bytes work as well as str (messages arrive as bytes)
    assert event_type.from_json(body.encode()) == event


@pytest.mark.parametrize("event_type", DEMAND_EVENTS, ids=lambda t: t.__name__)
def test_unknown_fields_are_accepted_and_dropped(event_type):
    event = EXAMPLES[event_type]
    data = json.loads(event.model_dump_json())
    data["added_by_a_newer_producer"] = {"anything": [1, 2, 3]}
    back = event_type.from_json(json.dumps(data))
    assert back == event
    assert "added_by_a_newer_producer" not in back.model_dump()
    assert not hasattr(back, "added_by_a_newer_producer")


def test_unknown_nested_fields_are_dropped_too():
    event = EXAMPLES[DemandSubmitted]
    data = json.loads(event.model_dump_json())
    data["enterprise"]["industry_chain"] = "装备制造"
    data["categories"][0]["priority"] = "high"
    back = DemandSubmitted.from_json(json.dumps(data))
    assert back == event


@pytest.mark.parametrize("event_type", DEMAND_EVENTS, ids=lambda t: t.__name__)
@pytest.mark.parametrize("missing", ["station_id", "demand_id", "correlation_id", "tracking_no"])
def test_missing_envelope_field_fails(event_type, missing):
    data = json.loads(EXAMPLES[event_type].model_dump_json())
    del data[missing]
    with pytest.raises(ValidationError) as info:
        event_type.from_json(json.dumps(data))
    assert any(e["loc"] == (missing,) and e["type"] == "missing" for e in info.value.errors())


@pytest.mark.parametrize(
    "station_id",
    [
        "hunnan",  # no division path
        "210100/hunnan-01/",  # trailing slash
        "21010/210112/hunnan-01",  # division code of 5 digits
        "210100/210112/Hunnan-01",  # upper case
        "210100/210112/-hunnan",  # starts with a dash
        "210100/210112/hunnan 01",  # space
        "210100/210112/210113/210114/210115/x",  # more than 4 division levels
        "",
    ],
)
def test_malformed_station_id_fails(station_id):
    data = json.loads(EXAMPLES[DemandSubmitted].model_dump_json())
    data["station_id"] = station_id
    with pytest.raises(ValidationError) as info:
        DemandSubmitted.from_json(json.dumps(data))
    assert any(e["loc"] == ("station_id",) for e in info.value.errors())


@pytest.mark.parametrize("station_id", ["210100/hunnan-01", "210100/210112/hunnan-01", "210000/210100/210112/x"])
def test_well_formed_station_ids_pass(station_id):
    data = json.loads(EXAMPLES[Resolved].model_dump_json())
    data["station_id"] = station_id
    assert Resolved.from_json(json.dumps(data)).station_id == station_id


@pytest.mark.parametrize("tracking_no", ["2026-137", "26-000137", "2026000137", "2026-0001370"])
def test_malformed_tracking_no_fails(tracking_no):
    data = json.loads(EXAMPLES[Assigned].model_dump_json())
    data["tracking_no"] = tracking_no
    with pytest.raises(ValidationError):
        Assigned.from_json(json.dumps(data))


def test_naive_occurred_at_fails():
    data = json.loads(EXAMPLES[Resolved].model_dump_json())
    data["occurred_at"] = "2026-09-30T10:00:00"
    with pytest.raises(ValidationError):
        Resolved.from_json(json.dumps(data))


@pytest.mark.parametrize("event_type", DEMAND_EVENTS, ids=lambda t: t.__name__)
def test_events_are_frozen(event_type):
    event = EXAMPLES[event_type]
    with pytest.raises(ValidationError):
        event.station_id = "210100/210112/other-01"
    with pytest.raises(ValidationError):
        event.demand_id = uuid4()
    assert event == EXAMPLES[event_type]


def test_nested_parts_are_frozen():
    event = EXAMPLES[DemandSubmitted]
    with pytest.raises(ValidationError):
        event.enterprise.name = "别的公司"
    rating = EXAMPLES[Rated]
    with pytest.raises(ValidationError):
        rating.answers.overall = "dissatisfied"


def test_caused_keeps_correlation_and_names_the_cause():
    cause = f.submitted()
    follow = cause.caused(Resolved, outcome="met", summary="done", resolved_by="someone", resolved_at=f.T0)
    assert isinstance(follow, Resolved)
    assert follow.correlation_id == cause.correlation_id
    assert follow.causation_id == cause.event_id
    assert follow.event_id != cause.event_id
    assert follow.station_id == cause.station_id
    assert follow.demand_id == cause.demand_id
    assert follow.tracking_no == cause.tracking_no
    assert cause.causation_id is None


def test_caused_chains():
    s = f.submitted()
    a = f.assigned(s)
    r = a.caused(Resolved, outcome="met", summary="done", resolved_by="x", resolved_at=f.T0)
    assert r.correlation_id == s.correlation_id
    assert r.causation_id == a.event_id


def test_fresh_events_get_distinct_ids():
    a, b = f.submitted(), f.submitted()
    assert a.event_id != b.event_id


def test_event_types_routing_keys():
    assert set(EVENT_TYPES) == {
        "demand.submitted",
        "demand.assigned",
        "demand.resolved",
        "demand.rated",
        "demand.archived",
        "demand.rating_link_issued",
        "demand.corrected",
        "demand.returned",
        "demand.refused",
        "demand.merged",
        "demand.withdrawn",
        "demand.followed_up",
        "demand.paused",
        "demand.resumed",
        "demand.extension_requested",
        "demand.extension_decided",
        "demand.warned",
        "demand.chased",
        "demand.supervised",
        "demand.supervision_answered",
        "demand.rating_verified",
        "demand.reopened",
        "demand.rating_voided",
        "demand.revisited",
        "complaint.updated",
        "visit.recorded",
        "special_task.assigned",
        "special_task.reported",
        "station.registered",
        "calendar.corrected",
    }
    assert EVENT_TYPES["calendar.corrected"] is CalendarCorrected
    assert EVENT_TYPES["demand.submitted"] is DemandSubmitted
    assert EVENT_TYPES["demand.assigned"] is Assigned
    assert EVENT_TYPES["demand.resolved"] is Resolved
    assert EVENT_TYPES["demand.rated"] is Rated
    assert EVENT_TYPES["demand.archived"] is Archived
    assert (
        FollowUpRecorded,
        CasePaused,
        CaseResumed,
        ExtensionRequested,
        ExtensionDecided,
        DeadlineWarned,
        CaseChased,
        CaseSupervised,
        SupervisionAnswered,
    ) == FOLLOWING
    assert all(EVENT_TYPES[t.routing_key] is t for t in FOLLOWING)
    for key, event_type in EVENT_TYPES.items():
        assert event_type.routing_key == key


def test_routing_key_is_not_a_payload_field():
    data = json.loads(EXAMPLES[Rated].model_dump_json())
    assert "routing_key" not in data


def test_queue_names():
    assert queue_name("tracking", Resolved) == "tracking.demand.resolved"
    assert queue_name("archive", DemandSubmitted) == "archive.demand.submitted"
    assert dead_letter_queue_name("tracking.demand.resolved") == "tracking.demand.resolved.dlq"
    assert dead_letter_queue_name(queue_name("evaluation", Assigned)) == "evaluation.demand.assigned.dlq"
    assert queue_name("archive", FollowUpRecorded) == "archive.demand.followed_up"
    assert queue_name("intake", CasePaused) == "intake.demand.paused"
    assert queue_name("intake", ExtensionDecided) == "intake.demand.extension_decided"


def test_submitted_requires_a_category_and_positive_time_limit():
    data = json.loads(EXAMPLES[DemandSubmitted].model_dump_json())
    with pytest.raises(ValidationError):
        DemandSubmitted.from_json(json.dumps({**data, "categories": []}))
    with pytest.raises(ValidationError):
        DemandSubmitted.from_json(json.dumps({**data, "time_limit_days": 0}))


def test_assignment_no_and_round_start_at_one():
    data = json.loads(EXAMPLES[Assigned].model_dump_json())
    with pytest.raises(ValidationError):
        Assigned.from_json(json.dumps({**data, "assignment_no": 0}))
    with pytest.raises(ValidationError):
        Assigned.from_json(json.dumps({**data, "round": 0}))
    del data["round"]
    assert Assigned.from_json(json.dumps(data)).round == 1


def test_rating_stars_are_one_to_five():
    data = json.loads(EXAMPLES[Rated].model_dump_json())
    data["answers"]["station_service"] = 6
    with pytest.raises(ValidationError):
        Rated.from_json(json.dumps(data))
    data["answers"]["station_service"] = 0
    with pytest.raises(ValidationError):
        Rated.from_json(json.dumps(data))


def test_every_channel_and_green_channel_reason_has_a_chinese_label():
    from shared.contracts import Channel, GreenChannel

    for member in [*Channel, *GreenChannel]:
        assert member.label and not member.label.isascii(), member


# --------------------------------------------------------------------------- closings: one rule, one detail


def test_each_closing_has_its_kind_and_one_label():
    assert {c: (c.kind, c.label) for c in CLOSINGS} == {
        DemandRefused: ("refused", "否定备案"),
        DemandMerged: ("merged", "已并单"),
        DemandWithdrawn: ("withdrawn", "已撤回"),
    }
    assert all(Closing.of_kind(c.kind) is c for c in CLOSINGS)
    with pytest.raises(KeyError):
        Closing.of_kind("resolved")
    assert "kind" not in DemandRefused.model_fields and "label" not in DemandRefused.model_fields


def _closings() -> dict[str, Closing]:
    return {e.kind: e for e in EXAMPLES.values() if isinstance(e, Closing)}


def test_of_two_closings_the_earlier_wins_then_the_smaller_event_id():
    refused = _closings()["refused"]
    withdrawn = _closings()["withdrawn"].model_copy(update={"closed_at": refused.closed_at + timedelta(seconds=1)})
    assert refused.precedes(withdrawn.closed_at, withdrawn.event_id)
    assert not withdrawn.precedes(refused.closed_at, refused.event_id)
    assert withdrawn.precedes(None, None)  # nothing known yet
    assert not refused.precedes(refused.closed_at, refused.event_id)  # the same closing again changes nothing
    # Made at the same instant: the event id decides, the same way whichever is known.
    a, b = sorted(
        (refused, withdrawn.model_copy(update={"closed_at": refused.closed_at})), key=lambda e: str(e.event_id)
    )
    assert a.precedes(b.closed_at, b.event_id) and not b.precedes(a.closed_at, a.event_id)
    # The same instant in another zone is the same instant.
    china = refused.closed_at.astimezone(timezone(timedelta(hours=8)))
    assert not refused.precedes(china, refused.event_id)
    # A closing known without its event id (kept before ids were) wins a tie, as the first one seen did before.
    assert not a.precedes(a.closed_at, None) and a.precedes(a.closed_at + timedelta(microseconds=1), None)


def test_the_detail_of_each_closing():
    closings = _closings()
    common = ("kind", "label", "reason", "closed_by", "closed_at", "assignment_count")
    refused, merged, withdrawn = (closings[k].detail() for k in ("refused", "merged", "withdrawn"))
    assert tuple(refused) == (*common, "basis")
    assert tuple(merged) == (*common, "merged_into", "merged_into_tracking_no")
    assert tuple(withdrawn) == (*common, "by_enterprise")
    source = closings["merged"]
    assert merged == {
        "kind": "merged",
        "label": "已并单",
        "reason": source.reason,
        "closed_by": source.closed_by,
        "closed_at": source.model_dump(mode="json")["closed_at"],
        "assignment_count": 1,
        "merged_into": str(source.merged_into),
        "merged_into_tracking_no": "2026-000002",
    }
    assert refused["basis"] == "《条例》第十条" and withdrawn["by_enterprise"] is True
    json.dumps(merged)  # ready for a jsonb column or a dossier as it is
    python = source.detail(mode="python")
    assert (python["closed_at"], python["merged_into"]) == (source.closed_at, source.merged_into)


# --------------------------------------------------------------------------- following a case (issue 9)

REQUIRED = {
    FollowUpRecorded: ("follow_up_id", "kind", "text", "recorded_by", "recorded_at"),
    CasePaused: ("pause_id", "assignment_no", "reason_kind", "reason", "paused_by", "paused_at"),
    CaseResumed: ("pause_id", "resumed_by", "resumed_at", "paused_working_days", "handling_due_on"),
    ExtensionRequested: (
        "extension_id",
        "assignment_no",
        "requested_by",
        "requested_at",
        "reason",
        "due_on",
        "new_due_on",
    ),
    ExtensionDecided: ("extension_id", "approved", "decided_by", "decided_at", "reason", "due_on", "new_due_on"),
    DeadlineWarned: ("deadline", "due_on", "working_days_left", "warned_on"),
    CaseChased: ("deadline", "due_on", "chased_on", "chased_by"),
    CaseSupervised: (
        "supervision_id",
        "level",
        "supervisor_scope",
        "issued_by",
        "issued_at",
        "comment",
        "reply_due_on",
    ),
    SupervisionAnswered: ("supervision_id", "answered_by", "answered_at", "answer"),
}


def test_the_required_fields_of_each_following_event_are_listed():
    assert set(REQUIRED) == set(FOLLOWING)
    for event_type, fields in REQUIRED.items():
        own = {n for n, info in event_type.model_fields.items() if info.is_required()}
        own -= {"station_id", "demand_id", "correlation_id", "tracking_no"}  # the envelope's, tested above
        assert own == set(fields), event_type.__name__


@pytest.mark.parametrize(
    ("event_type", "field"),
    [(t, field) for t, fields in REQUIRED.items() for field in fields],
    ids=lambda x: x if isinstance(x, str) else x.__name__,
)
def test_a_following_event_without_a_required_field_fails(event_type, field):
    data = json.loads(EXAMPLES[event_type].model_dump_json())
    del data[field]
    with pytest.raises(ValidationError) as info:
        event_type.from_json(json.dumps(data))
    assert any(e["loc"] == (field,) and e["type"] == "missing" for e in info.value.errors())


@pytest.mark.parametrize(
    ("event_type", "field", "value"),
    [
        (FollowUpRecorded, "kind", "gossip"),
        (FollowUpRecorded, "text", ""),
        (CasePaused, "reason_kind", "holiday"),
        (CasePaused, "reason", ""),
        (CasePaused, "assignment_no", 0),
        (CaseResumed, "paused_working_days", -1),
        (ExtensionRequested, "reason", ""),
        (ExtensionRequested, "new_due_on", "2026-02-30"),
        (ExtensionDecided, "approved", "maybe"),
        (DeadlineWarned, "deadline", "lunch"),
        (DeadlineWarned, "working_days_left", -1),
        (CaseSupervised, "level", "province"),
        (SupervisionAnswered, "answer", ""),
    ],
)
def test_a_following_event_with_a_bad_value_fails(event_type, field, value):
    data = json.loads(EXAMPLES[event_type].model_dump_json())
    data[field] = value
    with pytest.raises(ValidationError) as info:
        event_type.from_json(json.dumps(data))
    assert any(e["loc"][0] == field for e in info.value.errors())


def test_optional_fields_of_following_events_have_their_defaults():
    data = json.loads(EXAMPLES[FollowUpRecorded].model_dump_json())
    del data["appointment"], data["recorded_by_org"]
    back = FollowUpRecorded.from_json(json.dumps(data))
    assert back.appointment is None and back.recorded_by_org is None
    data = json.loads(EXAMPLES[DeadlineWarned].model_dump_json())
    del data["notify"]
    assert DeadlineWarned.from_json(json.dumps(data)).notify == []
    data = json.loads(EXAMPLES[CaseSupervised].model_dump_json())
    del data["escalated_from"], data["deadline"]
    back = CaseSupervised.from_json(json.dumps(data))
    assert back.escalated_from is None and back.deadline is None
    data = json.loads(EXAMPLES[CaseResumed].model_dump_json())
    del data["note"]
    assert CaseResumed.from_json(json.dumps(data)).note is None


def test_an_appointment_says_when_where_and_who_and_is_frozen():
    follow_up = EXAMPLES[FollowUpRecorded]
    assert follow_up.kind == FollowUpKind.appointment
    appointment = follow_up.appointment
    assert (appointment.on, appointment.at) == (date(2026, 10, 9), time(9, 30))
    data = json.loads(follow_up.model_dump_json())
    assert data["appointment"] == {
        "on": "2026-10-09",
        "at": "09:30:00",
        "place": "企业二号车间",
        "attendees": "张晓燕、市计量测试院李工",
    }
    with pytest.raises(ValidationError):
        appointment.place = "别处"
    # a time of day is optional; the day, the place and who goes are not
    assert Appointment(on=date(2026, 10, 9), place="站内", attendees="张晓燕").at is None
    for missing in ("on", "place", "attendees"):
        partial = {k: v for k, v in data["appointment"].items() if k != missing}
        with pytest.raises(ValidationError):
            Appointment.model_validate(partial)
    with pytest.raises(ValidationError):
        Appointment(on=date(2026, 10, 9), place="", attendees="张晓燕")
    # a newer producer's nested field is dropped, like any other
    data["appointment"]["room"] = "302"
    assert FollowUpRecorded.from_json(json.dumps(data)) == follow_up


def test_every_following_enum_has_a_chinese_label():
    for member in [*FollowUpKind, *PauseReason, *DeadlineKind, *SupervisionLevel]:
        assert member.label and not member.label.isascii(), member
    assert PauseReason.materials.label == "等待企业补充材料" and DeadlineKind.handling.label == "办结时限"


@pytest.mark.parametrize(
    ("station_id", "printed"),
    [
        ("210100/210112/hunnan-01", "hunnan-01-2026-000001"),
        ("210100/hunnan-01", "hunnan-01-2026-000001"),
        ("210000/210100/210112/x", "x-2026-000001"),
    ],
)
def test_the_printed_tracking_number_leads_with_the_station_code(station_id, printed):
    assert printed_tracking_no(station_id, "2026-000001") == printed


def test_printed_tracking_numbers_of_two_stations_differ():
    a = printed_tracking_no("210100/210112/hunnan-01", "2026-000001")
    b = printed_tracking_no("440100/440113/panyu-01", "2026-000001")
    assert a != b and a.endswith("2026-000001") and b.endswith("2026-000001")


def test_a_complaint_round_trips_and_is_locked_per_complaint_whether_or_not_it_concerns_a_demand():
    about_a_demand = ae.complaint(f.submitted())
    general = ae.complaint()
    for complaint in (about_a_demand, general):
        assert ComplaintUpdated.from_json(complaint.model_dump_json()) == complaint
        assert complaint.lock_key == f"complaint:{complaint.complaint_id}"
    assert general.demand_id is None and about_a_demand.demand_id is not None
    assert EVENT_TYPES["complaint.updated"] is ComplaintUpdated
