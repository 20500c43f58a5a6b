"""The README's screenshots of the console (`make screenshots`).

    python -m devtools.screenshots [--out docs/screenshots] [--only ledger,queue] [--colours 256]

Starts the five services and the console as separate processes, as `make run` does (devtools/run.py), on free ports,
databases `qs_shots_<service>_<suffix>` and a RabbitMQ vhost `qs-shots-<suffix>` of their own, so it never meets a
running `make run`, bench or test; seeds the demo data (devtools/demo.py) and a little more through the same APIs (a
demand resolved and waiting for the enterprise's rating, two visits, the head's weekly plan). Then opens each page in
Debian's Chromium driven by Playwright, signed in on the development page as the person who works on it (as the e2e
tier does: tests/support/console.py), and saves it 1280 px wide, the whole page, as PNG (Pillow: reduced to
`--colours` colours and optimized). Everything it started or created is removed at the end, also after an error or
Ctrl-C.
"""

import argparse
import asyncio
import io
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
from stdnum.cn import uscc

from devtools import demo
from devtools.run import CONSOLE, ServiceProcesses
from shared.auth import Role, mint
from shared.calendar import china_today
from shared.contracts.topology import SERVICES
from tests.support import infra
from tests.support.console import CHROMIUM, CHROMIUM_ARGS, free_port, new_page, signed_in

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "screenshots"
WIDTH, HEIGHT = 1280, 800
STATION = "210100/210112/hunnan-01"  # the demo's 沈阳市浑南区 station
CLERK, HEAD = f"clerk:{STATION}", f"head:{STATION}"
SUPERVISOR = "supervisor:210100"
# The demand the enterprise's pages show: resolved by the organization, the one-time rating link sent.
# (enterprise, credit code without check character, contact, phone, catalogue items, description), as QUEUED.
SHOWCASE = ("沈阳华晨精工机械有限公司", "91210112MA0U00009", "郑国强", "13904001357", ["metrology.calibration"],
            "数控车床配套的 12 台千分尺、游标卡尺需要校准")  # fmt: skip
# Two more demands waiting in the dispatch queue beside the demo's one.
QUEUED = [
    ("沈阳东软医疗器械有限公司", "91210112MA0U00010", "吴敏", "13998801234", ["metrology.calibration"],
     "生产线上 48 台温湿度计、电子秤到期需检定，月底前完成"),
    ("沈阳浑南绿源食品科技有限公司", "91210112MA0U00011", "马晓东", "15640011234", ["standardization.self_declaration"],
     "新推出的植物蛋白饮料需制定企业标准并自我声明公开"),
]  # fmt: skip
VISITS = [  # (enterprise, credit code without check character, who went, what they found)
    ("沈阳精密仪器有限公司", "91210112MA0U00001", ["张晓燕"], "企业新购 20 台压力表待首次检定，咨询绿色通道办理条件"),
    ("辽宁北方锅炉制造有限公司", "91210112MA0U00002", ["张晓燕", "周站长"], "两台燃气锅炉即将安装，需了解使用登记材料"),
]  # fmt: skip


@dataclass(frozen=True)
class Shot:
    """One picture: `file`.png of `path` (formatted with the run's facts) as `person` (None: the enterprise, not
    signed in), taken once the CSS selector `ready` shows."""

    file: str
    caption: str
    person: str | None
    path: str
    ready: str


SHOTS = [
    Shot("ledger", "服务专员：需求台账", CLERK, "/ledger", "[data-testid=ledger-row]"),
    Shot("register", "服务专员：登记需求", CLERK, "/demands/new", "[name=description]"),
    Shot("queue", "站长：派单队列", HEAD, "/queue", "[data-demand]"),
    Shot("assign", "站长：派单（服务机构按动态评价排序）", HEAD, "/queue/{queued}/assign", "[data-testid=assign-form]"),
    Shot("tracking-sheet", "跟踪单：跟进、预约与计时暂停", CLERK, "/demands/{followed}", "[data-testid=deadlines]"),
    Shot(
        "public-status", "企业：办理进度（专属链接）", None, "/public/status/{status_token}", "[data-testid=progress]"
    ),
    Shot(
        "public-rating", "企业：服务评价（一次性链接）", None, "/public/ratings/{rating_token}", "fieldset[data-item]"
    ),
    Shot("supervision", "上级单位：服务站指标", SUPERVISOR, "/supervision", "[data-testid=station-row]"),
    Shot("dossier", "档案：归档卷宗", CLERK, "/archive/{archived}", "[data-testid=section-demand]"),
    Shot(
        "weekly-report", "站长：周报与下周工作计划", HEAD, "/weekly-reports?week={week}", "[data-testid=weekly-figures]"
    ),
    Shot("visits", "服务专员：走访记录", CLERK, "/visits", "[data-testid=visit-row]"),
]


