"""Every HTTP call the console makes to the five services, in one place, with the signed-in person's token.

The services answer errors in one shape ({code, message 中文, message_en, errors?: [{field, message, …}]},
shared/http.py); a non-2xx reply becomes `ServiceError` carrying it, so a page can show the Chinese message and a
form can put each field's message next to the field. A service that cannot be reached is a `ServiceError` too
(status 503), never a crash.
"""

import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote
from uuid import UUID

import httpx
import structlog

from .settings import SERVICES, Settings

log = structlog.get_logger(__name__)


@dataclass
class ServiceError(Exception):
    status: int
    message: str  # 中文
    message_en: str = ""
    code: str = ""
    service: str = ""
    errors: list[dict] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__(f"{self.service}: {self.status} {self.message_en or self.message}")

    def field_errors(self) -> dict[str, str]:
        """{dotted field: Chinese message}; the first message of each field."""
        found: dict[str, str] = {}
        for e in self.errors:
            found.setdefault(str(e.get("field") or ""), str(e.get("message") or e.get("message_en") or ""))
        return found


def _error(service: str, reply: httpx.Response) -> ServiceError:
    try:
        body = reply.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and "message" in body:
        return ServiceError(
            status=reply.status_code,
            message=str(body.get("message")),
            message_en=str(body.get("message_en") or ""),
            code=str(body.get("code") or ""),
            service=service,
            errors=[e for e in body.get("errors") or [] if isinstance(e, dict)],
        )
    return ServiceError(
        status=reply.status_code,
        message="服务返回了无法识别的错误，请稍后再试",
        message_en=f"unexpected reply {reply.status_code}",
        service=service,
    )


def _unreachable(service: str, exc: Exception) -> ServiceError:
    log.warning("service unreachable", target=service, error=repr(exc))
    return ServiceError(
        status=503,
        message=f"暂时无法连接{SERVICE_LABELS.get(service, service)}，请稍后再试",
        message_en=f"{service} unreachable: {exc!r}",
        code="unavailable",
        service=service,
    )


SERVICE_LABELS = {
    "intake": "需求受理服务",
    "dispatch": "派单服务",
    "tracking": "跟踪服务",
    "evaluation": "评价服务",
    "archive": "档案服务",
}


@dataclass(frozen=True)
class Document:
    """A printable document a service rendered (HTML or PDF), passed on as it came."""

    content: bytes
    media_type: str
    disposition: str | None


def _roster(station_id: str, kind: str, record_id: str | None = None) -> str:
    """Dispatch's path of a station's departments or staff (`kind`), or of one of them: the station id keeps its
    slashes (it is the station's place in the area tree, 210100/210112/hunnan-01), a record's id is one segment."""
    path = f"/stations/{quote(station_id, safe='/')}/{kind}"
    return path if record_id is None else f"{path}/{quote(record_id, safe='')}"


