"""Archive's use cases on a fake unit of work: no PostgreSQL, the same rules."""

import itertools
import random
from datetime import UTC, datetime

import pytest

from services.archive import domain, usecases
from services.archive.domain import Dossier, Kept, LoggedEvent, Supplement
from services.archive.store import Logged
from shared.auth import Principal, Role, in_scope
from shared.contracts import Answers, Archived, Finding, Outcome, Overall, Rated, RatingSource, Resolved
from shared.errors import NotFound
from tests.support import aftercare_events as ae
from tests.support import events as ev
from tests.support import following_events as fe
from tests.support import rehandling_events as re_
from tests.support.fake_uow import FakeUnitOfWork
from tests.unit import factories as f

HEAD = Principal(subject="head-1", name="周站长", role=Role.head, station=f.STATION)
SUPERVISOR = Principal(subject="sup-1", name="市局", role=Role.supervisor, station="210100")
OTHER_HEAD = Principal(subject="head-2", name="梁站长", role=Role.head, station="440100/440113/panyu-01")
SEALED_AT = datetime(2026, 10, 12, 9, 30, tzinfo=UTC)


class FakeStore:
    def __init__(self) -> None:
        self.log: list[tuple] = []  # (demand_id, LoggedEvent)
        self.dossiers: dict = {}
        self.serials: dict = {}
        self.access: list[tuple] = []
        self.added: list[Supplement] = []
        self.read_back: list[bool] = []  # whether each logging read the demand's log back

    async def log_event(self, event, *, read_back=False) -> Logged:
        self.read_back.append(read_back)
        sealed = self.dossiers.get(event.demand_id)
        disposed = sealed is not None and sealed.disposed_at is not None
        if not disposed and all(e.event_id != event.event_id for _, e in self.log):
            logged = LoggedEvent(event.event_id, event.routing_key, event.occurred_at, event.model_dump(mode="json"))
            self.log.append((event.demand_id, logged))
        events = await self.events(event.demand_id) if read_back and sealed is None else []
        return Logged(sealed=sealed is not None, disposed=disposed, events=events)

    async def events(self, demand_id):
        return [e for d, e in self.log if d == demand_id]

    async def next_serial(self, station_id, year):
        self.serials[station_id, year] = self.serials.get((station_id, year), 0) + 1
        return self.serials[station_id, year]

    async def number(self, station_id, year):
        return await self.next_serial(station_id, year), None  # the three-year minimum

    async def insert_dossier(self, d: Dossier) -> Dossier:
        assert d.demand_id not in self.dossiers, "a sealed dossier is never written twice"
        self.dossiers[d.demand_id] = d
        return d

    async def retention(self, station_id):
        return None  # the three-year minimum

    async def get_in_scope(self, demand_id, scope):
        d = self.dossiers.get(demand_id)
        return Kept(d, d.retain_until, False) if d is not None and scope and in_scope(d.station_id, scope) else None

    async def open_in_scope(self, demand_id, scope):
        kept = await self.get_in_scope(demand_id, scope)
        return (kept, await self.supplements(demand_id), await self.holds(demand_id)) if kept else None

    async def list_in_scope(self, scope, limit, offset, search=None):
        self.searched = search  # the search itself is SQL (tests/integration/test_archive_search.py)
        found = [d for d in self.dossiers.values() if in_scope(d.station_id, scope)][offset : offset + limit]
        return [Kept(d, d.retain_until, False) for d in found]

    async def dossiers_after(self, demand_id, limit):
        ordered = sorted(self.dossiers.values(), key=lambda d: d.demand_id)
        return [d for d in ordered if demand_id is None or d.demand_id > demand_id][:limit]

    async def log_access(self, *, action, station_id, subject, role, demand_id=None, **_) -> None:
        self.access.append((demand_id, subject, role) if action == "dossier.read" else (action, station_id, subject))

    async def holds(self, demand_id):
        return []

    async def supplements(self, demand_id):
        return [s for s in self.added if s.demand_id == demand_id]

    async def add_supplement(self, s: Supplement) -> None:
        assert (s.demand_id, s.supplement_no) not in {(x.demand_id, x.supplement_no) for x in self.added}
        self.added.append(s)


