"""The archive on the real broker and database after a 不满意 rating (issue 10): a re-handled demand sealed once
with both rounds whatever order its events arrive in; a 不满意 verified unfounded sealed; one never verified not.

Each demand is a real one, registered through intake (which also follows it to the end on its status link);
what the other services would publish after that is published here, each event to its own queues.
"""

import json
import random
from datetime import timedelta
from types import SimpleNamespace
from uuid import UUID

import pytest

from shared.contracts import (
    Answers,
    Assigned,
    DemandSubmitted,
    Event,
    Finding,
    Outcome,
    Overall,
    Rated,
    RatingSource,
    Resolved,
    utcnow,
)
from tests.support import auth, events, infra
from tests.support import rehandling_events as re_
from tests.support.apps import body_of, capture_queue, drain, make_app, publish_event

pytestmark = pytest.mark.integration


@pytest.fixture
async def system(amqp, databases):
    """The archive and intake; the archive first, so it learns the station tree intake announces on start."""
    db = SimpleNamespace(archive=databases("archive"), intake=databases("intake"))
    archive_app = make_app("archive", amqp_url=amqp, database_url=db.archive)
    intake_app = make_app("intake", amqp_url=amqp, database_url=db.intake, public_rate_limit="1000/minute")
    async with infra.running(archive_app) as archive, infra.running(intake_app) as intake:
        await capture_queue(amqp, "test.archived", "demand.archived")
        yield SimpleNamespace(amqp=amqp, db=db, archive=archive, intake=intake)


async def submitted(system) -> tuple[DemandSubmitted, str]:
    """A demand registered at the station's window: its DemandSubmitted as intake publishes it, and its status link."""
    reply = await system.intake.post("/demands", json=events.demand_form(), headers=auth.CLERK)
    assert reply.status_code == 201, reply.text
    demand = reply.json()
    [row] = await infra.fetch(
        system.db.intake,
        "SELECT payload FROM outbox WHERE demand_id = $1 AND routing_key = 'demand.submitted'",
        UUID(demand["demand_id"]),
    )
    return DemandSubmitted.model_validate(json.loads(row["payload"])), "/public/status/" + demand["status_url"].split(
        "/public/status/"
    )[-1]


def assigned(s: DemandSubmitted, no: int, round_: int) -> Assigned:
    return events.assigned(s, no=no).model_copy(update={"round": round_})


def resolution(a: Assigned) -> Resolved:
    """As tracking builds it: caused by the assignment it answers, naming its number, in its round."""
    return a.caused(
        Resolved,
        round=a.round,
        assignment_no=a.assignment_no,
        outcome=Outcome.met,
        summary=f"第 {a.round} 轮：已出具证书",
        resolved_by="市计量测试院",
        resolved_at=utcnow(),
    )


def rating(r: Resolved, overall: Overall) -> Rated:
    """As evaluation builds it: caused by the resolution it rates."""
    return r.caused(
        Rated, round=r.round, answers=Answers(overall=overall), source=RatingSource.online, rated_at=utcnow()
    )


def round_one(s: DemandSubmitted) -> dict[str, Event]:
    a1 = assigned(s, 1, 1)
    r1 = resolution(a1)
    return {"a1": a1, "r1": r1, "rating1": rating(r1, Overall.dissatisfied)}


def two_rounds(s: DemandSubmitted) -> dict[str, Event]:
    """Round one rated 不满意, verified founded and reopened; round two assigned, resolved, rated 满意."""
    h = round_one(s)
    h["verification"] = re_.verified(h["rating1"], Finding.founded)
    h["reopened"] = re_.reopened(h["verification"], due_on=utcnow().date() + timedelta(days=7))
    h["a2"] = assigned(s, 2, 2)
    h["r2"] = resolution(h["a2"])
    h["rating2"] = rating(h["r2"], Overall.satisfied)
    return h


def logged(db: str, demand_id: UUID, n: int):
    async def check():
        return len(await infra.fetch(db, "SELECT 1 FROM event_log WHERE demand_id = $1", demand_id)) >= n

    return check


def dossier_of(db: str, demand_id: UUID):
    async def check():
        rows = await infra.fetch(db, "SELECT archive_no, content FROM dossiers WHERE demand_id = $1", demand_id)
        return rows[0] if rows else None

    return check


async def unsealed_once_logged(db: str, demand_id: UUID, n: int, what: str) -> None:
    """Not sealed, for good: the bound is the logging of the demand's `n` events (at most `eventually`'s 20 s).

    The archive decides on sealing only in the transaction that logs an event of the demand (usecases.collect), so
    once all `n` rows are visible every decision these events could cause is committed; polling any longer could
    not change the answer, and only a new event (a verification, a void) can seal it now.
    """
    await infra.eventually(logged(db, demand_id, n), what=f"{what}: {n} events logged")
    assert await dossier_of(db, demand_id)() is None, f"{what}: sealed"


async def archived_messages(system, n: int) -> dict[UUID, list[dict]]:
    """Archived as published on the broker, by demand, once `n` have come."""
    got: list = []

    async def enough():
        got.extend(await drain(system.amqp, "test.archived"))
        return len(got) >= n

    await infra.eventually(enough, what=f"{n} Archived published")
    by_demand: dict[UUID, list[dict]] = {}
    for message in got:
        by_demand.setdefault(UUID(body_of(message)["demand_id"]), []).append(body_of(message))
    return by_demand