class Services:
    """One HTTP client per service; `transports` lets tests route to in-process apps."""

    def __init__(self, settings: Settings, transports: dict[str, httpx.AsyncBaseTransport] | None = None) -> None:
        self._settings = settings
        self._transports = transports or {}
        self._clients: dict[str, httpx.AsyncClient] = {}
        self._registry: tuple[float, list[dict]] | None = None

    async def start(self) -> None:
        for name in SERVICES:
            self._clients[name] = httpx.AsyncClient(
                base_url=self._settings.service_url(name),
                transport=self._transports.get(name),
                timeout=self._settings.service_timeout_seconds,
                headers={"Accept": "application/json"},
            )

    async def close(self) -> None:
        for client in self._clients.values():
            await client.aclose()
        self._clients.clear()

    async def _send(
        self,
        service: str,
        method: str,
        path: str,
        token: str | None,
        *,
        params: dict | None = None,
        json: Any = None,
        idempotency_key: str | None = None,
        forwarded_for: str | None = None,
    ) -> httpx.Response:
        headers = {}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        if forwarded_for:  # the enterprise's address, for the services' per-address limits on public endpoints
            headers["X-Forwarded-For"] = forwarded_for
        clean = {k: v for k, v in (params or {}).items() if v not in (None, "")}
        try:
            reply = await self._clients[service].request(method, path, params=clean, json=json, headers=headers)
        except httpx.HTTPError as exc:
            raise _unreachable(service, exc) from None
        if reply.status_code >= 400:
            raise _error(service, reply)
        return reply

    async def _json(self, service: str, method: str, path: str, token: str | None, **kw) -> Any:
        return (await self._send(service, method, path, token, **kw)).json()

    async def document(self, service: str, path: str, token: str) -> Document:
        reply = await self._send(service, "GET", path, token)
        return Document(
            reply.content,
            reply.headers.get("content-type", "application/octet-stream"),
            reply.headers.get("content-disposition"),
        )

    # --- intake ---

    async def stations(self, token: str) -> list[dict]:
        """The station registry (reference data, not confidential): read at most once a minute."""
        now = time.monotonic()
        if self._registry is None or now - self._registry[0] > 60:
            self._registry = (now, await self._json("intake", "GET", "/stations", token))
        return self._registry[1]

    async def catalogue(self, station_id: str | None) -> list[dict]:
        return await self._json("intake", "GET", "/catalogue", None, params={"station_id": station_id})

    async def categories(self) -> list[dict]:
        return await self._json("intake", "GET", "/categories", None)

    async def save_override(self, token: str, item_code: str, body: dict) -> dict:
        return await self._json("intake", "PUT", f"/catalogue/overrides/{quote(item_code, safe='')}", token, json=body)

    async def save_workday(self, token: str, day: str, body: dict) -> None:
        await self._send("intake", "PUT", f"/calendar/{quote(day, safe='')}", token, json=body)

    async def remove_workday(self, token: str, day: str) -> None:
        await self._send("intake", "DELETE", f"/calendar/{quote(day, safe='')}", token)

    async def enterprise(self, token: str, credit_code: str) -> dict:
        return await self._json("intake", "GET", f"/enterprises/{credit_code}", token)

    async def submit_demand(self, token: str, body: dict, idempotency_key: str) -> dict:
        return await self._json("intake", "POST", "/demands", token, json=body, idempotency_key=idempotency_key)

    async def intake_demand(self, token: str, demand_id: UUID) -> dict:
        return await self._json("intake", "GET", f"/demands/{demand_id}", token)

    # --- tracking ---

    async def ledger(self, token: str, **filters: Any) -> list[dict]:
        return await self._json("tracking", "GET", "/ledger", token, params=filters)

    async def tracking_sheet(self, token: str, demand_id: UUID) -> dict:
        return await self._json("tracking", "GET", f"/demands/{demand_id}", token)

    async def clock(self, token: str, demand_id: UUID) -> dict:
        return await self._json("tracking", "GET", f"/demands/{demand_id}/clock", token)

    async def resolve(self, token: str, demand_id: UUID, body: dict, idempotency_key: str) -> dict:
        return await self._json(
            "tracking", "POST", f"/demands/{demand_id}/resolution", token, json=body, idempotency_key=idempotency_key
        )

    async def verify(self, token: str, demand_id: UUID, body: dict, idempotency_key: str) -> dict:
        return await self._json(
            "tracking", "POST", f"/demands/{demand_id}/verification", token, json=body, idempotency_key=idempotency_key
        )

    # --- dispatch ---

    async def organizations(self, token: str) -> list[dict]:
        return await self._json("dispatch", "GET", "/organizations", token, params={"limit": 500})

    # The registry (服务机构库): PUTs are idempotent by themselves (the same profile twice changes nothing), so
    # they take no Idempotency-Key.
    async def registry(self, token: str, **filters: Any) -> list[dict]:
        return await self._json("dispatch", "GET", "/organizations", token, params=filters)

    async def organization(self, token: str, org_id: str) -> dict:
        return await self._json("dispatch", "GET", f"/organizations/{quote(org_id, safe='')}", token)

    async def organization_history(self, token: str, org_id: str) -> list[dict]:
        path = f"/organizations/{quote(org_id, safe='')}/history"
        return await self._json("dispatch", "GET", path, token, params={"limit": 50})

    async def save_organization(self, token: str, org_id: str, body: dict) -> dict:
        return await self._json("dispatch", "PUT", f"/organizations/{quote(org_id, safe='')}", token, json=body)

    async def set_organization_status(self, token: str, org_id: str, body: dict) -> dict:
        path = f"/organizations/{quote(org_id, safe='')}/status"
        return await self._json("dispatch", "PUT", path, token, json=body)

    async def queue(self, token: str, **filters: Any) -> list[dict]:
        return await self._json("dispatch", "GET", "/queue", token, params=filters)

    async def dispatch_demand(self, token: str, demand_id: UUID) -> dict:
        return await self._json("dispatch", "GET", f"/demands/{demand_id}", token)

    async def candidates(self, token: str, demand_id: UUID) -> dict:
        return await self._json("dispatch", "GET", f"/demands/{demand_id}/candidates", token)

    async def assign(self, token: str, demand_id: UUID, body: dict, idempotency_key: str) -> dict:
        return await self._json(
            "dispatch", "POST", f"/demands/{demand_id}/assignments", token, json=body, idempotency_key=idempotency_key
        )

    # --- evaluation ---

    async def survey(self, token: str, demand_id: UUID) -> dict:
        return await self._json("evaluation", "GET", f"/surveys/{demand_id}", token)

    async def rating_link(self, token: str, demand_id: UUID, idempotency_key: str) -> dict:
        return await self._json(
            "evaluation", "POST", f"/surveys/{demand_id}/link", token, idempotency_key=idempotency_key
        )

    async def paper_rating(self, token: str, demand_id: UUID, body: dict, idempotency_key: str) -> dict:
        return await self._json(
            "evaluation", "POST", f"/surveys/{demand_id}/rating", token, json=body, idempotency_key=idempotency_key
        )

    async def void_rating(self, token: str, demand_id: UUID, round_: int, body: dict, idempotency_key: str) -> dict:
        path = f"/surveys/{demand_id}/ratings/{round_}/void"
        return await self._json("evaluation", "POST", path, token, json=body, idempotency_key=idempotency_key)

    # --- follow-ups, appointments, re-visits (tracking); complaints (intake); KPIs and scorecards ---

    async def follow_ups(self, token: str, demand_id: UUID) -> list[dict]:
        return await self._json("tracking", "GET", f"/demands/{demand_id}/follow-ups", token)

    async def record_follow_up(self, token: str, demand_id: UUID, body: dict, idempotency_key: str) -> dict:
        path = f"/demands/{demand_id}/follow-ups"
        return await self._json("tracking", "POST", path, token, json=body, idempotency_key=idempotency_key)

    async def appointments(self, token: str, **filters: Any) -> list[dict]:
        return await self._json("tracking", "GET", "/appointments", token, params=filters)

    async def revisit_tasks(self, token: str, **filters: Any) -> list[dict]:
        return await self._json("tracking", "GET", "/revisits", token, params=filters)

    async def demand_revisits(self, token: str, demand_id: UUID) -> dict:
        return await self._json("tracking", "GET", f"/demands/{demand_id}/revisits", token)

    async def record_revisit(self, token: str, demand_id: UUID, body: dict, idempotency_key: str) -> dict:
        path = f"/demands/{demand_id}/revisits"
        return await self._json("tracking", "POST", path, token, json=body, idempotency_key=idempotency_key)

    async def complaints(self, token: str, **filters: Any) -> list[dict]:
        return await self._json("intake", "GET", "/complaints", token, params=filters)

    async def complaint(self, token: str, complaint_id: UUID) -> dict:
        return await self._json("intake", "GET", f"/complaints/{complaint_id}", token)

    async def record_complaint(self, token: str, body: dict, idempotency_key: str) -> dict:
        return await self._json("intake", "POST", "/complaints", token, json=body, idempotency_key=idempotency_key)

    async def move_complaint(self, token: str, complaint_id: UUID, body: dict, idempotency_key: str) -> dict:
        path = f"/complaints/{complaint_id}/stages"
        return await self._json("intake", "POST", path, token, json=body, idempotency_key=idempotency_key)

    async def kpis(self, service: str, token: str, **query: Any) -> dict:
        """GET /kpis of tracking or evaluation: `from`, `to`, `station_id`."""
        return await self._json(service, "GET", "/kpis", token, params=query)

    async def scorecard(self, service: str, token: str, **query: Any) -> dict:
        """GET /scorecards of tracking, evaluation or intake (/work/notes/scorecard-contract.md)."""
        return await self._json(service, "GET", "/scorecards", token, params=query)

    # --- dispatch's decisions on a demand: 退单, 转办, 否定备案, 并单 ---

    async def give_back(self, token: str, demand_id: UUID, body: dict, idempotency_key: str) -> dict:
        path = f"/demands/{demand_id}/return"
        return await self._json("dispatch", "POST", path, token, json=body, idempotency_key=idempotency_key)

    async def refer(self, token: str, demand_id: UUID, body: dict, idempotency_key: str) -> dict:
        path = f"/demands/{demand_id}/referrals"
        return await self._json("dispatch", "POST", path, token, json=body, idempotency_key=idempotency_key)

    async def refuse(self, token: str, demand_id: UUID, body: dict, idempotency_key: str) -> dict:
        path = f"/demands/{demand_id}/refusal"
        return await self._json("dispatch", "POST", path, token, json=body, idempotency_key=idempotency_key)

    async def merge(self, token: str, demand_id: UUID, body: dict, idempotency_key: str) -> dict:
        path = f"/demands/{demand_id}/merge"
        return await self._json("dispatch", "POST", path, token, json=body, idempotency_key=idempotency_key)

    # --- tracking's clock: 挂起, 恢复计时, 延期, the station's clock settings ---

    async def pause(self, token: str, demand_id: UUID, body: dict, idempotency_key: str) -> dict:
        path = f"/demands/{demand_id}/pauses"
        return await self._json("tracking", "POST", path, token, json=body, idempotency_key=idempotency_key)

    async def resume(self, token: str, demand_id: UUID, body: dict, idempotency_key: str) -> dict:
        path = f"/demands/{demand_id}/resumption"
        return await self._json("tracking", "POST", path, token, json=body, idempotency_key=idempotency_key)

    async def request_extension(self, token: str, demand_id: UUID, body: dict, idempotency_key: str) -> dict:
        path = f"/demands/{demand_id}/extensions"
        return await self._json("tracking", "POST", path, token, json=body, idempotency_key=idempotency_key)

    async def decide_extension(
        self, token: str, demand_id: UUID, extension_id: UUID, body: dict, idempotency_key: str
    ) -> dict:
        path = f"/demands/{demand_id}/extensions/{extension_id}/decision"
        return await self._json("tracking", "POST", path, token, json=body, idempotency_key=idempotency_key)

    async def extensions(self, token: str, **filters: Any) -> list[dict]:
        return await self._json("tracking", "GET", "/extensions", token, params=filters)

    async def station_clock(self, token: str, station_id: str) -> dict:
        return await self._json("tracking", "GET", f"/stations/{station_id}/clock", token)

    async def set_station_clock(self, token: str, station_id: str, body: dict) -> dict:
        return await self._json("tracking", "PUT", f"/stations/{station_id}/clock", token, json=body)

    # --- tracking's 督办 and special tasks (专项工作) ---

    async def supervise(self, token: str, demand_id: UUID, body: dict, idempotency_key: str) -> dict:
        path = f"/demands/{demand_id}/supervisions"
        return await self._json("tracking", "POST", path, token, json=body, idempotency_key=idempotency_key)

    async def answer_supervision(self, token: str, supervision_id: UUID, body: dict) -> dict:
        # Answered once (409 after): no key needed.
        return await self._json("tracking", "POST", f"/supervisions/{supervision_id}/answer", token, json=body)

    async def supervisions(self, token: str, **filters: Any) -> list[dict]:
        return await self._json("tracking", "GET", "/supervisions", token, params=filters)

    async def special_tasks(self, token: str, **filters: Any) -> list[dict]:
        return await self._json("tracking", "GET", "/special-tasks", token, params=filters)

    async def special_task(self, token: str, task_id: UUID) -> dict:
        return await self._json("tracking", "GET", f"/special-tasks/{task_id}", token)

    async def assign_special_task(self, token: str, body: dict, idempotency_key: str) -> dict:
        return await self._json("tracking", "POST", "/special-tasks", token, json=body, idempotency_key=idempotency_key)

    async def report_special_task(self, token: str, task_id: UUID, body: dict, idempotency_key: str) -> dict:
        path = f"/special-tasks/{task_id}/reports"
        return await self._json("tracking", "POST", path, token, json=body, idempotency_key=idempotency_key)

    # --- archive: sealed dossiers, weekly reports (周报), books (档案册) and their jobs ---

    async def dossiers(self, token: str, **filters: Any) -> list[dict]:
        return await self._json("archive", "GET", "/dossiers", token, params=filters)

    async def dossier(self, token: str, demand_id: UUID) -> dict:
        return await self._json("archive", "GET", f"/dossiers/{demand_id}", token)

    async def book(self, token: str, kind: str, **query: Any) -> dict:
        """GET /books/{kind} (JSON: summary and catalogue); `from`, `to`, `key`, `station_id`."""
        return await self._json("archive", "GET", f"/books/{kind}", token, params=query)

    async def archive_file(self, token: str, path: str, **query: Any) -> Document:
        """A PDF or XLSX of the archive (service record, dossier, weekly report, book, a job's file)."""
        reply = await self._send("archive", "GET", path, token, params=query)
        return Document(
            reply.content,
            reply.headers.get("content-type", "application/octet-stream"),
            reply.headers.get("content-disposition"),
        )

    async def weekly_report(self, token: str, week: str, **query: Any) -> dict:
        return await self._json("archive", "GET", f"/weekly-reports/{week}", token, params=query)

    async def weekly_plan(self, token: str, week: str, body: dict) -> dict:
        # A PUT: writing the same plan twice is the same plan, no key needed.
        return await self._json("archive", "PUT", f"/weekly-reports/{week}/plan", token, json=body)

    async def archive_job(self, token: str, body: dict) -> dict:
        return await self._json("archive", "POST", "/jobs", token, json=body)

    async def archive_job_state(self, token: str, job_id: UUID) -> dict:
        return await self._json("archive", "GET", f"/jobs/{job_id}", token)

    # --- the enterprise's public endpoints (no token: the status or rating link is the only authority) ---

    async def public_submit(self, station_id: str, body: dict, idempotency_key: str, client: str | None) -> dict:
        path = f"/public/stations/{quote(station_id, safe='/')}/demands"
        return await self._json(
            "intake", "POST", path, None, json=body, idempotency_key=idempotency_key, forwarded_for=client
        )

    async def public_status(self, token: str, client: str | None) -> dict:
        return await self._json("intake", "GET", f"/public/status/{token}", None, forwarded_for=client)

    async def public_notice(self, token: str, client: str | None) -> Document:
        reply = await self._send("intake", "GET", f"/public/status/{token}/notice.pdf", None, forwarded_for=client)
        return Document(reply.content, reply.headers.get("content-type", "application/pdf"), None)

    async def public_complaints(self, token: str, client: str | None) -> list[dict]:
        return await self._json("intake", "GET", f"/public/status/{token}/complaints", None, forwarded_for=client)

    async def public_complain(self, token: str, body: dict, idempotency_key: str, client: str | None) -> dict:
        path = f"/public/status/{token}/complaints"
        return await self._json(
            "intake", "POST", path, None, json=body, idempotency_key=idempotency_key, forwarded_for=client
        )

    async def public_rating_link(self, token: str, client: str | None) -> dict:
        return await self._json("evaluation", "GET", f"/public/ratings/{token}", None, forwarded_for=client)

    async def public_rate(self, token: str, body: dict, client: str | None) -> dict:
        return await self._json("evaluation", "POST", f"/public/ratings/{token}", None, json=body, forwarded_for=client)

    # --- health of the services, for the console's own readiness page ---

    async def reachable(self) -> dict[str, bool]:
        out = {}
        for name, client in self._clients.items():
            try:
                out[name] = (await client.get("/healthz", timeout=2)).status_code == 200
            except httpx.HTTPError:
                out[name] = False
        return out

    # --- archive: retention, legal holds, disposal, the chain; the archive's and intake's access logs ---

    async def retention(self, token: str, station_id: str) -> dict:
        return await self._json("archive", "GET", f"/retention/{quote(station_id, safe='/')}", token)

    async def set_retention(self, token: str, station_id: str, body: dict) -> dict:
        # A PUT: the same setting twice is the same setting, no key needed.
        return await self._json("archive", "PUT", f"/retention/{quote(station_id, safe='/')}", token, json=body)

    async def set_hold(self, token: str, demand_id: UUID, body: dict) -> dict:
        # A second hold is refused (409 已处于保全状态): no key needed.
        return await self._json("archive", "POST", f"/dossiers/{demand_id}/hold", token, json=body)

    async def lift_hold(self, token: str, demand_id: UUID, body: dict) -> dict:
        return await self._json("archive", "POST", f"/dossiers/{demand_id}/hold/release", token, json=body)

    async def disposals(self, token: str, **filters: Any) -> list[dict]:
        return await self._json("archive", "GET", "/disposals", token, params=filters)

    async def disposal(self, token: str, disposal_id: UUID) -> dict:
        return await self._json("archive", "GET", f"/disposals/{disposal_id}", token)

    async def request_disposal(self, token: str, body: dict) -> dict:
        return await self._json("archive", "POST", "/disposals", token, json=body)

    async def confirm_disposal(self, token: str, disposal_id: UUID, body: dict) -> dict:
        # Confirmed once (409 after): no key needed.
        return await self._json("archive", "POST", f"/disposals/{disposal_id}/confirmation", token, json=body)

    async def verify_chain(self, token: str, station_id: str | None = None) -> list[dict]:
        return await self._json("archive", "GET", "/chain/verify", token, params={"station_id": station_id})

    async def access_log(self, service: str, token: str, **filters: Any) -> list[dict]:
        """GET /access-log of the archive or intake: `station_id`, `from`, `to`, `limit`, `offset` (the archive's
        also `demand_id`, `action`)."""
        return await self._json(service, "GET", "/access-log", token, params=filters)

    # --- the station: 走访, 一企一册 (intake), 人员与科室 (dispatch), the intake ledger, the calendar ---

    async def workdays(self, token: str, year: int) -> list[dict]:
        """GET /calendar?year=: the working-day corrections in force in one year, in date order."""
        return await self._json("intake", "GET", "/calendar", token, params={"year": year})

    async def visits(self, token: str, **paging: Any) -> list[dict]:
        return await self._json("intake", "GET", "/visits", token, params=paging)

    async def visit(self, token: str, visit_id: UUID) -> dict:
        return await self._json("intake", "GET", f"/visits/{visit_id}", token)

    async def record_visit(self, token: str, body: dict, idempotency_key: str) -> dict:
        return await self._json("intake", "POST", "/visits", token, json=body, idempotency_key=idempotency_key)

    async def enterprises(self, token: str, **filters: Any) -> list[dict]:
        """GET /enterprises: `q` (name or credit code), `park`, `chain`, `town`, `limit`, `offset`."""
        return await self._json("intake", "GET", "/enterprises", token, params=filters)

    async def save_enterprise(self, token: str, credit_code: str, body: dict) -> dict:
        # A PUT of the whole dossier: the same dossier twice is the same dossier, no key needed.
        path = f"/enterprises/{quote(credit_code, safe='')}"
        return await self._json("intake", "PUT", path, token, json=body)

    async def departments(self, token: str, station_id: str, **filters: Any) -> list[dict]:
        return await self._json("dispatch", "GET", _roster(station_id, "departments"), token, params=filters)

    async def save_department(self, token: str, station_id: str, department_id: str, body: dict) -> dict:
        path = _roster(station_id, "departments", department_id)
        return await self._json("dispatch", "PUT", path, token, json=body)

    async def staff(self, token: str, station_id: str, **filters: Any) -> list[dict]:
        return await self._json("dispatch", "GET", _roster(station_id, "staff"), token, params=filters)

    async def save_staff_member(self, token: str, station_id: str, staff_id: str, body: dict) -> dict:
        return await self._json("dispatch", "PUT", _roster(station_id, "staff", staff_id), token, json=body)

    async def intake_ledger(self, token: str, fmt: str, **period: Any) -> Document:
        """GET /ledger.csv or /ledger.xlsx of intake (需求台账 as 004 附录B lays it out): `station_id`, `since`,
        `until`."""
        reply = await self._send("intake", "GET", f"/ledger.{fmt}", token, params=period)
        return Document(
            reply.content,
            reply.headers.get("content-type", "application/octet-stream"),
            reply.headers.get("content-disposition"),
        )