@pytest.fixture
def uow():
    return FakeUnitOfWork(FakeStore(), consumer="archive")


def resolved_answering(assignment, *, round: int = 1) -> Resolved:
    """A resolution as tracking builds it now: caused by the assignment it answers, naming its number."""
    return assignment.caused(
        Resolved,
        occurred_at=f.at(10 + round),
        round=round,
        assignment_no=assignment.assignment_no,
        outcome=Outcome.met,
        summary="已完成检定并出具证书",
        resolved_by="市计量测试院",
        resolved_at=f.at(10 + round),
    )


def rating_of(resolution: Resolved, overall: Overall = Overall.satisfied) -> Rated:
    """A rating as evaluation builds it now: caused by the resolution it rates."""
    return resolution.caused(
        Rated,
        occurred_at=f.at(15 + resolution.round),
        round=resolution.round,
        answers=Answers(station_service=5, problem_solved=True, overall=overall),
        source=RatingSource.online,
        rated_at=f.at(15 + resolution.round),
    )


def rematched_history():
    """Submitted, assigned, rematched, resolved by the second assignee, rated: all five needed."""
    s = f.submitted()
    a1, a2 = f.assigned(s, no=1), f.assigned(s, no=2)
    r = resolved_answering(a2)
    return s, a1, a2, r, rating_of(r)


async def _collect(uow, *events):
    for event in events:
        await uow.handle(event, usecases.collect)


async def test_a_full_history_seals_one_dossier_caused_by_the_closing_rating(uow):
    s = f.submitted()
    a = f.assigned(s)
    r = resolved_answering(a)
    rating = rating_of(r)
    await _collect(uow, s, a, r, rating)
    dossier = uow.store.dossiers[s.demand_id]
    assert dossier.archive_no.endswith("-000001") and len(dossier.content["assignments"]) == 1
    [archived] = uow.events(Archived)
    assert archived.causation_id == rating.event_id and archived.correlation_id == s.correlation_id
    assert (archived.archive_no, archived.content_sha256, archived.event_count) == (
        dossier.archive_no,
        dossier.content_sha256,
        4,
    )


@pytest.mark.parametrize("order", list(itertools.permutations(range(5))), ids=lambda o: "".join(map(str, o)))
async def test_every_arrival_order_seals_once_after_the_last_needed_event_with_both_assignments(uow, order):
    history = rematched_history()
    s, a1, a2 = history[:3]
    for step, i in enumerate(order):
        await uow.handle(history[i], usecases.collect)
        sealed = s.demand_id in uow.store.dossiers
        assert sealed == (step == len(order) - 1), f"sealed={sealed} after {step + 1} of 5 events"
    assert len(uow.events(Archived)) == 1
    dossier = uow.store.dossiers[s.demand_id]
    assert [a["assignment_no"] for a in dossier.content["assignments"]] == [1, 2]
    assert {a["event_id"] for a in dossier.content["assignments"]} == {str(a1.event_id), str(a2.event_id)}
    assert uow.events(Archived)[0].causation_id == history[4].event_id


async def test_a_rating_waits_for_the_resolution_it_names(uow):
    s, a1, a2, r, rating = rematched_history()
    earlier = resolved_answering(a1)  # e.g. the first assignee's resolution, not the one rated
    await _collect(uow, s, a1, a2, earlier, rating)
    assert uow.store.dossiers == {}
    assert f"event {r.event_id} that rating {rating.event_id} answers" in domain.missing(
        await uow.store.events(s.demand_id)
    )
    await _collect(uow, r)
    assert s.demand_id in uow.store.dossiers


