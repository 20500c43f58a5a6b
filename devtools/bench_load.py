"""The load of `make bench` (devtools/bench.py): complete demand lifecycles through the services' public HTTP APIs.

One lifecycle, as station staff and an organization would drive it (each POST with an Idempotency-Key, as the
console sends them):

    clerk    POST intake     /demands                       → wait: dispatch GET /demands/{id} answers
    head     POST dispatch   /demands/{id}/assignments      → wait: tracking GET /demands/{id} says assigned
    org      POST tracking   /demands/{id}/resolution       → wait: evaluation GET /surveys/{id} is open
    clerk    POST evaluation /surveys/{id}/rating           → wait: archive GET /dossiers/{id} is sealed

Each wait polls first `poll_interval` seconds after the POST answered, then at intervals growing by `poll_backoff`
up to `poll_max`, until a deadline: the time it takes is the event's propagation from one service to the next, as an
upper bound — rounded up to the next poll (at most `poll_backoff` times the true wait, or `poll_max` over it), plus
that poll's own round trip. Growing intervals keep an overloaded system from being buried under its own waiters'
GETs (at a fixed 20 ms, a minute of backlog meant 3,000 polls per demand). The polls are load too; they are
counted per service and answer (200 or 404), so the bench can say what they cost.

Tokens are minted as tests/support/auth.py does, with the bench's own signing key (the services run in production
mode, which refuses the development key). Two stations of the seeded registry (Shenyang's Hunnan and Guangzhou's
Panyu), one organization per city registered through dispatch's API as devtools/demo.py does it.

A service run as several replicas (`--replicas`) gets its requests in turns, one replica after the other, the polls
of one wait included: each replica serves requests as well as events. Every lifecycle begun is kept
(`Driver.begun`): which demands the bench submitted and how far each got, for the correctness check at the end
(devtools/bench_verify.py).
"""

import asyncio
import random
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from stdnum.cn import uscc

from devtools import demo
from devtools.bench_http import Client, HTTPError
from shared.auth import Role, mint
from shared.calendar import china_today

# (station, district code for credit codes, city's organization, its areas)
STATIONS = (
    ("210100/210112/hunnan-01", "210112", "org-bench-sy", "沈阳市计量测试研究院", ["210100"]),
    ("440100/440113/panyu-01", "440113", "org-bench-gz", "广州市质量检测认证中心", ["440100"]),
)
CATEGORIES = [
    "training", "diagnosis", "quality_mgmt", "standardization", "metrology", "testing", "special_equipment",
    "certification", "ip", "market_access", "brand", "equipment_sharing", "innovation", "other",
]  # fmt: skip
BRANDS = ("恒泰", "华信", "金鼎", "瑞丰", "宏达", "永盛", "鑫源", "博远", "嘉禾", "中联", "天成", "汇通")
TRADES = ("精密仪器", "锅炉制造", "新材料科技", "食品", "电子科技", "珠宝首饰", "精工机械", "塑料制品")
CITY = {"210100": "沈阳", "440100": "广州"}
SUMMARIES = (
    "已完成检定校准并出具证书，共 36 台计量器具合格",
    "已出具产品检验报告，各项指标符合标准要求",
    "已协助企业完成使用登记材料审核并提交",
    "已开展现场诊断，形成质量提升建议书并与企业确认",
)
POLL = {"dispatch", "tracking", "evaluation", "archive"}


@dataclass(frozen=True)
class People:
    """Bearer headers for one station's clerk and head, and the organization serving its city."""

    station: str
    district: str
    clerk: dict
    head: dict
    org: dict
    org_id: str
    org_name: str


def bearer(key: str, role: Role, station: str | None = None, org: str | None = None, name: str | None = None) -> dict:
    token = mint(role=role, station=station, org=org, name=name, key=key, ttl=timedelta(hours=12))
    return {"Authorization": f"Bearer {token}"}


def people(key: str) -> list[People]:
    return [
        People(
            station=station,
            district=district,
            clerk=bearer(key, Role.clerk, station, name=demo.CLERKS[station]),
            head=bearer(key, Role.head, station, name=demo.HEADS[station]),
            org=bearer(key, Role.org, org=org_id, name=org_name),
            org_id=org_id,
            org_name=org_name,
        )
        for station, district, org_id, org_name, _ in STATIONS
    ]


def organization_entry(org_name: str, areas: list[str], n: int) -> dict:
    """A registry entry qualified for every category in the city, valid for years (dispatch PUT /organizations)."""
    code = f"12{areas[0]}MB0B{n:05d}"
    today = china_today(datetime.now(UTC))
    return {
        "name": org_name,
        "credit_code": code + uscc.calc_check_digit(code),
        "contacts": [{"name": "业务受理窗口", "phone": "13800000001", "role": "业务联系人"}],
        "categories": CATEGORIES,
        "qualifications": [
            {
                "kind": "检验检测机构资质认定证书（CMA）",
                "certificate_no": f"CMA-{code[-6:]}",
                "issuer": "省市场监督管理局",
                "scope": "计量、检验检测、认证及相关技术服务",
                "valid_from": date(2024, 1, 1).isoformat(),
                "valid_until": (today + timedelta(days=1500)).isoformat(),
            }
        ],
        "agreement": {
            "party": "市市场监督管理局",
            "number": f"XY-{code[-6:]}",
            "valid_until": (today + timedelta(days=730)).isoformat(),
        },
        "areas": areas,
    }  # fmt: skip