def _as(role: Role, **claims) -> dict:
    return {"Authorization": "Bearer " + mint(role=role, **claims)}


CLERK_TOKEN = _as(Role.clerk, station=STATION, name=demo.CLERKS[STATION])
HEAD_TOKEN = _as(Role.head, station=STATION, name=demo.HEADS[STATION])
ORG_TOKEN = _as(Role.org, org=demo.ORG[0], name=demo.ORG[1])


def week_of(day) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


class System:
    """The services and the console as processes on free ports, their own databases and vhost; `stop` removes all."""

    def __init__(self) -> None:
        suffix = uuid.uuid4().hex[:8]
        self.vhost = f"qs-shots-{suffix}"
        self.databases = {name: f"{infra.PG_SERVER}/qs_shots_{name}_{suffix}" for name in SERVICES}
        ports = {name: free_port() for name in (*SERVICES, CONSOLE)}
        console = f"http://127.0.0.1:{ports[CONSOLE]}"
        env = {
            # The status links intake hands out open the console's enterprise pages, as with `make run`. The rating
            # links stay evaluation's own: devtools/demo.py posts its ratings to the link as JSON, which the console's
            # form (CSRF) refuses; the rating page is opened here by the link's token anyway.
            "INTAKE_PUBLIC_URL": console,
            "EVALUATION_PUBLIC_URL": f"http://127.0.0.1:{ports['evaluation']}",
            "INTAKE_TRUSTED_PROXIES": '["127.0.0.1"]',
            "EVALUATION_TRUSTED_PROXIES": '["127.0.0.1"]',
        }
        for name in SERVICES:
            prefix = name.upper()
            env |= {
                f"{prefix}_DATABASE_URL": self.databases[name],
                f"{prefix}_AMQP_URL": infra.amqp_url(self.vhost),
                f"{prefix}_OUTBOX_POLL_SECONDS": "0.2",
                f"CONSOLE_{prefix}_URL": f"http://127.0.0.1:{ports[name]}",
            }
        self.procs = ServiceProcesses(env=env, ports=ports, echo=False)
        self.vhost_made = False

    def url(self, name: str) -> str:
        return self.procs.url(name)

    async def start(self) -> None:
        infra.new_vhost(self.vhost)
        self.vhost_made = True
        await self.procs.start_all()
        await self.procs.wait_ready(timeout=180)

    async def stop(self) -> None:
        if self.procs.procs:
            await self.procs.stop()
        for url in self.databases.values():
            await infra.drop_database(url)
        if self.vhost_made:
            infra.drop_vhost(self.vhost)


async def _poll(client: httpx.AsyncClient, url: str, ok: Callable[[object], bool], headers: dict, what: str):
    async def check():
        reply = await client.get(url, headers=headers)
        return reply.json() if reply.status_code == 200 and ok(reply.json()) else None

    return await infra.eventually(check, timeout=60, interval=0.2, what=what)


