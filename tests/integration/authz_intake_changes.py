"""Authorization cases of the intake changes routes (see test_authorization.areas): correction before dispatch,
withdrawal by the station and by the enterprise's status link, and removing a working-day correction."""

from datetime import UTC, datetime, timedelta

from shared.calendar import china_today
from tests.support import auth
from tests.support.apps import capture_queue

# A correction to remove (DELETE /calendar/{day}); any day ahead will do.
DAY = (china_today(datetime.now(UTC)) + timedelta(days=60)).isoformat()


async def prepare(system) -> None:
    # CalendarCorrected is published "mandatory": until a service consumes calendar.corrected (dispatch, once wired),
    # a plain queue keeps it routable, or intake's outbox would hold every later event of this system.
    await capture_queue(system.apps["intake"].state.runtime.settings.amqp_url, "authz.calendar", "calendar.corrected")
    for key in ("to_correct", "to_withdraw", "to_withdraw_online"):
        system.demands[key] = await system.submit()
    reply = await system.clients["intake"].put(f"/calendar/{DAY}", json={"is_workday": False}, headers=auth.ADMIN)
    assert reply.status_code == 204, reply.text


def cases(system) -> dict:
    from tests.integration.test_authorization import ALLOWED, CALLERS, UNAUTHENTICATED, expect

    d = system.demands
    token = system.status_urls[d["to_withdraw_online"]].rsplit("/", 1)[1]
    # The demand's own station writes (the second caller meets the new state: 409); other stations do not see
    # it (404); roles that never change a demand's form are refused (403).
    station_write = dict(
        clerk_a=ALLOWED,
        head_a=ALLOWED,
        clerk_other_station=404,
        head_other_city=404,
        supervisor_a=403,
        supervisor_other=403,
        org_assigned=403,
        org_other=403,
        admin=403,
    )
    admin_only = {k: 403 for k in CALLERS if k not in UNAUTHENTICATED}
    return {
        ("intake", "POST", "/demands/{demand_id}/corrections"): (
            f"/demands/{d['to_correct']}/corrections",
            {"reason": "企业补充了台数", "description": "压力表 40 台需要检定校准"},
            expect(**station_write),
            None,
        ),
        ("intake", "POST", "/demands/{demand_id}/withdrawal"): (
            f"/demands/{d['to_withdraw']}/withdrawal",
            {"reason": "企业已自行解决"},
            expect(**station_write),
            None,
        ),
        # The link is the enterprise's only authority: whoever holds it withdraws that one demand, once.
        ("intake", "POST", "/public/status/{token}/withdrawal"): (
            f"/public/status/{token}/withdrawal",
            {"reason": "已另行委托"},
            dict.fromkeys(CALLERS, ALLOWED),
            None,
        ),
        # Reference data: anyone signed in reads a year's corrections (the one `prepare` made among them).
        ("intake", "GET", "/calendar"): (
            f"/calendar?year={DAY[:4]}",
            None,
            expect(**{k: 200 for k in CALLERS if k not in UNAUTHENTICATED}),
            None,
        ),
        ("intake", "DELETE", "/calendar/{day}"): (
            f"/calendar/{DAY}",
            None,
            expect(**admin_only | {"admin": 204}),
            None,
        ),
    }