async def register_organizations(client: Client, dispatch: str, key: str) -> None:
    admin = bearer(key, Role.admin, name="运维")
    for n, (_, _, org_id, org_name, areas) in enumerate(STATIONS, start=1):
        reply = await client.put(
            f"{dispatch}/organizations/{org_id}", json=organization_entry(org_name, areas, n), headers=admin
        )
        if reply.status_code not in (200, 201):
            raise RuntimeError(f"registering {org_id}: {reply.status_code} {reply.text[:300]}")


def demand_form(who: People, rng: random.Random) -> dict:
    """A clerk's form as the console sends it: one of the demo's real requests, from one of ~100 enterprises."""
    templates = demo.DEMANDS[who.station]
    _, _, contact, phone, items, text, channel = rng.choice(templates)
    n = rng.randrange(len(BRANDS) * len(TRADES))
    brand, trade = BRANDS[n % len(BRANDS)], TRADES[n // len(BRANDS)]
    code = f"91{who.district}MA{n:07d}"
    return {
        "station_id": who.station,
        "enterprise": {
            "name": f"{CITY[who.station[:6]]}{brand}{trade}有限公司",
            "credit_code": code + uscc.calc_check_digit(code),
        },
        "contact": {"name": contact, "phone": phone},
        "items": [{"code": item} for item in items],
        "description": text,
        "channel": channel,
    }


def rating_answers(rng: random.Random) -> dict:
    """A paper form transcribed by the clerk, every item filled, satisfied or better (no re-handling)."""
    return {
        "answers": {
            "station_service": rng.choice((4, 5)),
            "station_timeliness": rng.choice((4, 5)),
            "station_professionalism": 5,
            "station_civility": 5,
            "problem_solved": True,
            "technician_professionalism": rng.choice((4, 5)),
            "technician_timeliness": rng.choice((3, 4, 5)),
            "technician_civility": 5,
            "facilities": 5,
            "overall": rng.choice(("very_satisfied", "satisfied")),
            "comments": rng.choice(("服务及时，非常专业", "检测周期短，报告清楚", "")) or None,
        }
    }


class StepFailed(Exception):
    pass


@dataclass
class Lifecycle:
    """One demand's trip. Times are time.monotonic(); `started` is when it was due (open loop: its slot in the
    schedule, so a late start counts against the system, not forgiven)."""

    station: str
    started: float
    demand_id: str | None = None
    http: dict[str, float] = field(default_factory=dict)
    wait: dict[str, float] = field(default_factory=dict)
    ended: float | None = None
    error: str | None = None

    @property
    def sealed(self) -> bool:
        return self.ended is not None and self.error is None

    @property
    def end_to_end(self) -> float | None:
        return None if self.ended is None else self.ended - self.started


@dataclass
class Driver:
    client: Client
    urls: dict[str, list[str]]  # per service, each replica's address
    who: list[People]
    poll_interval: float = 0.02
    poll_backoff: float = 1.5
    poll_max: float = 0.5
    wait_timeout: float = 60.0
    rng: random.Random = field(default_factory=lambda: random.Random(14))
    # requests[(service, kind)]: kind is "write" (the four POSTs), "poll-found" or "poll-absent" (a wait's GETs,
    # answered 200 — the object, in the state waited for or not yet — or 404)
    requests: Counter = field(default_factory=Counter)
    # Every lifecycle begun, also those whose submit was never answered (shared with copies of the driver, e.g.
    # the warm-up's).
    begun: list[Lifecycle] = field(default_factory=list)
    _next: int = 0
    _turns: Counter = field(default_factory=Counter)

    def counts(self) -> Counter:
        return Counter(self.requests)

    def url(self, service: str) -> str:
        """The service's replicas in turns (round robin)."""
        urls = self.urls[service]
        turn = self._turns[service]
        self._turns[service] += 1
        return urls[turn % len(urls)]

    def next_people(self) -> People:
        self._next += 1
        return self.who[self._next % len(self.who)]

    async def _post(self, service: str, path: str, body: dict | None, headers: dict, expect: int) -> dict:
        self.requests[(service, "write")] += 1
        headers = headers | {"Idempotency-Key": str(uuid.uuid4())}
        try:
            reply = await self.client.post(self.url(service) + path, json=body, headers=headers)
        except HTTPError as exc:
            raise StepFailed(f"{service} POST {path}: {exc!r}") from None
        if reply.status_code != expect:
            raise StepFailed(f"{service} POST {path}: {reply.status_code} {reply.text[:300]}")
        return reply.json()

    async def _wait(self, service: str, path: str, headers: dict, ok: Callable[[dict], bool]) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.wait_timeout
        interval = self.poll_interval
        while True:
            await asyncio.sleep(interval)
            interval = min(interval * self.poll_backoff, self.poll_max)
            try:
                reply = await self.client.get(self.url(service) + path, headers=headers)
            except HTTPError as exc:
                raise StepFailed(f"{service} GET {path}: {exc!r}") from None
            # Priced by what the service had to do: read and render the object (200), or find nothing (404).
            self.requests[(service, "poll-found" if reply.status_code == 200 else "poll-absent")] += 1
            if reply.status_code == 200 and ok(reply.json()):
                return
            if reply.status_code not in (200, 404):
                raise StepFailed(f"{service} GET {path}: {reply.status_code} {reply.text[:300]}")
            if loop.time() > deadline:
                raise StepFailed(f"{service} GET {path}: not there after {self.wait_timeout:g} s")

    async def _step(self, lc: Lifecycle, step: str, call, wait) -> dict:
        t0 = time.monotonic()
        try:
            result = await call
        except BaseException:
            wait.close()  # never started
            raise
        t1 = time.monotonic()
        lc.http[step] = t1 - t0
        await wait
        lc.wait[step] = time.monotonic() - t1
        return result

    async def lifecycle(self, started: float | None = None) -> Lifecycle:
        who = self.next_people()
        lc = Lifecycle(station=who.station, started=time.monotonic() if started is None else started)
        self.begun.append(lc)
        step = "submit"
        try:
            form = demand_form(who, self.rng)
            submit = self._post("intake", "/demands", form, who.clerk, 201)
            t0 = time.monotonic()
            demand = await submit
            lc.http[step] = time.monotonic() - t0
            demand_id = lc.demand_id = demand["demand_id"]
            t1 = time.monotonic()
            await self._wait("dispatch", f"/demands/{demand_id}", who.head, lambda d: True)
            lc.wait[step] = time.monotonic() - t1

            step = "assign"
            body = {"assignee_kind": "organization", "assignee_id": who.org_id, "assignee_name": who.org_name}
            await self._step(
                lc,
                step,
                self._post("dispatch", f"/demands/{demand_id}/assignments", body, who.head, 201),
                self._wait("tracking", f"/demands/{demand_id}", who.head, lambda c: c.get("status") == "assigned"),
            )

            step = "resolve"
            body = {
                "outcome": "met",
                "summary": self.rng.choice(SUMMARIES),
                "fee": {"free_service": True, "amount_yuan": 0},
                "deliverables": [{"title": "检验检测报告", "reference": f"BG-{demand['tracking_no']}"}],
                "staff_involved": ["李工"],
            }
            await self._step(
                lc,
                step,
                self._post("tracking", f"/demands/{demand_id}/resolution", body, who.org, 200),
                self._wait("evaluation", f"/surveys/{demand_id}", who.head, lambda s: s.get("status") == "open"),
            )

            step = "rate"
            await self._step(
                lc,
                step,
                self._post("evaluation", f"/surveys/{demand_id}/rating", rating_answers(self.rng), who.clerk, 201),
                self._wait("archive", f"/dossiers/{demand_id}", who.head, lambda d: True),
            )
            lc.ended = time.monotonic()
        except StepFailed as exc:
            lc.error = f"{step}: {exc}"
            lc.ended = time.monotonic()
        return lc


async def closed_loop(driver: Driver, clients: int, stop_at: float) -> list[Lifecycle]:
    """`clients` at once, each starting its next lifecycle as soon as the last one ended, until `stop_at`
    (time.monotonic()); the lifecycles under way then are finished (they end after the measured window)."""
    done: list[Lifecycle] = []

    async def client() -> None:
        while time.monotonic() < stop_at:
            done.append(await driver.lifecycle())

    await asyncio.gather(*(client() for _ in range(clients)))
    return done


@dataclass
class OpenLoopRun:
    lifecycles: list[Lifecycle]
    offered: int
    unfinished: int
    max_start_lag: float
    finished_at: float


async def open_loop(driver: Driver, rate: float, seconds: float, drain: float) -> OpenLoopRun:
    """A new demand every 1/`rate` s for `seconds`, each carried through its lifecycle by a task of its own,
    whatever the system's pace (its due time is its start, so queueing inside the bench counts too). After the
    last one, `drain` seconds for those under way; what is still under way then is counted unfinished."""
    loop = asyncio.get_running_loop()
    count = int(rate * seconds)
    t0 = time.monotonic()
    tasks: list[asyncio.Task] = []
    max_lag = 0.0
    for i in range(count):
        due = t0 + i / rate
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        max_lag = max(max_lag, time.monotonic() - due)
        tasks.append(loop.create_task(driver.lifecycle(started=due)))
    finished, pending = await asyncio.wait(tasks, timeout=drain) if tasks else (set(), set())
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    return OpenLoopRun(
        lifecycles=[t.result() for t in finished],
        offered=count,
        unfinished=len(pending),
        max_start_lag=max_lag,
        finished_at=time.monotonic(),
    )


async def hammer(client: Client, url: str, headers: dict, n: int, concurrency: int = 4) -> None:
    """`n` GETs of one URL, `concurrency` at a time (the poll-cost calibration)."""
    left = n

    async def worker() -> None:
        nonlocal left
        while left > 0:
            left -= 1
            await client.get(url, headers=headers)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