async def test_an_older_resolution_without_its_assignment_number_needs_an_assignment(uow):
    s = f.submitted()
    await _collect(uow, s, f.resolved(s), f.rated(s))
    assert uow.store.dossiers == {}
    assert domain.missing(await uow.store.events(s.demand_id)) == ["demand.assigned #1"]
    await _collect(uow, f.assigned(s))
    assert len(uow.store.dossiers[s.demand_id].content["assignments"]) == 1


async def test_a_dissatisfied_rating_keeps_it_open_until_the_next_round_is_rated(uow):
    s = f.submitted()
    a1 = f.assigned(s)
    r1 = resolved_answering(a1)
    dissatisfied = rating_of(r1, Overall.dissatisfied)
    await _collect(uow, s, a1, r1, dissatisfied)
    assert uow.store.dossiers == {}
    verification = re_.verified(dissatisfied, Finding.founded, at=f.at(17))
    await _collect(uow, verification, re_.reopened(verification, at=f.at(17)))
    a2 = f.assigned(s, no=2, round=2)
    r2 = resolved_answering(a2, round=2)
    await _collect(uow, a2, r2)
    assert uow.store.dossiers == {}
    closing = rating_of(r2)
    await _collect(uow, closing)
    dossier = uow.store.dossiers[s.demand_id]
    assert len(dossier.content["ratings"]) == 2 and dossier.content["outcome"]["round"] == 2
    assert uow.events(Archived)[0].causation_id == closing.event_id


async def test_an_event_after_sealing_is_logged_and_the_dossier_never_changes(uow):
    history = rematched_history()
    await _collect(uow, *history)
    before = uow.store.dossiers[history[0].demand_id]
    late = f.rated(history[0], overall=Overall.very_satisfied)
    await _collect(uow, late)
    assert uow.store.dossiers[history[0].demand_id] == before
    assert late.event_id in {e.event_id for e in await uow.store.events(history[0].demand_id)}
    assert len(uow.events(Archived)) == 1


async def test_reading_a_dossier_is_logged_and_another_station_is_refused(uow):
    history = rematched_history()
    await _collect(uow, *history)
    demand_id = history[0].demand_id
    kept, supplements, holds = await usecases.get_dossier(uow, HEAD, demand_id)
    assert kept.dossier.demand_id == demand_id and supplements == [] and holds == []
    assert uow.store.access == [(demand_id, "head-1", "head")]
    with pytest.raises(NotFound):
        await usecases.get_dossier(uow, OTHER_HEAD, demand_id)
    assert len(uow.store.access) == 1  # a refused read is no access


async def test_lists_stay_in_scope(uow):
    await _collect(uow, *rematched_history())
    other = f.submitted(station_id=OTHER_HEAD.station)
    a = f.assigned(other)
    r = resolved_answering(a)
    await _collect(uow, other, a, r, rating_of(r))

    def stations(kept):
        return [k.dossier.station_id for k in kept]

    assert stations(await usecases.list_dossiers(uow, HEAD, None, 100, 0)) == [f.STATION]
    assert stations(await usecases.list_dossiers(uow, SUPERVISOR, f.STATION, 100, 0)) == [f.STATION]
    assert stations(await usecases.list_dossiers(uow, OTHER_HEAD, None, 100, 0)) == [OTHER_HEAD.station]
    # every list read is logged, with its scope (issue 11)
    assert [a for a in uow.store.access if a[0] == "dossier.list"] == [
        ("dossier.list", f.STATION, "head-1"),
        ("dossier.list", f.STATION, "sup-1"),
        ("dossier.list", OTHER_HEAD.station, "head-2"),
    ]
    with pytest.raises(NotFound):
        await usecases.list_dossiers(uow, HEAD, OTHER_HEAD.station, 100, 0)


def _logged(event) -> LoggedEvent:
    return LoggedEvent(event.event_id, event.routing_key, event.occurred_at, event.model_dump(mode="json"))


