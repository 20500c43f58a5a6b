"""The archive's sealing rule across rounds (issue 10): 不满意 → 核实 → 重办 → second rating; appeal (void).

The rule is a function of the set of events the archive has logged, so "sealed once, after the last needed
event, whatever the arrival order" is the same as "no proper subset of a history is complete": every subset
of each history below is tried (2^n of them), which covers every order the events may arrive in.
"""

import itertools
import random
from datetime import UTC, date, datetime

import pytest

from services.archive import domain, usecases
from services.archive.domain import LoggedEvent
from shared.contracts import (
    FINAL_ROUND,
    Answers,
    Archived,
    Assigned,
    Event,
    Finding,
    Outcome,
    Overall,
    Rated,
    RatingSource,
    Resolved,
)
from tests.support import events as ev
from tests.support import rehandling_events as re_
from tests.support.fake_uow import FakeUnitOfWork
from tests.unit import factories as f
from tests.unit.test_archive_usecases import FakeStore


def at(hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 10, 8, hour, minute, tzinfo=UTC)  # round 2 happens days after round 1 (f.at: 30 Sept)


def resolution(assignment: Assigned, when: datetime) -> Resolved:
    """As tracking builds it: caused by the assignment it answers, naming its number, in its round."""
    return assignment.caused(
        Resolved,
        occurred_at=when,
        round=assignment.round,
        assignment_no=assignment.assignment_no,
        outcome=Outcome.met,
        summary=f"第 {assignment.round} 轮：已完成检定并出具证书",
        resolved_by=assignment.assignee_name,
        resolved_at=when,
    )


def rating(resolved: Resolved, overall: Overall, when: datetime) -> Rated:
    """As evaluation builds it: caused by the resolution it rates, in its round."""
    return resolved.caused(
        Rated,
        occurred_at=when,
        round=resolved.round,
        answers=Answers(station_service=5 if overall != Overall.dissatisfied else 1, overall=overall),
        source=RatingSource.online,
        rated_at=when,
    )


def round_one(*, rematched: bool = False) -> dict[str, Event]:
    """Submitted, assigned (and rematched), resolved, rated 不满意."""
    s = f.submitted()
    h: dict[str, Event] = {"submitted": s, "a1": f.assigned(s, no=1)}
    last = h["a1"]
    if rematched:
        h["a2"] = last = f.assigned(s, no=2)
    h["r1"] = resolution(last, f.at(11))
    h["rating1"] = rating(h["r1"], Overall.dissatisfied, f.at(16))
    return h


def two_rounds(second: Overall = Overall.satisfied, *, rematched: bool = False) -> dict[str, Event]:
    """Round one rated 不满意, verified founded, reopened; round two assigned, resolved, rated `second`."""
    h = round_one(rematched=rematched)
    count = 2 if rematched else 1
    h["verification"] = re_.verified(h["rating1"], Finding.founded, at=at(9))
    h["reopened"] = re_.reopened(h["verification"], at=at(9), due_on=date(2026, 10, 15)).model_copy(
        update={"assignment_count": count}
    )
    s = h["submitted"]
    no = count + 1
    h[f"a{no}"] = f.assigned(s, no=no, round=2, due_on=date(2026, 10, 15), occurred_at=at(10))
    h["r2"] = resolution(h[f"a{no}"], at(14))
    h["rating2"] = rating(h["r2"], second, at(16))
    return h


def logged(*events: Event) -> list[LoggedEvent]:
    return [LoggedEvent(e.event_id, e.routing_key, e.occurred_at, e.model_dump(mode="json")) for e in events]


def complete_subsets(history: dict[str, Event]) -> list[tuple[str, ...]]:
    """Every subset of the history's events the rule calls complete."""
    names = list(history)
    return [
        subset
        for n in range(len(names) + 1)
        for subset in itertools.combinations(names, n)
        if domain.ready_to_seal(logged(*(history[k] for k in subset)))
    ]


def unfounded(finding: Finding = Finding.unfounded) -> dict[str, Event]:
    h = round_one()
    return h | {"verification": re_.verified(h["rating1"], finding, at=at(9))}


def voided() -> dict[str, Event]:
    h = round_one()
    return h | {"void": re_.voided(h["rating1"], at=at(9))}


HISTORIES = {
    "re-handled, second rating 满意": lambda: two_rounds(Overall.satisfied),
    "re-handled, second rating 一般": lambda: two_rounds(Overall.average),
    "re-handled, second rating 不满意 (final)": lambda: two_rounds(Overall.dissatisfied),
    "rematched in round one, re-handled": lambda: two_rounds(rematched=True),
    "不满意, verified unfounded": unfounded,
    "不满意, enterprise unreachable": lambda: unfounded(Finding.unreachable),
    "不满意, rating voided on appeal": voided,
}


@pytest.mark.parametrize("name", HISTORIES)
def test_only_the_whole_history_is_complete_so_any_arrival_order_seals_once_after_the_last(name):
    history = HISTORIES[name]()
    assert complete_subsets(history) == [tuple(history)]


