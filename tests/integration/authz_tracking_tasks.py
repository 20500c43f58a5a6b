"""Authorization cases of the special-task routes (专项工作; see test_authorization.areas).

`prepare` has Shenyang's supervisor assign a task to Hunnan (events.STATION) only. The supervisor assigns (the
other city's supervisor names a station outside its subtree: 422); every reader lists (empty outside the scope);
Hunnan's clerk and head, and Shenyang's supervisor, read the task, Tiexi, the other city and its supervisor get
404; Hunnan's clerk and head report progress on their own part, Tiexi and the other city 404; organizations and
operations are refused everything (403): operations do not direct stations.
"""

from datetime import UTC, datetime

from shared.calendar import add_working_days, china_today
from tests.support import auth, events

STATION = events.STATION


def task_form() -> dict:
    return {
        "title": "授权测试专项工作",
        "description": "核查辖区企业计量器具台账",
        "due_on": add_working_days(china_today(datetime.now(UTC)), 5).isoformat(),
        "attachments": [{"name": "通知", "ref": "沈市监发〔2026〕12号"}],
        "station_ids": [STATION],
    }


async def prepare(system) -> None:
    await system.knows_stations("tracking", STATION)
    made = await system.clients["tracking"].post("/special-tasks", json=task_form(), headers=auth.SUPERVISOR)
    assert made.status_code == 201, made.text
    system.demands["special_task"] = made.json()["task_id"]


def cases(system) -> dict:
    from tests.integration.test_authorization import expect

    task = system.demands["special_task"]
    refused = dict(org_assigned=403, org_other=403, admin=403)
    return {
        ("tracking", "POST", "/special-tasks"): (
            "/special-tasks",
            task_form(),
            expect(
                clerk_a=403,
                head_a=403,
                clerk_other_station=403,
                head_other_city=403,
                supervisor_a=201,
                supervisor_other=422,  # Hunnan is not in Guangzhou's subtree
                **refused,
            ),
            None,
        ),
        ("tracking", "GET", "/special-tasks"): (
            "/special-tasks",
            None,
            expect(
                clerk_a=200,
                head_a=200,
                clerk_other_station=200,
                head_other_city=200,
                supervisor_a=200,
                supervisor_other=200,
                **refused,
            ),
            None,  # rows are tasks, not demands; who sees which is tested in test_tracking_tasks
        ),
        ("tracking", "GET", "/special-tasks/{task_id}"): (
            f"/special-tasks/{task}",
            None,
            expect(
                clerk_a=200,
                head_a=200,
                clerk_other_station=404,
                head_other_city=404,
                supervisor_a=200,
                supervisor_other=404,
                **refused,
            ),
            None,
        ),
        ("tracking", "POST", "/special-tasks/{task_id}/reports"): (
            f"/special-tasks/{task}/reports",
            {"kind": "progress", "text": "已核查 5 家企业"},
            expect(
                clerk_a=201,
                head_a=201,
                clerk_other_station=404,
                head_other_city=404,
                supervisor_a=403,
                supervisor_other=403,
                **refused,
            ),
            None,
        ),
    }