async def test_a_re_handled_history_in_shuffled_order_is_sealed_once_with_both_rounds(system):
    db = system.db.archive
    histories = {}
    # Seeds whose last event is the reopening (5), the verification (3), round one's rating (1): with any of them
    # held back, an archive that ignored the re-handling events would seal with round two alone.
    for seed in (5, 3, 1):
        s, status_path = await submitted(system)
        h = two_rounds(s)
        order = list(h.values())
        random.Random(seed).shuffle(order)
        *first, last = order
        for event in first:
            await publish_event(system.amqp, event)
        # with the submission: every event but the last logged, and not sealed, whichever the last is
        await unsealed_once_logged(db, s.demand_id, 1 + len(first), f"seed {seed}, before {last.routing_key}")
        await publish_event(system.amqp, last)
        row = await infra.eventually(dossier_of(db, s.demand_id), what=f"seed {seed}: the dossier sealed")
        histories[s.demand_id] = (s, h, status_path, json.loads(row["content"]))

    for demand_id, (s, h, _, content) in histories.items():
        ids = {k: str(e.event_id) for k, e in h.items()}
        assert [(r["round"], r["answers"]["overall"]) for r in content["ratings"]] == [
            (1, "dissatisfied"),
            (2, "satisfied"),
        ]
        assert [(a["round"], a["assignment_no"]) for a in content["assignments"]] == [(1, 1), (2, 2)]
        assert [(r["round"], r["assignment_no"]) for r in content["resolutions"]] == [(1, 1), (2, 2)]
        assert [v["event_id"] for v in content["verifications"]] == [ids["verification"]]
        assert [r["event_id"] for r in content["reopenings"]] == [ids["reopened"]]
        assert content["demand"]["event_id"] == str(s.event_id) and len(content["events"]) == 1 + len(h)
        assert (content["outcome"]["round"], content["outcome"]["event_id"]) == (2, ids["rating2"])
        assert content["outcome"]["summary"] == "第 2 轮：已出具证书"
        assert [r["ratings"] for r in content["rounds"]] == [[ids["rating1"]], [ids["rating2"]]]

        reply = await system.archive.get(f"/dossiers/{demand_id}", headers=auth.HEAD)
        assert reply.status_code == 200 and reply.json()["content"] == content, reply.text
        assert reply.json()["outcome"] == "resolved"

    by_demand = await archived_messages(system, len(histories))
    assert set(by_demand) == set(histories)
    for demand_id, (s, h, status_path, _) in histories.items():
        [archived] = by_demand[demand_id]  # once
        assert archived["causation_id"] == str(h["rating2"].event_id)
        assert archived["correlation_id"] == str(s.correlation_id)
        assert archived["event_count"] == 1 + len(h)
        rows = await infra.fetch(
            db, "SELECT 1 FROM outbox WHERE demand_id = $1 AND routing_key = 'demand.archived'", demand_id
        )
        assert len(rows) == 1
        # intake followed it too: archived, after a re-handling
        status = await infra.eventually(
            lambda path=status_path: _status_if(system, path, lambda st: st["progress"] == "archived"),
            what="intake told the enterprise",
        )
        assert status["round"] == 2 and status["rehandling"]["round"] == 2


async def _status_if(system, path: str, test) -> dict | None:
    status = (await system.intake.get(path)).json()
    return status if test(status) else None


async def test_a_dissatisfied_rating_is_sealed_once_verified_unfounded_or_voided_and_not_before(system):
    db = system.db.archive
    never, _ = await submitted(system)  # 不满意, no verification yet
    unfounded, _ = await submitted(system)
    pending = round_one(never)
    for event in pending.values():
        await publish_event(system.amqp, event)
    verified = round_one(unfounded)
    verified["verification"] = re_.verified(verified["rating1"], Finding.unfounded)
    for event in reversed(list(verified.values())):  # the verification first, the assignment last
        await publish_event(system.amqp, event)

    row = await infra.eventually(dossier_of(db, unfounded.demand_id), what="the unfounded one sealed")
    content = json.loads(row["content"])
    assert content["outcome"]["event_id"] == str(verified["verification"].event_id)
    assert content["outcome"]["verification"]["finding"] == "unfounded"
    assert content["outcome"]["verification"]["label"] == "情况不属实"
    assert [v["event_id"] for v in content["verifications"]] == [str(verified["verification"].event_id)]
    assert content["reopenings"] == [] and len(content["rounds"]) == 1

    await unsealed_once_logged(db, never.demand_id, 1 + len(pending), "不满意 without verification")

    void = re_.voided(pending["rating1"])  # 申诉复核: nothing to re-handle
    await publish_event(system.amqp, void)
    row = await infra.eventually(dossier_of(db, never.demand_id), what="the voided one sealed")
    content = json.loads(row["content"])
    assert content["outcome"]["event_id"] == str(void.event_id) and content["outcome"]["void"]["reason"] == void.reason
    assert [v["event_id"] for v in content["voids"]] == [str(void.event_id)]

    by_demand = await archived_messages(system, 2)
    assert [a["causation_id"] for a in by_demand[unfounded.demand_id]] == [str(verified["verification"].event_id)]
    assert [a["causation_id"] for a in by_demand[never.demand_id]] == [str(void.event_id)]