async def _sealed_short(uow, *, log_the_missing: bool = True):
    """What the old rule did: sealed on submitted, resolved and rated, before the rematch arrived."""
    s, a1, a2, r, rating = rematched_history()
    sealed = [s, a1, r, rating]
    for event in sealed:
        await uow.store.log_event(event)
    await uow.store.insert_dossier(domain.seal([_logged(e) for e in sealed], serial=1, sealed_at=SEALED_AT))
    if log_the_missing:
        await uow.store.log_event(a2)  # it came after sealing
    return s, a2


async def test_the_audit_finds_a_dossier_sealed_short_and_a_supplement_completes_it(uow):
    await _collect(uow, *rematched_history())  # a complete one, never listed
    s, a2 = await _sealed_short(uow)
    [finding], added = await usecases.audit(uow)
    assert added == [] and uow.store.added == []
    assert finding.dossier.demand_id == s.demand_id
    assert finding.lacking == ["demand.assigned #2"] and [e.event_id for e in finding.unattached] == [a2.event_id]

    remaining, [supplement] = await usecases.audit(uow, supplement=True)
    assert remaining == []
    assert supplement.supplement_no == 1 and supplement.content["lacked"] == ["demand.assigned #2"]
    assert supplement.content["dossier_sha256"] == finding.dossier.content_sha256
    assert [e["event_id"] for e in supplement.content["events"]] == [str(a2.event_id)]
    kept, supplements, _ = await usecases.get_dossier(uow, HEAD, s.demand_id)
    assert supplements == [supplement] and kept.dossier == finding.dossier  # the sealed dossier itself is untouched
    assert await usecases.audit(uow, supplement=True) == ([], [])  # nothing attached twice


async def test_a_dossier_lacking_an_event_the_archive_never_logged_stays_listed(uow):
    s, a2 = await _sealed_short(uow, log_the_missing=False)
    [finding], added = await usecases.audit(uow, supplement=True)
    assert added == [] and finding.lacking == ["demand.assigned #2"] and finding.unattached == []
    await uow.store.log_event(a2)  # replayed from a DLQ, say
    assert await usecases.audit(uow, supplement=True) == ([], uow.store.added)
    assert len(uow.store.added) == 1


# --------------------------------------------------------------------------- refused, merged, withdrawn (issue 8)

CLOSINGS = {"refused": ev.refused, "merged": ev.merged, "withdrawn": ev.withdrawn}


def returned_and_closed(kind: str):
    """Submitted, corrected, assigned, returned, rematched, then closed after two assignments."""
    s = f.submitted()
    return (
        s,
        ev.corrected(s, at=f.at(2)),
        f.assigned(s, no=1),
        ev.returned(s, 1, at=f.at(5)),
        f.assigned(s, no=2),
        CLOSINGS[kind](s, assignment_count=2, at=f.at(9)),
    )


NEEDED = (0, 2, 4, 5)  # the submission, both assignments, the closing; the correction and return are not proof


@pytest.mark.parametrize("kind", CLOSINGS)
@pytest.mark.parametrize("order", list(itertools.permutations(range(6)))[::7], ids=lambda o: "".join(map(str, o)))
async def test_a_closed_demand_is_sealed_once_its_history_is_complete_in_any_order(uow, kind, order):
    history = returned_and_closed(kind)
    s, closing = history[0], history[5]
    for step, i in enumerate(order):
        await uow.handle(history[i], usecases.collect)
        complete = set(NEEDED) <= set(order[: step + 1])
        assert (s.demand_id in uow.store.dossiers) == complete, f"after {step + 1} of 6"
    [archived] = uow.events(Archived)
    assert archived.causation_id == closing.event_id and archived.correlation_id == s.correlation_id
    dossier = uow.store.dossiers[s.demand_id]
    assert dossier.outcome == kind and dossier.content["outcome"]["reason"] == closing.reason
    assert [a["assignment_no"] for a in dossier.content["assignments"]] == [1, 2]
    # what came before sealing is in its section; what came after is logged for the audit to attach
    sealed_with = set(order[: max(order.index(i) for i in NEEDED) + 1])
    assert len(dossier.content["returns"]) == (3 in sealed_with)
    assert len(dossier.content["corrections"]) == (1 in sealed_with)
    findings, _ = await usecases.audit(uow)
    assert bool(findings) == (not {1, 3} <= sealed_with)


