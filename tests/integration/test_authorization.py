"""Every HTTP route of every service, called by every kind of caller: each gets exactly what its role allows.

The routes are read from the apps themselves, so a new route without a row here fails the test.
"""

from datetime import UTC, datetime
from uuid import UUID

import asyncpg
import pytest
from fastapi.routing import APIRoute

from shared.calendar import china_today
from shared.db.security import station_tables
from tests.support import auth, events
from tests.support.system import fresh_system, organization

TODAY = china_today(datetime.now(UTC)).isoformat()  # a visit may not be dated in the future

# Preparing every capability's rows (tests/integration/authz_*.py) takes minutes on a busy 2-core machine.
pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

TIEXI = "210100/210106/tiexi-01"  # another station of the same city
CALLERS = {
    "clerk_a": auth.CLERK,
    "head_a": auth.HEAD,
    "clerk_other_station": auth.bearer("clerk", TIEXI, name="铁西窗口"),
    "head_other_city": auth.OTHER_HEAD,
    "supervisor_a": auth.SUPERVISOR,
    "supervisor_other": auth.OTHER_SUPERVISOR,
    "org_assigned": auth.ORG,
    "org_other": auth.OTHER_ORG,
    "admin": auth.ADMIN,
    "no_token": auth.NONE,
    "expired": auth.EXPIRED,
    "wrong_key": auth.WRONG_KEY,
}
UNAUTHENTICATED = {"no_token": 401, "expired": 401, "wrong_key": 401}
PUBLIC = dict.fromkeys(CALLERS, 200)
OPS = {"/healthz", "/readyz", "/metrics", "/openapi.json", "/docs", "/redoc", "/docs/oauth2-redirect"}
ALLOWED = "allowed"  # a write several callers may make: the first succeeds, the rest meet the new state (409)


def expect(**by_caller: int | str) -> dict[str, int | str]:
    table = {**UNAUTHENTICATED, **by_caller}
    assert set(table) == set(CALLERS), set(CALLERS) - set(table)
    return table


READ_A = dict(
    clerk_a=200,
    head_a=200,
    clerk_other_station=404,
    head_other_city=404,
    supervisor_a=200,
    supervisor_other=404,
    admin=403,
)
LIST = dict(
    clerk_a=200,
    head_a=200,
    clerk_other_station=200,
    head_other_city=200,
    supervisor_a=200,
    supervisor_other=200,
    admin=403,
)


