"""The archive on the real broker and database: nothing sealed short, and the audit of what was."""

import asyncio
import json
import sys
from datetime import UTC, datetime
from uuid import UUID

import asyncpg
import pytest

from services.archive import domain
from shared.contracts import Answers, Outcome, Rated, RatingSource, Resolved, utcnow
from tests.support import auth, events, following_events, infra
from tests.support.apps import body_of, capture_queue, drain, make_app, publish_event
from tests.support.archive import insert_sealed

pytestmark = pytest.mark.integration


def rematched_history():
    """Submitted, assigned, rematched, resolved by the second assignee (naming it), rated (naming the resolution)."""
    s = events.submitted()
    a1, a2 = events.assigned(s, no=1), events.assigned(s, no=2)
    r = a2.caused(
        Resolved,
        assignment_no=2,
        outcome=Outcome.met,
        summary="已出具证书",
        resolved_by="市计量测试院",
        resolved_at=utcnow(),
    )
    rating = r.caused(Rated, answers=Answers(overall="satisfied"), source=RatingSource.online, rated_at=utcnow())
    return s, a1, a2, r, rating


# Indexes into rematched_history(); the last one is held back until the others are logged.
ORDERS = {
    "rematch last": (0, 1, 3, 4, 2),
    "first assignment last": (4, 3, 2, 0, 1),
    "submitted last": (2, 1, 4, 3, 0),
    "resolution last": (0, 4, 2, 1, 3),
    "rating last": (1, 0, 2, 3, 4),
}


def logged(db, demand_id, n):
    async def check():
        return len(await infra.fetch(db, "SELECT 1 FROM event_log WHERE demand_id = $1", demand_id)) >= n

    return check


def dossier_of(db, demand_id):
    async def check():
        rows = await infra.fetch(db, "SELECT archive_no, content FROM dossiers WHERE demand_id = $1", demand_id)
        return rows[0] if rows else None

    return check


async def test_a_dossier_is_sealed_only_once_every_assignment_is_in_whatever_the_order(amqp, databases):
    db = databases("archive")
    app = make_app("archive", amqp_url=amqp, database_url=db)
    async with infra.running(app) as client:
        await capture_queue(amqp, "test.archived", "demand.archived")
        histories = {}
        for name, order in ORDERS.items():
            history = rematched_history()
            histories[name] = history
            s = history[0]
            *first, last = (history[i] for i in order)
            for event in first:  # each to its own queue: archive.demand.submitted, .assigned, .resolved, .rated
                await publish_event(amqp, event)
            await infra.eventually(logged(db, s.demand_id, 4), what=f"{name}: four events logged")
            # logging an event and sealing commit together: four logged, so the fourth's sealing is decided
            assert await dossier_of(db, s.demand_id)() is None, f"{name}: sealed before {last.routing_key}"
            await publish_event(amqp, last)
            row = await infra.eventually(dossier_of(db, s.demand_id), what=f"{name}: the dossier sealed")
            content = json.loads(row["content"])
            assert [a["assignment_no"] for a in content["assignments"]] == [1, 2], name
            assert {a["event_id"] for a in content["assignments"]} == {
                str(history[1].event_id),
                str(history[2].event_id),
            }
            assert len(content["events"]) == 5, name

        s, *_, rating = histories["rematch last"]
        reply = await client.get(f"/dossiers/{s.demand_id}", headers=auth.HEAD)
        assert reply.status_code == 200
        assert len(reply.json()["content"]["assignments"]) == 2 and reply.json()["supplements"] == []
        archived = []

        async def all_archived():
            archived.extend(await drain(amqp, "test.archived"))
            return len(archived) >= len(ORDERS)

        await infra.eventually(all_archived, what="Archived published per demand")
    by_demand = {UUID(body_of(m)["demand_id"]): body_of(m) for m in archived}
    assert len(by_demand) == len(ORDERS)  # sealed once each
    for history in histories.values():
        assert by_demand[history[0].demand_id]["causation_id"] == str(history[4].event_id)