async def prepare(system: System) -> dict[str, str]:
    """The demo data, and what the pages need beyond it; the facts the shots' paths name."""
    urls = {name: system.url(name) for name in SERVICES}
    async with httpx.AsyncClient(timeout=30) as client:
        await demo.seed(urls, client)
        mine = await client.get(f"{urls['intake']}/demands", params={"station_id": STATION}, headers=HEAD_TOKEN)
        mine.raise_for_status()
        by_name = {d["enterprise_name"]: d["demand_id"] for d in mine.json()}
        names = [entry[0] for entry in demo.DEMANDS[STATION]]
        facts = {
            "archived": by_name[names[0]],
            "followed": by_name[names[demo.FOLLOWED[1]]],
            "queued": by_name[names[-1]],
            "week": week_of(china_today(datetime.now(UTC))),
        }
        facts |= await _rated_soon(client, urls)
        for entry in QUEUED:
            await _register(client, urls, *entry, channel="phone")
        for name, code, staff, findings in VISITS:
            body = {
                "credit_code": code + uscc.calc_check_digit(code),
                "enterprise_name": name,
                "staff": staff,
                "visited_on": china_today(datetime.now(UTC)).isoformat(),
                "findings": findings,
            }
            (await client.post(f"{urls['intake']}/visits", json=body, headers=CLERK_TOKEN)).raise_for_status()
        plan = {"plan": "走访浑南装备小镇十家企业，开展计量器具送检专题服务；跟进两台燃气锅炉使用登记。"}
        reply = await client.put(
            f"{urls['archive']}/weekly-reports/{facts['week']}/plan", json=plan, headers=HEAD_TOKEN
        )
        reply.raise_for_status()
        # The pages read what the services learned from each other's events: wait for the last of them.
        await _poll(
            client,
            f"{urls['tracking']}/ledger",
            lambda rows: {r["enterprise_name"] for r in rows} >= {entry[0] for entry in QUEUED},
            HEAD_TOKEN,
            "tracking's ledger to list the queued demands",
        )
        await _poll(
            client,
            f"{urls['dispatch']}/queue",
            lambda rows: len(rows) >= 1 + len(QUEUED),
            HEAD_TOKEN,
            "dispatch's queue to hold the queued demands",
        )
        await _poll(client, f"{urls['archive']}/dossiers/{facts['archived']}", bool, HEAD_TOKEN, "the dossier")
    return facts


async def _register(
    client: httpx.AsyncClient,
    urls: dict[str, str],
    name: str,
    code: str,
    contact: str,
    phone: str,
    items: list[str],
    description: str,
    *,
    channel: str,
) -> dict:
    """A demand registered by the station's clerk (`code` without its check character); intake's reply."""
    body = {
        "station_id": STATION,
        "enterprise": {"name": name, "credit_code": code + uscc.calc_check_digit(code)},
        "contact": {"name": contact, "phone": phone},
        "items": [{"code": item} for item in items],
        "description": description,
        "channel": channel,
    }
    reply = await client.post(f"{urls['intake']}/demands", json=body, headers=CLERK_TOKEN)
    reply.raise_for_status()
    return reply.json()


async def _rated_soon(client: httpx.AsyncClient, urls: dict[str, str]) -> dict[str, str]:
    """A demand registered at the window, assigned, resolved by the organization, its rating link sent: the
    enterprise's status page asks for the rating and the rating form is open."""
    submitted = await _register(client, urls, *SHOWCASE, channel="window")
    demand_id = submitted["demand_id"]
    await _poll(client, f"{urls['dispatch']}/demands/{demand_id}", bool, HEAD_TOKEN, "dispatch to see the demand")
    assignee = {"assignee_kind": "organization", "assignee_id": demo.ORG[0], "assignee_name": demo.ORG[1]}
    reply = await client.post(f"{urls['dispatch']}/demands/{demand_id}/assignments", json=assignee, headers=HEAD_TOKEN)
    reply.raise_for_status()
    tracking = f"{urls['tracking']}/demands/{demand_id}"
    await _poll(client, tracking, lambda c: c["status"] == "assigned", HEAD_TOKEN, "tracking to see it assigned")
    resolution = {"outcome": "met", "summary": "已上门校准 12 台量具并出具校准证书"}
    (await client.post(f"{tracking}/resolution", json=resolution, headers=ORG_TOKEN)).raise_for_status()
    survey = f"{urls['evaluation']}/surveys/{demand_id}"
    await _poll(client, survey, lambda s: s["status"] == "open", HEAD_TOKEN, "the survey to open")
    link = await client.post(f"{survey}/link", headers=CLERK_TOKEN)
    link.raise_for_status()
    return {
        "showcase": demand_id,
        "status_token": submitted["status_url"].rsplit("/", 1)[1],
        "rating_token": link.json()["url"].rsplit("/", 1)[1],
    }