# (service, method, path) -> (path with ids, json body, expected answer per caller, demand a 200 list must show
# only to the callers who may see it)
def cases(d: dict[str, UUID], token: str, status: str, visit: str) -> dict[tuple[str, str, str], tuple]:
    new_station = {"name": "浑南测试站", "level": 3, "parent_id": events.STATION}
    staff_anywhere = dict(
        clerk_a=201,
        head_a=201,
        clerk_other_station=201,
        head_other_city=201,
        supervisor_a=403,
        supervisor_other=403,
        org_assigned=403,
        org_other=403,
        admin=403,
    )
    admin_only = {k: 403 for k in CALLERS if k not in UNAUTHENTICATED}
    new_item = {"category": "other", "label": "测试项目", "time_limit_days": 5, "handled_by": "station"}
    dossier = {"name": "浑南新企业有限公司", "in_park": True, "park_name": "浑南高新区"}
    return {
        ("intake", "GET", "/catalogue"): ("/catalogue", None, PUBLIC, None),
        ("intake", "PUT", "/catalogue/items/{item_code}"): (
            "/catalogue/items/other.matrix_test",
            new_item,
            expect(**admin_only | {"admin": 200}),
            None,
        ),
        ("intake", "PUT", "/catalogue/overrides/{item_code}"): (
            "/catalogue/overrides/metrology.calibration",
            {"scope": "210100", "time_limit_days": 8},
            expect(**admin_only | {"admin": 201}),
            None,
        ),
        ("intake", "PUT", "/calendar/{day}"): (
            "/calendar/2031-02-03",
            {"is_workday": False, "note": "春节"},
            expect(**admin_only | {"admin": 204}),
            None,
        ),
        ("intake", "GET", "/demands/{demand_id}/notice"): (
            f"/demands/{d['archived']}/notice",
            None,
            expect(**READ_A, org_assigned=403, org_other=403),
            None,
        ),
        ("intake", "GET", "/demands/{demand_id}/notice.pdf"): (
            f"/demands/{d['archived']}/notice.pdf",
            None,
            expect(**READ_A, org_assigned=403, org_other=403),
            None,
        ),
        ("intake", "GET", "/ledger.csv"): ("/ledger.csv", None, expect(**LIST, org_assigned=403, org_other=403), None),
        ("intake", "GET", "/ledger.xlsx"): (
            "/ledger.xlsx",
            None,
            expect(**LIST, org_assigned=403, org_other=403),
            None,
        ),
        ("intake", "PUT", "/enterprises/{credit_code}"): (
            f"/enterprises/{events.credit_code('91210112MA0U00009')}",
            dossier,
            expect(**{k: (200 if v == 201 else v) for k, v in staff_anywhere.items()}),
            None,
        ),
        ("intake", "GET", "/enterprises/{credit_code}"): (
            f"/enterprises/{events.credit_code()}",
            None,
            expect(**READ_A, org_assigned=403, org_other=403),
            None,
        ),
        ("intake", "GET", "/enterprises"): (
            "/enterprises",
            None,
            expect(**LIST, org_assigned=403, org_other=403),
            None,
        ),
        ("intake", "POST", "/visits"): (
            "/visits",
            {
                "credit_code": events.credit_code(),
                "enterprise_name": "沈阳精密",
                "staff": ["张晓燕"],
                "visited_on": TODAY,
                "findings": "需计量检定",
            },
            expect(**staff_anywhere),
            None,
        ),
        ("intake", "GET", "/visits"): ("/visits", None, expect(**LIST, org_assigned=403, org_other=403), None),
        ("intake", "GET", "/visits/{visit_id}"): (
            f"/visits/{visit}",
            None,
            expect(**READ_A, org_assigned=403, org_other=403),
            None,
        ),
        ("intake", "POST", "/public/stations/{station_id:path}/demands"): (
            f"/public/stations/{events.STATION}/demands",
            {k: v for k, v in events.demand_form().items() if k not in ("station_id", "channel", "first_responder")},
            dict.fromkeys(CALLERS, 201),
            None,
        ),
        ("intake", "GET", "/public/status/{token}"): (f"/public/status/{status}", None, PUBLIC, None),
        ("intake", "GET", "/public/status/{token}/notice.pdf"): (
            f"/public/status/{status}/notice.pdf",
            None,
            PUBLIC,
            None,
        ),
        ("intake", "GET", "/categories"): ("/categories", None, PUBLIC, None),
        ("intake", "GET", "/stations"): (
            "/stations",
            None,
            expect(**{k: 200 for k in CALLERS if k not in UNAUTHENTICATED}),
            None,
        ),
        ("intake", "GET", "/stations/{station_id:path}"): (
            f"/stations/{events.STATION}",
            None,
            expect(**{k: 200 for k in CALLERS if k not in UNAUTHENTICATED}),
            None,
        ),
        ("intake", "PUT", "/stations/{station_id:path}"): (
            "/stations/210100/210112/hunnan-test",
            new_station,
            expect(**{k: 403 for k in CALLERS if k not in UNAUTHENTICATED} | {"admin": 200}),
            None,
        ),
        ("intake", "POST", "/demands"): (
            "/demands",
            events.demand_form(),
            expect(
                clerk_a=201,
                head_a=201,
                clerk_other_station=403,
                head_other_city=403,
                supervisor_a=403,
                supervisor_other=403,
                org_assigned=403,
                org_other=403,
                admin=403,
            ),
            None,
        ),
        ("intake", "GET", "/demands"): (
            "/demands",
            None,
            expect(**LIST, org_assigned=403, org_other=403),
            d["archived"],
        ),
        ("intake", "GET", "/demands/{demand_id}"): (
            f"/demands/{d['archived']}",
            None,
            expect(**READ_A, org_assigned=403, org_other=403),
            None,
        ),
        ("dispatch", "GET", "/queue"): (
            "/queue?status=assigned",
            None,
            expect(**LIST, org_assigned=403, org_other=403),
            d["assigned"],
        ),
        ("dispatch", "GET", "/demands/{demand_id}"): (
            f"/demands/{d['assigned']}",
            None,
            expect(**READ_A, org_assigned=200, org_other=404),
            None,
        ),
        ("dispatch", "POST", "/demands/{demand_id}/assignments"): (
            f"/demands/{d['waiting']}/assignments",
            {"assignee_kind": "organization", "assignee_id": "org-01", "assignee_name": "市计量测试院"},
            expect(
                clerk_a=403,
                head_a=201,
                clerk_other_station=404,
                head_other_city=404,
                supervisor_a=403,
                supervisor_other=403,
                org_assigned=403,
                org_other=403,
                admin=403,
            ),
            None,
        ),
        ("tracking", "GET", "/ledger"): (
            "/ledger",
            None,
            expect(**LIST, org_assigned=200, org_other=200),
            d["assigned"],
        ),
        ("tracking", "GET", "/demands/{demand_id}"): (
            f"/demands/{d['assigned']}",
            None,
            expect(**READ_A, org_assigned=200, org_other=404),
            None,
        ),
        ("tracking", "POST", "/demands/{demand_id}/resolution"): (
            f"/demands/{d['assigned']}/resolution",
            {"outcome": "met", "summary": "已出具证书"},
            expect(
                clerk_a=ALLOWED,
                head_a=ALLOWED,
                clerk_other_station=404,
                head_other_city=404,
                supervisor_a=403,
                supervisor_other=403,
                org_assigned=ALLOWED,
                org_other=404,
                admin=403,
            ),
            None,
        ),
        ("evaluation", "GET", "/surveys"): (
            "/surveys",
            None,
            expect(**LIST, org_assigned=403, org_other=403),
            d["open"],
        ),
        ("evaluation", "GET", "/surveys/{demand_id}"): (
            f"/surveys/{d['open']}",
            None,
            expect(**READ_A, org_assigned=403, org_other=403),
            None,
        ),
        ("evaluation", "POST", "/surveys/{demand_id}/rating"): (
            f"/surveys/{d['paper']}/rating",
            {"answers": {"overall": "satisfied"}},
            expect(
                clerk_a=ALLOWED,
                head_a=ALLOWED,
                clerk_other_station=404,
                head_other_city=404,
                supervisor_a=403,
                supervisor_other=403,
                org_assigned=403,
                org_other=403,
                admin=403,
            ),
            None,
        ),
        ("evaluation", "POST", "/surveys/{demand_id}/link"): (
            f"/surveys/{d['open']}/link",
            None,
            expect(
                clerk_a=201,
                head_a=201,
                clerk_other_station=404,
                head_other_city=404,
                supervisor_a=403,
                supervisor_other=403,
                org_assigned=403,
                org_other=403,
                admin=403,
            ),
            None,
        ),
        # The link is the enterprise's only authority: any caller with it gets the same answer.
        ("evaluation", "GET", "/public/ratings/{token}"): (f"/public/ratings/{token}", None, PUBLIC, None),
        ("evaluation", "POST", "/public/ratings/{token}"): (
            f"/public/ratings/{token}",
            {"answers": {"overall": "satisfied"}},
            dict.fromkeys(CALLERS, "once"),
            None,
        ),
        ("archive", "GET", "/dossiers"): (
            "/dossiers",
            None,
            expect(**LIST, org_assigned=403, org_other=403),
            d["archived"],
        ),
        ("archive", "GET", "/dossiers/{demand_id}"): (
            f"/dossiers/{d['archived']}",
            None,
            expect(**READ_A, org_assigned=403, org_other=403),
            None,
        ),
    }


