"""Authorization cases of the clock's routes (see test_authorization.areas): every deadline of a case, pause and
resumption, extension request and decision, the extension list, and each station's clock settings.

The handler of a case (its station's clerks and head, the organization assigned now) pauses, resumes and asks
for an extension; only the head decides; readers of the station, its supervisors and the assigned organization
see the clock; another station, another city and another organization find nothing (404). A station's clock is
read by its staff, its supervisors and operations, and set by its head or operations.
"""

from datetime import UTC, datetime
from uuid import UUID

from shared.calendar import add_working_days, china_today
from tests.support import auth, events

STATION = events.STATION
# Surely later than a fresh assignment's handling deadline, and a plausible date.
# A working day (an extension's new date must be one) well after any due date the test's demands get.
NEW_DUE_ON = add_working_days(china_today(datetime.now(UTC)), 80).isoformat()


async def prepare(system) -> None:
    d, tracking = system.demands, system.clients["tracking"]
    await system.knows_stations("tracking", STATION)
    for key in ("clk_pause", "clk_resume", "clk_extend", "clk_decide"):
        d[key] = await system.submit()
        await system.assign(d[key])  # to org-01, the `org_assigned` caller
    paused = await tracking.post(
        f"/demands/{d['clk_resume']}/pauses",
        json={"reason_kind": "materials", "reason": "等待企业补充材料"},
        headers=auth.CLERK,
    )
    assert paused.status_code == 201, paused.text
    asked = await tracking.post(
        f"/demands/{d['clk_decide']}/extensions",
        json={"new_due_on": NEW_DUE_ON, "reason": "检测周期较长"},
        headers=auth.CLERK,
    )
    assert asked.status_code == 201, asked.text
    d["clk_decide_extension"] = UUID(asked.json()["extension_id"])
    # The other city's demand has a request too, so its lists are not simply empty.
    other = await tracking.post(
        f"/demands/{d['other_city']}/extensions",
        json={"new_due_on": NEW_DUE_ON, "reason": "企业要求推迟"},
        headers=auth.OTHER_CLERK,
    )
    assert other.status_code == 201, other.text


def cases(system) -> dict:
    from tests.integration.test_authorization import ALLOWED, LIST, READ_A, expect

    d = system.demands
    handlers = dict(
        clerk_a=ALLOWED,
        head_a=ALLOWED,
        clerk_other_station=404,
        head_other_city=404,
        supervisor_a=403,
        supervisor_other=403,
        org_assigned=ALLOWED,
        org_other=404,
        admin=403,
    )
    settings_readers = dict(
        clerk_a=200,
        head_a=200,
        clerk_other_station=404,
        head_other_city=404,
        supervisor_a=200,
        supervisor_other=404,
        org_assigned=403,
        org_other=403,
        admin=200,
    )
    settings_keepers = dict(
        clerk_a=403,
        head_a=200,
        clerk_other_station=403,
        head_other_city=404,
        supervisor_a=403,
        supervisor_other=403,
        org_assigned=403,
        org_other=403,
        admin=200,
    )
    return {
        ("tracking", "GET", "/demands/{demand_id}/clock"): (
            f"/demands/{d['clk_pause']}/clock",
            None,
            expect(**READ_A, org_assigned=200, org_other=404),
            None,
        ),
        # The first handler pauses; the others then find it paused (409).
        ("tracking", "POST", "/demands/{demand_id}/pauses"): (
            f"/demands/{d['clk_pause']}/pauses",
            {"reason_kind": "sample", "reason": "等待企业送样"},
            expect(**handlers),
            None,
        ),
        ("tracking", "POST", "/demands/{demand_id}/resumption"): (
            f"/demands/{d['clk_resume']}/resumption",
            {"note": "企业已补齐材料"},
            expect(**handlers),
            None,
        ),
        # The first asks; the others meet the pending request (409).
        ("tracking", "POST", "/demands/{demand_id}/extensions"): (
            f"/demands/{d['clk_extend']}/extensions",
            {"new_due_on": NEW_DUE_ON, "reason": "检测周期较长"},
            expect(**handlers),
            None,
        ),
        ("tracking", "POST", "/demands/{demand_id}/extensions/{extension_id}/decision"): (
            f"/demands/{d['clk_decide']}/extensions/{d['clk_decide_extension']}/decision",
            {"approved": True, "comment": "同意"},
            expect(
                clerk_a=403,
                head_a=200,
                clerk_other_station=403,
                head_other_city=404,
                supervisor_a=403,
                supervisor_other=403,
                org_assigned=403,
                org_other=403,
                admin=403,
            ),
            None,
        ),
        ("tracking", "GET", "/extensions"): (
            "/extensions",
            None,
            expect(**LIST, org_assigned=403, org_other=403),
            d["clk_decide"],
        ),
        ("tracking", "GET", "/stations/{station_id:path}/clock"): (
            f"/stations/{STATION}/clock",
            None,
            expect(**settings_readers),
            None,
        ),
        ("tracking", "PUT", "/stations/{station_id:path}/clock"): (
            f"/stations/{STATION}/clock",
            {"response_days": 1, "warn_days": 1},
            expect(**settings_keepers),
            None,
        ),
    }