def test_a_dissatisfied_rating_without_verification_or_void_is_never_complete():
    history = round_one()
    assert complete_subsets(history) == []
    assert domain.missing(logged(*history.values())) == [
        "round 1 rated 不满意: awaiting its verification (核实) or appeal (申诉复核)"
    ]


def test_a_founded_verification_waits_for_its_reopening_and_the_whole_second_round():
    h = two_rounds()
    assert domain.missing(logged(*(h[k] for k in ("submitted", "a1", "r1", "rating1", "verification")))) == [
        "demand.reopened round 2",
        "demand.resolved round 2",
        "demand.rated round 2",
    ]
    # the reopening alone (its verification still on the way) names the verification it answers
    without_verification = logged(*(h[k] for k in ("submitted", "a1", "r1", "rating1", "reopened")))
    assert domain.missing(without_verification) == [
        "demand.resolved round 2",
        "demand.rated round 2",
        f"event {h['verification'].event_id} that reopening {h['reopened'].event_id} answers",
    ]
    # round two's resolution names its assignment (no. 2), which must be here
    almost = logged(*(e for k, e in h.items() if k != "a2"))
    assert domain.missing(almost) == ["demand.assigned #2"]


def test_round_two_alone_names_what_round_one_lacks():
    h = two_rounds()
    assert domain.missing(logged(*(h[k] for k in ("submitted", "a2", "r2", "rating2")))) == [
        "demand.resolved round 1",
        "demand.rated round 1",
        "demand.reopened round 2",
        "demand.rating_verified round 1 (founded)",
        "demand.assigned #1",
    ]


def test_a_reopening_proves_the_assignments_before_it_a_rematch_in_round_one_included():
    h = two_rounds(rematched=True)
    lacking = logged(*(e for k, e in h.items() if k != "a2"))  # the rematch of round one never arrived
    assert domain.missing(lacking) == ["demand.assigned #2"]


def test_a_verification_or_void_needs_the_rating_it_names():
    h = unfounded()
    lacking = logged(*(e for k, e in h.items() if k != "rating1"))
    assert domain.missing(lacking) == [
        "demand.rated round 1",
        f"event {h['rating1'].event_id} that verification {h['verification'].event_id} answers",
    ]
    v = voided()
    assert f"event {v['rating1'].event_id} that void {v['void'].event_id} answers" in domain.missing(
        logged(*(e for k, e in v.items() if k != "rating1"))
    )


def test_a_verification_of_another_rating_concludes_nothing():
    h = round_one()
    other = rating(h["r1"], Overall.dissatisfied, f.at(17))  # e.g. a second, later one (should not happen)
    events = logged(*h.values(), re_.verified(other, Finding.unfounded, at=at(9)))
    assert f"event {other.event_id} that verification" in " ".join(domain.missing(events))


def test_a_founded_verification_wins_over_a_void_of_the_same_rating():
    """The case was re-handled; voiding takes the rating out of the figures, it does not end the case."""
    h = two_rounds()
    round_one_only = [h[k] for k in ("submitted", "a1", "r1", "rating1", "verification", "reopened")]
    void = re_.voided(h["rating1"], at=at(11))
    assert domain.missing(logged(*round_one_only, void)) == ["demand.resolved round 2", "demand.rated round 2"]
    assert domain.ready_to_seal(logged(*h.values(), void))


def test_the_final_round_is_final_even_if_verified_founded():
    """Tracking verifies no rating of the final round; one that came anyway reopens nothing here."""
    h = two_rounds(Overall.dissatisfied)
    assert FINAL_ROUND == 2
    stray = re_.verified(h["rating2"], Finding.founded, at=at(18))
    assert domain.current_round(logged(*h.values(), stray)) == 2
    assert domain.ready_to_seal(logged(*h.values(), stray))


def test_a_closing_during_re_handling_needs_the_reopening_and_the_assignments_it_counts():
    h = two_rounds()
    s = h["submitted"]
    refusal = ev.refused(s, assignment_count=2, at=at(12)).model_copy(update={"round": 2})
    before = [h[k] for k in ("submitted", "a1", "r1", "rating1", "verification", "a2")]
    assert domain.missing(logged(*before, refusal)) == ["demand.reopened round 2"]
    assert domain.ready_to_seal(logged(*before, h["reopened"], refusal))


# --------------------------------------------------------------------------- what the sealed record says


