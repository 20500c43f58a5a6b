"""Intake's figures of receipt (issue 12; domain.md §7 "demands received (by channel)", "enterprises served"), on the
real broker and database.

Intake alone, its demands made through its own routes at two stations in two districts of one city, then withdrawn,
corrected and merged (the merge as dispatch's event). Every figure is counted from the `demands` table at a scrape,
so a restarted app reports the same and two apps on one database each report the whole (Prometheus takes
`max without (instance)`). No figure depends on the date, so the test holds under any clock.
"""

import json
from uuid import UUID

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from shared.contracts import Channel, DemandSubmitted
from tests.support import auth, events, infra
from tests.support.apps import capture_queue, make_app, publish_event

pytestmark = pytest.mark.integration

HUNNAN = events.STATION  # 210100/210112/hunnan-01
TIEXI = "210100/210106/tiexi-01"  # another district of the same city
TIEXI_CLERK = auth.bearer("clerk", TIEXI, name="铁西窗口")
H = (HUNNAN, "210112", "210100")  # station_id, district, city
T = (TIEXI, "210106", "210100")
TREE = ("station_id", "district", "city")
LABELS = {
    "qs_demands_submitted_total": (*TREE, "channel"),
    "qs_demands_submitted_by_category_total": (*TREE, "category"),
    "qs_enterprises_served": TREE,
}
# The enterprises: A comes to both stations (and once under another spelling of its name), B withdraws its only
# demand, C's items are corrected, D's only demand is merged into A's at tiexi.
A, B, C, D = (events.credit_code(f"91210112MA0U0010{n}") for n in range(4))
# Intake's events must be routable with intake alone (its relay publishes "mandatory"): queues bound like consumers'.
CAPTURED = {"demand.submitted": "test.submitted", "demand.corrected": "test.corrected", "demand.withdrawn": "test.w"}


@pytest.fixture
async def db(amqp, databases):
    for routing_key, queue in CAPTURED.items():
        await capture_queue(amqp, queue, routing_key)
    return databases("intake")


def intake_app(amqp: str, db: str):
    return make_app("intake", amqp_url=amqp, database_url=db)


async def scrape(client: httpx.AsyncClient) -> dict[str, dict[tuple[str, ...], float]]:
    """The receipt series of /metrics: {name: {label values in LABELS order: value}}; exactly those labels."""
    reply = await client.get("/metrics")
    assert reply.status_code == 200, reply.text
    figures: dict[str, dict[tuple[str, ...], float]] = {name: {} for name in LABELS}
    for family in text_string_to_metric_families(reply.text):
        for sample in family.samples:
            if sample.name in LABELS:
                assert set(sample.labels) == set(LABELS[sample.name]), sample
                figures[sample.name][tuple(sample.labels[k] for k in LABELS[sample.name])] = sample.value
    return figures


def expected(submitted: dict, by_category: dict, served: dict, categories: list[str]) -> dict:
    """Every series of both stations, 0 included: each channel of the contract, each category of the catalogue."""
    return {
        "qs_demands_submitted_total": {(*s, c.value): submitted.get((s, c.value), 0) for s in (H, T) for c in Channel},
        "qs_demands_submitted_by_category_total": {
            (*s, c): by_category.get((s, c), 0) for s in (H, T) for c in categories
        },
        "qs_enterprises_served": served,
    }


async def submit(client: httpx.AsyncClient, headers: dict, station: str, code: str, name: str, channel: str, *items):
    form = events.demand_form(
        station,
        enterprise={"name": name, "credit_code": code},
        channel=channel,
        items=[{"code": item} for item in items],
    )
    reply = await client.post("/demands", json=form, headers=headers)
    assert reply.status_code == 201, reply.text
    return reply.json()


async def submitted_event(db: str, demand: dict) -> DemandSubmitted:
    [row] = await infra.fetch(
        db,
        "SELECT payload FROM outbox WHERE demand_id = $1 AND routing_key = 'demand.submitted'",
        UUID(demand["demand_id"]),
    )
    return DemandSubmitted.model_validate(json.loads(row["payload"]))


async def test_receipt_figures_by_channel_category_and_enterprise_survive_restarts_and_replicas(amqp, db):
    async with infra.running(intake_app(amqp, db)) as client:
        categories = [c["code"] for c in (await client.get("/categories")).json()]
        assert len(categories) == 14 and {"metrology", "testing", "ip"} <= set(categories)

        # hunnan-01: A twice (window; phone, naming two categories), B (website), C (email, ip).
        await submit(client, auth.CLERK, HUNNAN, A, "沈阳精密仪器有限公司", "window", "metrology.calibration")
        await submit(
            client,
            auth.CLERK,
            HUNNAN,
            A,
            "沈阳精密仪器股份有限公司",  # the same credit code under another name: the same enterprise
            "phone",
            "metrology.calibration",
            "testing.product_testing",
        )
        b = await submit(client, auth.CLERK, HUNNAN, B, "浑南锅炉有限公司", "website", "testing.product_testing")
        c = await submit(client, auth.CLERK, HUNNAN, C, "浑南新材料有限公司", "email", "ip.patent")
        # tiexi-01: A (window), D (window).
        a_tiexi = await submit(client, TIEXI_CLERK, TIEXI, A, "沈阳精密仪器有限公司", "window", "metrology.calibration")
        d = await submit(client, TIEXI_CLERK, TIEXI, D, "铁西机床有限公司", "window", "testing.product_testing")

        submitted = {(H, "window"): 1, (H, "phone"): 1, (H, "website"): 1, (H, "email"): 1, (T, "window"): 2}
        by_category = {(H, "metrology"): 2, (H, "testing"): 2, (H, "ip"): 1, (T, "metrology"): 1, (T, "testing"): 1}
        assert await scrape(client) == expected(submitted, by_category, {H: 3, T: 2}, categories)

        # B withdraws its only demand; C's clerk corrects its items to metrology; D's demand is merged into A's.
        reply = await client.post(
            f"/demands/{b['demand_id']}/withdrawal", json={"reason": "企业已自行解决"}, headers=auth.HEAD
        )
        assert reply.status_code == 200, reply.text
        reply = await client.post(
            f"/demands/{c['demand_id']}/corrections",
            json={"reason": "登记项目有误", "items": [{"code": "metrology.calibration"}]},
            headers=auth.CLERK,
        )
        assert reply.status_code == 201, reply.text
        assert [x["code"] for x in reply.json()["categories"]] == ["metrology"]
        merge = events.merged(await submitted_event(db, d), await submitted_event(db, a_tiexi))
        await publish_event(amqp, merge)

        async def merged() -> bool:
            seen = await client.get(f"/demands/{d['demand_id']}", headers=TIEXI_CLERK)
            return seen.json()["progress"] == "merged"

        await infra.eventually(merged, what="intake to record the merge")

        # Received stays received: the channels as before, the categories as registered (C still counts under ip,
        # not metrology, so no counter goes down). Served: hunnan A and C (B withdrew), tiexi A (D was merged).
        final = expected(submitted, by_category, {H: 2, T: 1}, categories)
        assert await scrape(client) == final

    # A restart changes nothing: a new app on the same database and vhost reports the same figures.
    async with infra.running(intake_app(amqp, db)) as first:
        assert await scrape(first) == final
        # A second replica beside it: each reports the whole, not a share of it, and neither doubles.
        async with infra.running(intake_app(amqp, db)) as second:
            for client in (first, second):
                assert await scrape(client) == final
