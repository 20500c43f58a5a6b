"""Intake tells the archive where the enterprise stood when the demand was submitted: DemandSubmitted carries the
station's enterprise dossier's chain, chain leader, town and park (enterprise_profile), so the archive's books
(一链一册, 一镇一册) group sealed demands as they were, whatever the dossier says later."""

import json

import pytest

from tests.support import auth, events, infra
from tests.support.apps import make_app

pytestmark = pytest.mark.integration


@pytest.fixture
async def intake(amqp, databases):
    db = databases("intake")
    app = make_app("intake", amqp_url=amqp, database_url=db, public_rate_limit="1000/minute")
    async with infra.running(app) as client:
        client.db = db
        yield client


async def submitted_profile(intake, demand_id: str) -> dict | None:
    [row] = await infra.fetch(
        intake.db,
        "SELECT payload FROM outbox WHERE routing_key = 'demand.submitted' AND demand_id = $1::uuid",
        demand_id,
    )
    return json.loads(row["payload"])["enterprise_profile"]


async def test_the_submission_carries_the_enterprise_profile_as_the_dossier_held_it(intake):
    code = events.credit_code("91210112MA0U00005")
    dossier = {
        "name": "沈阳新松精密机械有限公司",
        "in_park": True,
        "park_name": "浑南高新区",
        "town": "浑南装备小镇",
        "chain": "机器人",
        "chain_leader": True,
    }
    assert (await intake.put(f"/enterprises/{code}", json=dossier, headers=auth.CLERK)).status_code == 200
    form = events.demand_form(enterprise={"name": dossier["name"], "credit_code": code})
    first = (await intake.post("/demands", json=form, headers=auth.CLERK)).json()
    assert await submitted_profile(intake, first["demand_id"]) == {
        "chain": "机器人",
        "chain_leader": True,
        "town": "浑南装备小镇",
        "in_park": True,
        "park_name": "浑南高新区",
    }
    # The dossier changes later: the first demand's event keeps what was; the next demand carries the new profile.
    moved = {**dossier, "in_park": False, "park_name": None, "chain": "高端装备", "chain_leader": False}
    assert (await intake.put(f"/enterprises/{code}", json=moved, headers=auth.CLERK)).status_code == 200
    second = (await intake.post("/demands", json={**form, "description": "千分尺校准"}, headers=auth.CLERK)).json()
    profile = await submitted_profile(intake, second["demand_id"])
    assert (profile["chain"], profile["chain_leader"], profile["in_park"], profile["park_name"]) == (
        "高端装备",
        False,
        False,
        None,
    )
    assert (await submitted_profile(intake, first["demand_id"]))["chain"] == "机器人"


async def test_an_enterprise_without_a_dossier_is_submitted_with_a_blank_profile(intake):
    form = events.demand_form(enterprise={"name": "新来的企业", "credit_code": events.credit_code("91210112MA0U00009")})
    demand = (await intake.post("/demands", json=form, headers=auth.CLERK)).json()
    assert await submitted_profile(intake, demand["demand_id"]) == {
        "chain": None,
        "chain_leader": False,
        "town": None,
        "in_park": None,
        "park_name": None,
    }
