"""Authorization cases of follow-ups, appointments and the printed tracking sheet (see test_authorization.areas).

A demand of Hunnan assigned to org-01 (`followed`), kept open, with an appointment; the other city's demand
(assigned to org-02) has one too, so the appointments list shows each caller exactly its own. The station's
clerks and head and the organization assigned write follow-ups (every write succeeds: they accumulate);
supervisors read only; another station, another city and another organization get 404; operations 403.
"""

from datetime import UTC, datetime, timedelta

from shared.calendar import china_today
from tests.support import auth

FOLLOW_UP = {"kind": "contact", "text": "电话联系企业，确认送检时间"}


def appointment() -> dict:
    tomorrow = china_today(datetime.now(UTC)) + timedelta(days=1)
    place = {"on": tomorrow.isoformat(), "at": "10:00", "place": "企业一号车间", "attendees": "张晓燕、李工"}
    return {"kind": "appointment", "text": "现场检定", "appointment": place}


async def prepare(system) -> None:
    d = system.demands
    d["followed"] = await system.submit()
    await system.assign(d["followed"])  # org-01
    for demand, headers in ((d["followed"], auth.HEAD), (d["other_city"], auth.OTHER_HEAD)):
        reply = await system.clients["tracking"].post(
            f"/demands/{demand}/follow-ups", json=appointment(), headers=headers
        )
        assert reply.status_code == 201, reply.text


def cases(system) -> dict:
    from tests.integration.test_authorization import LIST, READ_A, expect

    followed = system.demands["followed"]
    readers = expect(**READ_A, org_assigned=200, org_other=404)
    writers = expect(
        clerk_a=201,
        head_a=201,
        clerk_other_station=404,
        head_other_city=404,
        supervisor_a=403,
        supervisor_other=403,
        org_assigned=201,
        org_other=404,
        admin=403,
    )
    return {
        ("tracking", "POST", "/demands/{demand_id}/follow-ups"): (
            f"/demands/{followed}/follow-ups",
            FOLLOW_UP,
            writers,
            None,
        ),
        ("tracking", "GET", "/demands/{demand_id}/follow-ups"): (
            f"/demands/{followed}/follow-ups",
            None,
            readers,
            None,
        ),
        ("tracking", "GET", "/appointments"): (
            "/appointments",
            None,
            expect(**LIST, org_assigned=200, org_other=200),
            followed,
        ),
        ("tracking", "GET", "/demands/{demand_id}/sheet.html"): (
            f"/demands/{followed}/sheet.html",
            None,
            readers,
            None,
        ),
        ("tracking", "GET", "/demands/{demand_id}/sheet.pdf"): (f"/demands/{followed}/sheet.pdf", None, readers, None),
    }