async def audit(db: str, *args: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.archive.audit",
        "--database-url",
        db,
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await proc.communicate()
    return proc.returncode, out.decode()


def _logged(event) -> domain.LoggedEvent:
    return domain.LoggedEvent(event.event_id, event.routing_key, event.occurred_at, event.model_dump(mode="json"))


async def test_the_audit_lists_a_dossier_sealed_short_and_supplements_it(amqp, databases):
    db = databases("archive")
    app = make_app("archive", amqp_url=amqp, database_url=db)
    async with infra.running(app) as client:
        complete = rematched_history()
        for event in complete:
            await publish_event(amqp, event)
        await infra.eventually(dossier_of(db, complete[0].demand_id), what="a complete dossier")

        s, a1, a2, r, rating = rematched_history()
        for event in (s, a1, r, rating):
            await publish_event(amqp, event)
        await infra.eventually(logged(db, s.demand_id, 4), what="four events logged")
        # Sealed short on purpose, as the old rule did: submitted, resolved and rated present, the rematch not yet.
        short = domain.seal([_logged(e) for e in (s, a1, r, rating)], serial=99, sealed_at=datetime.now(UTC))
        await insert_sealed(db, short)
        await publish_event(amqp, a2)  # arrives after sealing: logged, the dossier unchanged
        await infra.eventually(logged(db, s.demand_id, 5), what="the late rematch logged")

        code, out = await audit(db)
        assert code == 1, out
        assert short.archive_no in out and "demand.assigned #2" in out and str(a2.event_id) in out
        assert str(complete[0].demand_id) not in out
        assert await infra.fetch(db, "SELECT 1 FROM dossier_supplements") == []  # listing writes nothing

        code, out = await audit(db, "--supplement")
        assert code == 0, out
        code, out = await audit(db)
        assert code == 0 and short.archive_no not in out, out

        reply = await client.get(f"/dossiers/{s.demand_id}", headers=auth.HEAD)
        assert reply.status_code == 200
        dossier = reply.json()
        assert dossier["content_sha256"] == short.content_sha256  # the sealed record itself never changed
        assert len(dossier["content"]["assignments"]) == 1
        [supplement] = dossier["supplements"]
        assert supplement["supplement_no"] == 1 and supplement["content"]["lacked"] == ["demand.assigned #2"]
        assert supplement["content"]["dossier_sha256"] == short.content_sha256
        assert [e["event_id"] for e in supplement["content"]["events"]] == [str(a2.event_id)]
        assert len(supplement["content_sha256"]) == 64

    for sql in ("UPDATE dossier_supplements SET content_sha256 = 'forged'", "DELETE FROM dossier_supplements"):
        with pytest.raises(asyncpg.RaiseError, match="append-only"):
            await infra.fetch(db, sql)


async def test_a_closed_demand_waits_for_the_assignments_it_counts_and_a_late_return_is_supplemented(amqp, databases):
    db = databases("archive")
    app = make_app("archive", amqp_url=amqp, database_url=db)
    async with infra.running(app) as client:
        await capture_queue(amqp, "test.archived", "demand.archived")
        s = events.submitted()
        a1, a2 = events.assigned(s, no=1), events.assigned(s, no=2)
        withdrawal = events.withdrawn(s, assignment_count=2, by_enterprise=False)
        for event in (withdrawal, a2, s):
            await publish_event(amqp, event)
        await infra.eventually(logged(db, s.demand_id, 3), what="three events logged")
        assert await dossier_of(db, s.demand_id)() is None, "sealed without assignment #1"
        await publish_event(amqp, a1)
        row = await infra.eventually(dossier_of(db, s.demand_id), what="the withdrawn dossier sealed")
        content = json.loads(row["content"])
        assert content["outcome"]["kind"] == "withdrawn" and content["outcome"]["by_enterprise"] is False
        assert [a["assignment_no"] for a in content["assignments"]] == [1, 2] and content["returns"] == []

        [archived] = await infra.eventually(lambda: drain(amqp, "test.archived"), what="Archived published")
        assert body_of(archived)["causation_id"] == str(withdrawal.event_id)
        reply = await client.get("/dossiers", headers=auth.HEAD)
        assert [(d["demand_id"], d["outcome"]) for d in reply.json()] == [(str(s.demand_id), "withdrawn")]

        late = events.returned(s, 1)  # its queue lagged behind the whole rest of the demand's life
        await publish_event(amqp, late)
        await infra.eventually(logged(db, s.demand_id, 5), what="the late return logged")
        code, out = await audit(db)
        assert code == 1 and str(late.event_id) in out, out
        code, out = await audit(db, "--supplement")
        assert code == 0, out
        dossier = (await client.get(f"/dossiers/{s.demand_id}", headers=auth.HEAD)).json()
        assert dossier["content"] == content and dossier["outcome"] == "withdrawn"  # the sealed record unchanged
        [supplement] = dossier["supplements"]
        assert [e["type"] for e in supplement["content"]["events"]] == ["demand.returned"]


async def test_the_following_of_a_case_reaches_the_sealed_record_without_holding_it_back(amqp, databases):
    """Each of the nine FOLLOWING events has its archive queue (so tracking's outbox can route it) and its section."""
    db = databases("archive")
    app = make_app("archive", amqp_url=amqp, database_url=db)
    async with infra.running(app) as client:
        s, a1, a2, r, rating = rematched_history()
        following = following_events.one_of_each(a2)
        for event in (s, a1, a2, *following, r):
            await publish_event(amqp, event)
        await infra.eventually(logged(db, s.demand_id, 4 + len(following)), what="every event logged")
        assert await dossier_of(db, s.demand_id)() is None, "sealed before the rating"
        await publish_event(amqp, rating)
        row = await infra.eventually(dossier_of(db, s.demand_id), what="the dossier sealed")
        content = json.loads(row["content"])
        for event in following:
            [kept] = content[domain.SECTIONS[event.routing_key]]
            assert kept["event_id"] == str(event.event_id), event.routing_key
        assert content["pauses"][0]["reason_kind"] == "materials"
        assert content["follow_ups"][0]["appointment"]["place"] == "企业二号车间"
        assert len(content["events"]) == 5 + len(following)

        # one after sealing (a chase whose queue lagged): logged, the record unchanged, the audit attaches it
        late = following_events.chased(a2)
        await publish_event(amqp, late)
        await infra.eventually(logged(db, s.demand_id, 6 + len(following)), what="the late chase logged")
        code, out = await audit(db, "--supplement")
        assert code == 0, out
        dossier = (await client.get(f"/dossiers/{s.demand_id}", headers=auth.HEAD)).json()
        assert dossier["content"] == content
        assert [e["type"] for e in dossier["supplements"][0]["content"]["events"]] == ["demand.chased"]