SEES_A = {"clerk_a", "head_a", "supervisor_a"}


def routes(app) -> set[tuple[str, str]]:
    found = set()
    for route in app.routes:
        for r in getattr(getattr(route, "original_router", None), "routes", [route]):
            for method in getattr(r, "methods", None) or []:
                if method != "HEAD":
                    found.add((method, r.path if isinstance(r, APIRoute) else r.path))
    return found


@pytest.fixture(scope="module")
async def system():
    """One prepared system for the module; the route table runs first, the other tests make their own demands."""
    fast_limits = {
        "evaluation": {"public_rate_limit": "1000/minute", "link_rate_limit": "1000/hour"},
        "intake": {"public_rate_limit": "1000/minute"},
    }
    async with fresh_system(**fast_limits) as system:
        d = system.demands
        d["archived"] = await system.submit()
        await system.assign(d["archived"])
        await system.resolve(d["archived"])
        await system.rate(d["archived"])
        d["waiting"] = await system.submit()
        d["assigned"] = await system.submit()
        await system.assign(d["assigned"])
        for key in ("open", "paper", "linked"):
            d[key] = await system.submit()
            await system.assign(d[key])
            await system.resolve(d[key])
        # The other city's demand, assigned to another organization: never in A's answers.
        other = {
            "enterprise": {"name": "广州番禺电子科技有限公司", "credit_code": events.credit_code("91440113MA5A00001")}
        }
        d["other_city"] = await system.submit(events.OTHER_STATION, headers=auth.OTHER_CLERK, **other)
        await system.assign(d["other_city"], org="org-02", headers=auth.OTHER_HEAD)
        for area in areas():
            await area.prepare(system)
        yield system