async def test_archive_numbers_run_on_across_resolved_and_closed_dossiers(uow):
    await _collect(uow, *rematched_history())
    await _collect(uow, *returned_and_closed("refused"))
    await _collect(uow, *returned_and_closed("merged"))
    numbers = sorted(d.archive_no for d in uow.store.dossiers.values())
    assert [n[-6:] for n in numbers] == ["000001", "000002", "000003"]
    assert {d.outcome for d in uow.store.dossiers.values()} == {"resolved", "refused", "merged"}


async def test_a_duplicate_closing_is_collected_once(uow):
    s = f.submitted()
    closing = ev.withdrawn(s, at=f.at(9))
    assert await uow.handle(closing, usecases.collect)
    assert not await uow.handle(closing, usecases.collect)
    await _collect(uow, s)
    assert len(uow.events(Archived)) == 1 and len(await uow.store.events(s.demand_id)) == 2


async def test_a_return_after_a_resolved_seal_is_supplemented_by_the_audit(uow):
    history = rematched_history()
    await _collect(uow, *history)
    late = ev.returned(history[0], 1, at=f.at(5))
    await _collect(uow, late)
    [finding], _ = await usecases.audit(uow)
    assert finding.lacking == [] and [e.event_id for e in finding.unattached] == [late.event_id]
    remaining, [added] = await usecases.audit(uow, supplement=True)
    assert remaining == [] and added.content["events"][0]["type"] == "demand.returned"
    assert len(uow.events(Archived)) == 1


# --------------------------------------------------------------------------- following a case (issue 9)

FOLLOWING_SECTIONS = {
    "demand.followed_up": "follow_ups",
    "demand.paused": "pauses",
    "demand.resumed": "resumptions",
    "demand.extension_requested": "extension_requests",
    "demand.extension_decided": "extension_decisions",
    "demand.warned": "warnings",
    "demand.chased": "chases",
    "demand.supervised": "supervisions",
    "demand.supervision_answered": "supervision_answers",
}


async def test_the_following_of_a_case_is_in_the_sealed_record_one_section_per_kind(uow):
    s, a1, a2, r, rating = rematched_history()
    following = fe.one_of_each(a2, at=f.at(8))
    await _collect(uow, s, a1, a2, *following, r)
    assert uow.store.dossiers == {}, "following a case is no reason to seal"
    await _collect(uow, rating)
    dossier = uow.store.dossiers[s.demand_id]
    for event in following:
        [kept] = dossier.content[FOLLOWING_SECTIONS[event.routing_key]]
        assert kept == event.model_dump(mode="json")
    assert dossier.content["follow_ups"][0]["appointment"]["place"] == "企业二号车间"
    assert len(dossier.content["events"]) == 5 + len(following)
    assert uow.events(Archived)[0].event_count == 5 + len(following)
    assert domain.recorded(dossier) and {e.event_id for e in domain.recorded(dossier)} == {
        e.event_id for e in (s, a1, a2, r, rating, *following)
    }
    assert await usecases.audit(uow) == ([], [])


async def test_sealing_never_waits_for_following_and_a_late_one_is_supplemented(uow):
    history = rematched_history()
    await _collect(uow, *history)
    assert history[0].demand_id in uow.store.dossiers
    dossier = uow.store.dossiers[history[0].demand_id]
    assert all(dossier.content[section] == [] for section in FOLLOWING_SECTIONS.values())
    late = fe.followed_up(history[2], at=f.at(20), text="回访：企业对结果满意")
    await _collect(uow, late)
    assert uow.store.dossiers[history[0].demand_id] == dossier and len(uow.events(Archived)) == 1
    [finding], _ = await usecases.audit(uow)
    assert finding.lacking == [] and [e.event_id for e in finding.unattached] == [late.event_id]
    remaining, [added] = await usecases.audit(uow, supplement=True)
    assert remaining == [] and added.content["events"][0]["type"] == "demand.followed_up"