def compress(png: bytes, colours: int) -> bytes:
    """Fewer colours (0: as taken) and an optimized PNG, where Pillow is installed; otherwise as taken."""
    try:
        from PIL import Image
    except ImportError:
        return png
    image = Image.open(io.BytesIO(png))
    if colours:
        image = image.convert("RGB").quantize(colors=colours, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue() if out.tell() < len(png) else png


async def take(page, shot: Shot, facts: dict[str, str]) -> bytes:
    from playwright.async_api import expect

    reply = await page.goto(shot.path.format(**facts))
    assert reply is not None and reply.status == 200, f"{shot.file}: {page.url} answered {reply and reply.status}"
    await expect(page.locator(shot.ready).first).to_be_visible()
    await page.wait_for_load_state("networkidle")
    return await page.screenshot(full_page=True, animations="disabled", caret="hide")


async def photograph(base: str, facts: dict[str, str], shots: list[Shot], out: Path, colours: int) -> list[Path]:
    from playwright.async_api import async_playwright

    saved = []
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            for shot in shots:
                if shot.person is None:
                    context, page = await new_page(browser, base, width=WIDTH, height=HEIGHT)
                    try:
                        png = await take(page, shot, facts)
                    finally:
                        await context.close()
                else:
                    async with signed_in(browser, base, shot.person, width=WIDTH, height=HEIGHT) as page:
                        png = await take(page, shot, facts)
                path = out / f"{shot.file}.png"
                path.write_bytes(compress(png, colours))
                saved.append(path)
                print(f"  {path}  {path.stat().st_size // 1024} KiB", flush=True)
        finally:
            await browser.close()
    return saved


def gallery(shots: list[Shot], where: str = "docs/screenshots", columns: int = 3) -> str:
    """The README's table of the screenshots (a click opens the full page), captions from SHOTS."""
    cells = [
        f'<a href="{where}/{s.file}.png"><img src="{where}/{s.file}.png" width="260" alt="{s.caption}"></a>'
        f"<br>{s.caption}"
        for s in shots
    ]
    rows = [cells[i : i + columns] for i in range(0, len(cells), columns)]
    lines = ["| " + " | ".join([""] * columns) + " |", "|" + "---|" * columns]
    lines += ["| " + " | ".join(row + [""] * (columns - len(row))) + " |" for row in rows]
    return "\n".join(lines)


async def main(out: Path, only: set[str] | None, colours: int) -> None:
    shots = [s for s in SHOTS if only is None or s.file in only]
    system = System()
    try:
        print(f"starting the services and the console (vhost {system.vhost}) …", flush=True)
        await system.start()
        facts = await prepare(system)
        print(f"taking {len(shots)} screenshots into {out} …", flush=True)
        saved = await photograph(system.url(CONSOLE), facts, shots, out, colours)
        total = sum(p.stat().st_size for p in saved)
        print(f"{len(saved)} screenshots, {total / 1024 / 1024:.1f} MiB; for the README:\n\n{gallery(shots)}\n")
    finally:
        await system.stop()


def _names(value: str) -> set[str]:
    names = {n.strip() for n in value.split(",") if n.strip()}
    unknown = names - {s.file for s in SHOTS}
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"unknown {sorted(unknown)}; choose from {', '.join(s.file for s in SHOTS)}")
    return names


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="The console's screenshots for the README.")
    parser.add_argument("--out", type=Path, default=OUT, help="where the PNGs go (docs/screenshots)")
    parser.add_argument("--only", type=_names, default=None, help="comma-separated names, e.g. ledger,queue")
    parser.add_argument("--colours", type=int, default=256, help="palette size (0 keeps every colour)")
    args = parser.parse_args()
    if not Path(CHROMIUM).exists():
        sys.exit(f"{CHROMIUM} is missing: install Debian's chromium (`make infra`, i.e. scripts/ensure-infra.sh)")
    args.out.resolve().mkdir(parents=True, exist_ok=True)
    asyncio.run(main(args.out.resolve(), args.only, args.colours))