def areas():
    """The cases of each capability live beside it, in tests/integration/authz_*.py: each module has
    `async prepare(system)` (the rows its routes need, ids kept in `system.demands`) and `cases(system)`
    (rows shaped like `cases()` above). Imported late, since they use this module's tables."""
    from tests.integration import (
        authz_archive,
        authz_archive_exports,
        authz_decisions,
        authz_evaluation_appeal,
        authz_evaluation_kpis,
        authz_evaluation_scorecards,
        authz_intake_access_log,
        authz_intake_changes,
        authz_intake_complaints,
        authz_registry,
        authz_scorecards,
        authz_staff,
        authz_tracking_clock,
        authz_tracking_followups,
        authz_tracking_kpis,
        authz_tracking_revisits,
        authz_tracking_rounds,
        authz_tracking_supervision,
        authz_tracking_tasks,
    )

    return (
        authz_tracking_revisits,
        authz_registry,
        authz_scorecards,
        authz_staff,
        authz_decisions,
        authz_intake_changes,
        authz_intake_complaints,
        authz_intake_access_log,
        authz_tracking_clock,
        authz_tracking_followups,
        authz_tracking_supervision,
        authz_tracking_tasks,
        authz_tracking_rounds,
        authz_tracking_kpis,
        authz_evaluation_kpis,
        authz_evaluation_appeal,
        authz_evaluation_scorecards,
        authz_archive_exports,
        authz_archive,
    )


async def test_every_route_answers_each_caller_as_its_role_allows(system):
    link = await system.clients["evaluation"].post(f"/surveys/{system.demands['linked']}/link", headers=auth.CLERK)
    token = link.json()["url"].rsplit("/", 1)[1]
    status = system.status_urls[system.demands["waiting"]].rsplit("/", 1)[1]
    visit = await system.clients["intake"].post(
        "/visits",
        headers=auth.CLERK,
        json={
            "credit_code": events.credit_code(),
            "enterprise_name": "沈阳精密",
            "staff": ["张晓燕"],
            "visited_on": TODAY,
            "findings": "需计量检定",
        },
    )
    table = cases(system.demands, token, status, visit.json()["visit_id"])
    for area in areas():
        table |= area.cases(system)

    for service, client in system.clients.items():
        for method, path in sorted(routes(system.apps[service])):
            if path in OPS:
                reply = await client.request(method, path)
                assert reply.status_code == 200, (service, path, reply.text)
                continue
            assert (service, method, path) in table, f"no authorization case for {service} {method} {path}"

    failures = []
    for (service, method, _), (url, body, expected, listed) in table.items():
        client = system.clients[service]
        # Refusals first, so the allowed write meets the state it was prepared for.
        order = sorted(CALLERS, key=lambda name: expected[name] not in (403, 404, 401))
        succeeded = False
        for name in order:
            reply = await client.request(method, url, json=body, headers=CALLERS[name])
            want = expected[name]
            if want == ALLOWED:
                ok = reply.status_code in (200, 201) if not succeeded else reply.status_code == 409
                succeeded = succeeded or reply.status_code in (200, 201)
            elif want == "once":
                ok = reply.status_code == (404 if succeeded else 201)
                succeeded = True
            else:
                ok = reply.status_code == want
            if not ok:
                failures.append(
                    f"{service} {method} {url} as {name}: {reply.status_code} (want {want}) {reply.text[:120]}"
                )
            if listed and reply.status_code == 200:
                seen = {row["demand_id"] for row in reply.json()}
                sees_other = service != "archive" and (  # the other city's demand is not archived
                    name in ("head_other_city", "supervisor_other") or (name == "org_other" and service == "tracking")
                )
                if (str(system.demands["other_city"]) in seen) != sees_other:
                    failures.append(f"{service} {url} as {name}: other city's demand wrongly shown or hidden")
                if (str(listed) in seen) != (name in SEES_A or (name == "org_assigned" and service == "tracking")):
                    failures.append(f"{service} {url} as {name}: demand {'shown' if str(listed) in seen else 'hidden'}")
    assert not failures, "\n".join(failures)


