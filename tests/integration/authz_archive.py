"""Authorization cases of the archive's retention, legal holds, disposal, chain verification and access log (issue 11;
see test_authorization.areas).

The head of Hunnan sets its retention, holds and releases its dossiers, requests and confirms disposals; operations
set any registered station's retention and verify any chain; supervisors read disposals, the chain and the access log
of their subtree; clerks read the retention; another station or city finds nothing of Hunnan's (404); organizations
see nothing of the archive (403). Two dossiers sealed eight years ago (inserted as the archive sealed them then) are
due for disposal, even after the table lengthens the station's retention to five years: one is held here and
released by the table, the other listed by a request made here and disposed of by the table's confirmation.
"""

from datetime import timedelta
from uuid import UUID

from services.archive import domain
from shared.contracts import Answers, Outcome, Rated, RatingSource, Resolved, utcnow
from tests.support import auth, events
from tests.support.archive import insert_sealed


async def _sealed_long_ago(db: str, serial: int) -> UUID:
    s = events.submitted()
    a = events.assigned(s)
    r = a.caused(
        Resolved,
        assignment_no=1,
        outcome=Outcome.met,
        summary="已出具证书",
        resolved_by="市计量测试院",
        resolved_at=utcnow(),
    )
    rating = r.caused(Rated, answers=Answers(overall="satisfied"), source=RatingSource.online, rated_at=utcnow())
    logged = [
        domain.LoggedEvent(e.event_id, e.routing_key, e.occurred_at, e.model_dump(mode="json"))
        for e in (s, a, r, rating)
    ]
    d = domain.seal(logged, serial=serial, sealed_at=utcnow() - timedelta(days=8 * 366))
    return await insert_sealed(db, d)  # as the archive sealed it then


async def prepare(system) -> None:
    d = system.demands
    db = system.databases["archive"]
    d["arc_held"] = await _sealed_long_ago(db, 900001)
    d["arc_due"] = await _sealed_long_ago(db, 900002)
    archive = system.clients["archive"]
    reply = await archive.post(f"/dossiers/{d['arc_held']}/hold", json={"reason": "涉及诉讼"}, headers=auth.HEAD)
    assert reply.status_code == 201, reply.text
    reply = await archive.post("/disposals", json={"reason": "已过保管期限"}, headers=auth.HEAD)
    assert reply.status_code == 201, reply.text
    assert [i["demand_id"] for i in reply.json()["items"]] == [str(d["arc_due"])]
    d["arc_disposal"] = UUID(reply.json()["disposal_id"])


def cases(system) -> dict:
    from tests.integration.test_authorization import LIST, READ_A, expect

    d = system.demands
    station = events.STATION
    head_only = dict(
        clerk_a=403,
        clerk_other_station=403,
        head_other_city=404,
        supervisor_a=403,
        supervisor_other=403,
        org_assigned=403,
        org_other=403,
        admin=403,
    )
    head_or_supervisor = dict(READ_A, clerk_a=403, clerk_other_station=403, org_assigned=403, org_other=403, admin=403)
    return {
        ("archive", "GET", "/retention/{station_id:path}"): (
            f"/retention/{station}",
            None,
            expect(**READ_A | {"admin": 200}, org_assigned=403, org_other=403),
            None,
        ),
        ("archive", "PUT", "/retention/{station_id:path}"): (
            f"/retention/{station}",
            {"years": 5, "reason": "市局要求保存五年"},
            expect(**head_only | {"head_a": 200, "admin": 200}),
            None,
        ),
        ("archive", "POST", "/dossiers/{demand_id}/hold"): (
            f"/dossiers/{d['archived']}/hold",
            {"reason": "企业涉诉，暂停销毁"},
            expect(**head_only, head_a=201),
            None,
        ),
        ("archive", "POST", "/dossiers/{demand_id}/hold/release"): (
            f"/dossiers/{d['arc_held']}/hold/release",
            {"reason": "诉讼已结束"},
            expect(**head_only, head_a=200),
            None,
        ),
        ("archive", "POST", "/disposals"): (
            "/disposals",
            {"station_id": station, "reason": "已过保管期限"},
            expect(**head_only, head_a=201),
            None,
        ),
        ("archive", "GET", "/disposals"): (
            "/disposals",
            None,
            expect(**LIST | {"clerk_a": 403, "clerk_other_station": 403}, org_assigned=403, org_other=403),
            None,
        ),
        ("archive", "GET", "/disposals/{disposal_id}"): (
            f"/disposals/{d['arc_disposal']}",
            None,
            expect(**head_or_supervisor),
            None,
        ),
        ("archive", "POST", "/disposals/{disposal_id}/confirmation"): (
            f"/disposals/{d['arc_disposal']}/confirmation",
            {"confirm": True},
            expect(**head_only, head_a=200),
            None,
        ),
        ("archive", "GET", "/chain/verify"): (
            f"/chain/verify?station_id={station}",
            None,
            expect(**head_or_supervisor | {"admin": 200}),
            None,
        ),
        ("archive", "GET", "/access-log"): (
            "/access-log",
            None,
            expect(**LIST | {"clerk_a": 403, "clerk_other_station": 403}, org_assigned=403, org_other=403),
            None,
        ),
    }
