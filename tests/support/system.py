"""All five service apps in one process on one vhost, with a demand at every stage in two cities."""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from uuid import UUID

import httpx
from stdnum.cn import uscc

from shared.calendar import china_today
from tests.support import auth, events, infra
from tests.support.apps import make_app

ORG_ID = "org-01"

# Every catalogue category: the organizations tests assign to must be qualified for whatever item a test's
# demand form names, or dispatch refuses the assignment (services/dispatch/organizations).
ALL_CATEGORIES = [
    "training", "diagnosis", "quality_mgmt", "standardization", "metrology", "testing", "special_equipment",
    "certification", "ip", "market_access", "brand", "equipment_sharing", "innovation", "other",
]  # fmt: skip


def organization(name: str, code: str, areas: list[str], categories: list[str] = ALL_CATEGORIES, **fields) -> dict:
    """A registry entry (PUT /organizations/{id}), valid for years from today in China, whatever the clock."""
    today = china_today(datetime.now(UTC))
    years = today + timedelta(days=3650)
    body = {
        "name": name,
        "credit_code": code + uscc.calc_check_digit(code),
        "contacts": [{"name": "李工", "phone": "13800000001", "role": "业务联系人"}],
        "categories": categories,
        "qualifications": [
            {
                "kind": "检验检测机构资质认定证书（CMA）",
                "certificate_no": f"CMA-{code[-6:]}",
                "issuer": "省市场监督管理局",
                "scope": "计量、检验检测及相关技术服务",
                "valid_from": date(2020, 1, 1).isoformat(),
                "valid_until": years.isoformat(),
            }
        ],
        "agreement": {"party": "市市场监督管理局", "number": f"XY-{code[-6:]}", "valid_until": years.isoformat()},
        "areas": areas,
    }
    return body | fields


# The organizations tests assign to: org-01 serves all of Shenyang, org-02 Guangzhou.
ORGANIZATIONS = {
    "org-01": organization("市计量测试院", "12210100MB0000001", ["210100"]),
    "org-02": organization("另一检测机构", "12440100MB0000002", ["440100"]),
}


async def register_organizations(dispatch: httpx.AsyncClient) -> None:
    """Admit the test organizations through dispatch's registry, as operations would (idempotent)."""
    for org_id, body in ORGANIZATIONS.items():
        reply = await dispatch.put(f"/organizations/{org_id}", json=body, headers=auth.ADMIN)
        assert reply.status_code in (200, 201), reply.text


@dataclass
class System:
    clients: dict[str, httpx.AsyncClient]
    databases: dict[str, str]
    amqp: str
    apps: dict = field(default_factory=dict)
    demands: dict[str, UUID] = field(default_factory=dict)
    status_urls: dict[UUID, str] = field(default_factory=dict)

    async def get_when(self, service: str, path: str, ok, what: str, headers=None) -> dict:
        async def check():
            reply = await self.clients[service].get(path, headers=headers or auth.HEAD)
            return reply.json() if reply.status_code == 200 and ok(reply.json()) else None

        return await infra.eventually(check, timeout=30, what=what)

    async def knows_stations(self, service: str, *station_ids: str) -> None:
        """Wait until `service` holds the registry's stations (intake announces its seeded tree on start)."""

        async def known():
            rows = await infra.fetch(
                self.databases[service],
                "SELECT station_id FROM station_tree WHERE station_id = ANY($1::text[])",
                list(station_ids),
            )
            return len(rows) == len(station_ids)

        await infra.eventually(known, timeout=30, what=f"{service} to learn of {station_ids}")

    async def submit(self, station: str = events.STATION, headers=None, **form) -> UUID:
        reply = await self.clients["intake"].post(
            "/demands", json=events.demand_form(station=station, **form), headers=headers or auth.CLERK
        )
        assert reply.status_code == 201, reply.text
        demand_id = reply.json()["demand_id"]
        self.status_urls[UUID(demand_id)] = reply.json()["status_url"]
        await self.get_when("dispatch", f"/demands/{demand_id}", lambda d: True, "dispatch to see it", headers)
        return UUID(demand_id)

    async def assign(self, demand_id: UUID, org: str = ORG_ID, headers=None) -> None:
        reply = await self.clients["dispatch"].post(
            f"/demands/{demand_id}/assignments",
            json={"assignee_kind": "organization", "assignee_id": org, "assignee_name": "市计量测试院"},
            headers=headers or auth.HEAD,
        )
        assert reply.status_code == 201, reply.text
        await self.get_when(
            "tracking",
            f"/demands/{demand_id}",
            lambda c: c["status"] == "assigned",
            "tracking to see the assignment",
            headers,
        )

    async def resolve(self, demand_id: UUID, headers=None) -> None:
        reply = await self.clients["tracking"].post(
            f"/demands/{demand_id}/resolution",
            json={"outcome": "met", "summary": "已出具证书"},
            headers=headers or auth.HEAD,
        )
        assert reply.status_code == 200, reply.text
        await self.get_when(
            "evaluation", f"/surveys/{demand_id}", lambda s: s["status"] == "open", "the survey to open", headers
        )

    async def rate(self, demand_id: UUID, headers=None) -> None:
        reply = await self.clients["evaluation"].post(
            f"/surveys/{demand_id}/rating", json={"answers": {"overall": "satisfied"}}, headers=headers or auth.CLERK
        )
        assert reply.status_code == 201, reply.text
        await self.get_when(
            "tracking", f"/demands/{demand_id}", lambda c: c["status"] == "archived", "the archive", headers
        )


@contextlib.asynccontextmanager
async def fresh_system(**overrides) -> AsyncIterator[System]:
    """A running system on a vhost and databases of its own, removed afterwards: what a module-scoped fixture shares
    between tests that each make their own demands (starting one costs seconds; a module of ten tests, a minute)."""
    vhost = infra.new_vhost()
    created: list[str] = []

    def database_url(service: str) -> str:
        created.append(url := infra.new_database_url(service))
        return url

    try:
        async with running_system(infra.amqp_url(vhost), database_url, **overrides) as system:
            yield system
    finally:
        for url in created:
            await infra.drop_database(url)
        infra.drop_vhost(vhost)


# Intake starts last, as it would join a running system: it announces its seeded registry on start, and a
# consumer whose queue did not exist yet would miss that.
START_ORDER = ("dispatch", "tracking", "evaluation", "archive", "intake")


@contextlib.asynccontextmanager
async def running_system(amqp: str, database_url, **overrides):
    databases = {name: database_url(name) for name in START_ORDER}
    apps = {
        name: make_app(name, amqp_url=amqp, database_url=databases[name], **overrides.get(name, {}))
        for name in START_ORDER
    }
    async with contextlib.AsyncExitStack() as stack:
        clients: dict[str, httpx.AsyncClient] = {}

        async def start(name: str) -> None:
            clients[name] = await stack.enter_async_context(infra.running(apps[name]))

        # The four start together (each waits mostly on its own database and queues), intake after them. A start
        # that fails does not cancel the others half-way through their lifespans: those that started are on the stack
        # and stop as usual. (Entered in a task and left in this one: nothing in a lifespan holds a cancel scope or
        # a context variable across its yield.)
        started = await asyncio.gather(*(start(name) for name in START_ORDER[:-1]), return_exceptions=True)
        for failure in (result for result in started if isinstance(result, BaseException)):
            raise failure
        await start(START_ORDER[-1])
        await register_organizations(clients["dispatch"])
        yield System(clients=clients, databases=databases, amqp=amqp, apps=apps)