async def test_lists_of_one_station_never_hold_another_stations_rows(system):
    other = str(system.demands["other_city"])
    for service, path in (
        ("intake", "/demands"),
        ("dispatch", "/queue?status=assigned"),
        ("tracking", "/ledger"),
        ("evaluation", "/surveys"),
        ("archive", "/dossiers"),
    ):
        for headers, station in ((auth.HEAD, events.STATION), (auth.OTHER_HEAD, events.OTHER_STATION)):
            rows = (await system.clients[service].get(path, headers=headers)).json()
            assert {r["station_id"] for r in rows} <= {station}, (service, station)
        mine = (await system.clients[service].get(path, headers=auth.OTHER_HEAD)).json()
        if service in ("intake", "dispatch", "tracking"):
            assert other in {r["demand_id"] for r in mine}, service  # the filter is not simply empty
        # Asking for another station's list by name is the same as asking for an unknown one.
        named = await system.clients[service].get(
            path.split("?")[0], params={"station_id": events.OTHER_STATION}, headers=auth.HEAD
        )
        assert named.status_code == 404, service


async def test_row_level_security_is_the_second_wall(system):
    for service, url in system.databases.items():
        owner = await asyncpg.connect(url)
        try:
            tables = await station_tables(owner)
            assert tables, service
            flags = await owner.fetch(
                "SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class WHERE relname = ANY($1::text[])",
                tables,
            )
            assert all(f["relrowsecurity"] and f["relforcerowsecurity"] for f in flags), (service, flags)
            role = f"qs_{service}_app"
            r = await owner.fetchrow("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = $1", role)
            assert r and not r["rolsuper"] and not r["rolbypassrls"], (service, r)
            owners = await owner.fetch(
                "SELECT tableowner FROM pg_tables WHERE schemaname = 'public' AND tableowner = $1", role
            )
            assert owners == [], service
        finally:
            await owner.close()

        app_url = system.apps[service].state.runtime.settings.resolved_app_database_url
        conn = await asyncpg.connect(app_url)
        try:
            for table in tables:
                # No scope set: nothing at all, whatever the query forgets.
                assert await conn.fetchval(f"SELECT count(*) FROM {table}") == 0 or table == "stations", table
                async with conn.transaction():
                    await conn.execute("SELECT set_config('qs.scope', $1, true)", events.STATION)
                    stations = {r[0] for r in await conn.fetch(f"SELECT DISTINCT station_id FROM {table}")}
                if table != "stations":
                    assert stations <= {events.STATION}, (service, table, stations)
        finally:
            await conn.close()


async def test_an_organization_sees_only_its_own_assignments(system):
    # Another organization serving Shenyang first (the registry refuses org-02, which serves Guangzhou).
    entry = organization("沈阳检测中心", "12210100MB0000003", ["210100"])
    assert (await system.clients["dispatch"].put("/organizations/org-03", json=entry, headers=auth.ADMIN)).is_success
    demand = await system.submit()
    await system.assign(demand, org="org-03")
    await system.assign(demand, org="org-01")  # rematched (改派) to org-01
    seen = (await system.clients["dispatch"].get(f"/demands/{demand}", headers=auth.ORG)).json()
    assert [a["assignee_id"] for a in seen["assignments"]] == ["org-01"]
    assert (await system.clients["dispatch"].get(f"/demands/{demand}", headers=auth.OTHER_ORG)).status_code == 404
    head = (await system.clients["dispatch"].get(f"/demands/{demand}", headers=auth.HEAD)).json()
    assert [a["assignee_id"] for a in head["assignments"]] == ["org-03", "org-01"]


async def test_a_clerk_keeps_only_a_waiting_demand_they_received(system):
    mine = await system.submit()
    body = {"assignee_kind": "first_responder"}
    other_clerk = auth.bearer("clerk", events.STATION, name="另一位窗口人员", subject="clerk-liu")
    refused = await system.clients["dispatch"].post(f"/demands/{mine}/assignments", json=body, headers=other_clerk)
    assert refused.status_code == 403
    kept = await system.clients["dispatch"].post(f"/demands/{mine}/assignments", json=body, headers=auth.CLERK)
    assert kept.status_code == 201 and kept.json()["assignee_name"] == "张晓燕"
    again = await system.clients["dispatch"].post(f"/demands/{mine}/assignments", json=body, headers=auth.CLERK)
    assert again.status_code == 403  # re-dispatch is the head's