def test_a_re_handled_dossier_holds_both_rounds_and_ends_with_the_second_rating():
    h = two_rounds()
    events = logged(*h.values())
    dossier = domain.seal(events, serial=7, sealed_at=at(17))
    c = dossier.content
    assert [r["round"] for r in c["ratings"]] == [1, 2]
    assert [r["answers"]["overall"] for r in c["ratings"]] == ["dissatisfied", "satisfied"]
    assert [v["finding"] for v in c["verifications"]] == ["founded"]
    assert [(r["round"], r["assignment_count"]) for r in c["reopenings"]] == [(2, 1)]
    assert [(a["round"], a["assignment_no"]) for a in c["assignments"]] == [(1, 1), (2, 2)]
    assert [(r["round"], r["assignment_no"]) for r in c["resolutions"]] == [(1, 1), (2, 2)]
    assert c["voids"] == []
    assert c["outcome"] == {
        "kind": "resolved",
        "label": "办结",
        "event_id": str(h["rating2"].event_id),
        "round": 2,
        "rating_event_id": str(h["rating2"].event_id),
        "overall": "satisfied",
        "outcome": "met",
        "summary": "第 2 轮：已完成检定并出具证书",
        "resolved_by": h["r2"].resolved_by,
        "resolved_at": h["r2"].resolved_at.isoformat().replace("+00:00", "Z"),
        # issue 11: the resolution's assignment, fee, deliverables and staff (none recorded in this history)
        "assignment_no": 2,
        "fee": None,
        "deliverables": [],
        "staff_involved": [],
    }
    ids = {k: str(e.event_id) for k, e in h.items()}
    assert c["rounds"] == [
        {
            "round": 1,
            "assignments": [ids["a1"]],
            "returns": [],
            "resolutions": [ids["r1"]],
            "ratings": [ids["rating1"]],
            "verifications": [ids["verification"]],
            "reopenings": [],
            "voids": [],
        },
        {
            "round": 2,
            "assignments": [ids["a2"]],
            "returns": [],
            "resolutions": [ids["r2"]],
            "ratings": [ids["rating2"]],
            "verifications": [],
            "reopenings": [ids["reopened"]],
            "voids": [],
        },
    ]
    assert len(c["events"]) == len(h)
    assert domain.ending(events).event_id == h["rating2"].event_id
    assert {e.event_id for e in domain.recorded(dossier)} == {e.event_id for e in h.values()}


@pytest.mark.parametrize("finding", [Finding.unfounded, Finding.unreachable])
def test_an_unfounded_or_unreachable_verification_ends_it_with_the_finding_in_the_outcome(finding):
    h = unfounded(finding)
    events = logged(*h.values())
    outcome = domain.seal(events, serial=1, sealed_at=at(10)).content["outcome"]
    assert outcome["event_id"] == str(h["verification"].event_id) and outcome["round"] == 1
    assert outcome["rating_event_id"] == str(h["rating1"].event_id) and outcome["overall"] == "dissatisfied"
    assert outcome["verification"]["finding"] == finding.value and outcome["verification"]["label"] == finding.label
    assert outcome["verification"]["reason"] == h["verification"].reason
    assert domain.ending(events).event_id == h["verification"].event_id


def test_a_voided_rating_ends_it_with_the_void_in_the_outcome():
    h = voided()
    events = logged(*h.values())
    outcome = domain.seal(events, serial=1, sealed_at=at(10)).content["outcome"]
    assert outcome["event_id"] == str(h["void"].event_id) and "verification" not in outcome
    assert outcome["void"]["reason"] == h["void"].reason and outcome["void"]["voided_by"] == h["void"].voided_by
    assert domain.ending(events).event_id == h["void"].event_id


def test_a_final_dissatisfied_rating_ends_it_itself():
    h = two_rounds(Overall.dissatisfied)
    events = logged(*h.values())
    assert domain.ending(events).event_id == h["rating2"].event_id
    outcome = domain.outcome(events)
    assert outcome["overall"] == "dissatisfied" and outcome["round"] == 2
    assert "verification" not in outcome and "void" not in outcome


# --------------------------------------------------------------------------- the use case: seal once, late ones after


@pytest.fixture
def uow():
    return FakeUnitOfWork(FakeStore(), consumer="archive")


async def test_archived_answers_what_ended_the_case_and_a_late_void_is_supplemented(uow):
    h = unfounded()
    for event in h.values():
        await uow.handle(event, usecases.collect)
    [archived] = uow.events(Archived)
    assert archived.causation_id == h["verification"].event_id and archived.event_count == len(h)
    sealed = uow.store.dossiers[h["submitted"].demand_id]

    late = re_.voided(h["rating1"], at=at(12))  # an appeal decided after the archive sealed
    await uow.handle(late, usecases.collect)
    assert uow.store.dossiers[h["submitted"].demand_id] == sealed and len(uow.events(Archived)) == 1
    remaining, [added] = await usecases.audit(uow, supplement=True)
    assert remaining == [] and [e["type"] for e in added.content["events"]] == ["demand.rating_voided"]


@pytest.mark.parametrize("seed", range(6))
async def test_a_shuffled_two_round_history_is_sealed_by_its_last_event(uow, seed):
    h = two_rounds()
    order = list(h.values())
    random.Random(seed).shuffle(order)
    for step, event in enumerate(order, start=1):
        await uow.handle(event, usecases.collect)
        assert (h["submitted"].demand_id in uow.store.dossiers) == (step == len(order)), f"after {step}"
    [archived] = uow.events(Archived)
    assert archived.causation_id == h["rating2"].event_id
