"""All five service apps in one process on one vhost, with a demand at every stage in two cities."""

import contextlib
from dataclasses import dataclass, field
from uuid import UUID

import httpx

from shared.contracts.topology import SERVICES
from tests.support import auth, events, infra
from tests.support.apps import make_app

ORG_ID = "org-01"


@dataclass
class System:
    clients: dict[str, httpx.AsyncClient]
    databases: dict[str, str]
    apps: dict = field(default_factory=dict)
    demands: dict[str, UUID] = field(default_factory=dict)
    status_urls: dict[UUID, str] = field(default_factory=dict)

    async def get_when(self, service: str, path: str, ok, what: str, headers=None) -> dict:
        async def check():
            reply = await self.clients[service].get(path, headers=headers or auth.HEAD)
            return reply.json() if reply.status_code == 200 and ok(reply.json()) else None

        return await infra.eventually(check, timeout=30, what=what)

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
async def running_system(amqp: str, database_url, **overrides):
    databases = {name: database_url(name) for name in SERVICES}
    apps = {
        name: make_app(name, amqp_url=amqp, database_url=databases[name], **overrides.get(name, {}))
        for name in SERVICES
    }
    async with contextlib.AsyncExitStack() as stack:
        clients = {name: await stack.enter_async_context(infra.running(app)) for name, app in apps.items()}
        yield System(clients=clients, databases=databases, apps=apps)