async def test_following_before_the_submission_changes_nothing_until_the_record_is_complete(uow):
    s = f.submitted()
    pause = fe.paused(s, at=f.at(3))
    await _collect(uow, pause, fe.resumed(pause, at=f.at(4)), ev.withdrawn(s, at=f.at(9)))
    assert uow.store.dossiers == {} and domain.missing(await uow.store.events(s.demand_id)) == ["demand.submitted"]
    await _collect(uow, s)
    dossier = uow.store.dossiers[s.demand_id]
    assert dossier.outcome == "withdrawn" and len(dossier.content["pauses"]) == len(dossier.content["resumptions"]) == 1


def test_every_demand_event_but_archived_has_a_section_of_the_dossier():
    from shared.contracts import AFTERCARE, DISPOSITIONS, FOLLOWING, LIFECYCLE, REHANDLING

    # AFTERCARE: the re-visits, and the complaints that concern a demand.
    kept = {t.routing_key for t in (*LIFECYCLE, *DISPOSITIONS, *FOLLOWING, *REHANDLING, *AFTERCARE)} - {
        Archived.routing_key
    }
    assert set(domain.SECTIONS) == kept
    assert {k: domain.SECTIONS[k] for k in FOLLOWING_SECTIONS} == FOLLOWING_SECTIONS


# --------------------------------------------------------------------------- reading the log back (issue 14)


@pytest.mark.parametrize("seed", range(12))
def test_only_an_event_the_sealing_rule_reads_changes_what_a_record_lacks(seed):
    """So an event of any other kind need not read the log back: the record lacks what it lacked before it came."""
    s = f.submitted()
    a1 = f.assigned(s)
    r1 = resolved_answering(a1)
    dissatisfied = rating_of(r1, Overall.dissatisfied)
    verification = re_.verified(dissatisfied, Finding.founded, at=f.at(17))
    a2 = f.assigned(s, no=2, round=2)
    r2 = resolved_answering(a2, round=2)
    decisive = [s, a1, ev.returned(s, 1, at=f.at(5)), r1, dissatisfied, verification]
    decisive += [re_.reopened(verification, at=f.at(17)), re_.voided(dissatisfied, at=f.at(18)), a2, r2, rating_of(r2)]
    closings = [
        ev.refused(s, 2, at=f.at(21)),
        ev.merged(s, assignment_count=2, at=f.at(22)),
        ev.withdrawn(s, 2, at=f.at(23)),
    ]
    others = [ev.corrected(s, at=f.at(2)), *fe.one_of_each(a1, at=f.at(6))]
    others += [ae.revisited(r2, at=f.at(19)), ae.complaint(s, at=f.at(20))]
    story = [_logged(e) for e in decisive + others]
    assert {e.routing_key for e in story + [_logged(c) for c in closings]} == set(domain.SECTIONS), "every kind"
    assert {e.routing_key for e in decisive + closings} == domain.DECISIVE
    random.Random(seed).shuffle(story)
    if seed % 2:  # closed half the time, the closing somewhere in the story
        story.insert(seed % len(story), _logged(closings[seed % 3]))
    for n in range(len(story) + 1):
        told = story[:n]
        assert domain.missing(told) == domain.missing([e for e in told if domain.may_complete(e.routing_key)])


async def test_the_log_is_read_back_only_for_an_event_that_may_complete_the_record(uow):
    s, a1, a2, r, rating = rematched_history()
    await _collect(uow, s, fe.followed_up(a2, at=f.at(8)), a1, ev.corrected(s, at=f.at(2)), a2, r)
    assert uow.store.read_back == [True, False, True, False, True, True] and uow.store.dossiers == {}
    await _collect(uow, rating)
    dossier = uow.store.dossiers[s.demand_id]
    assert len(dossier.content["follow_ups"]) == len(dossier.content["corrections"]) == 1
