"""Demo data for `make run`: two stations in two cities, demands at every stage of their life.

Everything goes through the services' public HTTP APIs, exactly as staff would do it.
Seeding is skipped for a station that already has demands, so restarts add nothing.
One demand in handling is followed on its tracking sheet (a contact, an appointment) and paused
waiting on the enterprise, so the sheet, the upcoming appointments, the paused list and the
enterprise's status link (计时暂停 and why) all show something.
"""

import asyncio
import contextlib
from datetime import UTC, date, datetime, timedelta

import httpx
from stdnum.cn import uscc

from shared.auth import Role, mint
from shared.calendar import add_working_days, china_today

STATIONS = {
    "210100/210112/hunnan-01": "沈阳市浑南区一站式质量服务站",
    "440100/440113/panyu-01": "广州市番禺区工业园区质量服务工作站",
}

# (enterprise, credit code without check character, contact, phone, catalogue items, description, channel)
DEMANDS = {
    "210100/210112/hunnan-01": [
        (
            "沈阳精密仪器有限公司",
            "91210112MA0U00001",
            "王建国",
            "13804001234",
            ["metrology.calibration"],
            "压力表、千分尺共 36 台需要检定校准，希望走绿色通道",
            "window",
        ),
        (
            "辽宁北方锅炉制造有限公司",
            "91210112MA0U00002",
            "刘海波",
            "024-23781234",
            ["special_equipment.registration", "special_equipment.operator_exam"],
            "新购两台燃气锅炉需办理使用登记，并安排司炉工考试",
            "phone",
        ),
        (
            "沈阳新材料科技股份有限公司",
            "91210112MA0U00003",
            "赵丽",
            "13940012345",
            ["standardization.self_declaration", "ip.pledge_financing"],
            "拟制定企业标准并自我声明公开，同时咨询专利质押融资",
            "visit",
        ),
        (
            "浑南食品有限公司",
            "91210112MA0U00004",
            "孙明",
            "15998765432",
            ["testing.product_testing"],
            "新品速冻水饺需要出厂检验报告",
            "website",
        ),
    ],
    "440100/440113/panyu-01": [
        (
            "广州番禺电子科技有限公司",
            "91440113MA5A00001",
            "陈志强",
            "13800138000",
            ["certification.ccc_consulting", "certification.voluntary"],
            "蓝牙音箱出口前咨询 CCC 认证与自愿性认证",
            "window",
        ),
        (
            "番禺珠宝首饰有限公司",
            "91440113MA5A00002",
            "黄美玲",
            "020-34561234",
            ["testing.product_testing", "brand.demonstration"],
            "贵金属饰品成色检测，并申报商标品牌示范企业",
            "im",
        ),
        (
            "广州南沙精工机械有限公司",
            "91440113MA5A00003",
            "李伟",
            "13711112222",
            ["quality_mgmt.qc_circle", "quality_mgmt.excellence"],
            "希望开展 QC 小组活动辅导与卓越绩效自评",
            "daily",
        ),
    ],
}

CLERKS = {"210100/210112/hunnan-01": "张晓燕", "440100/440113/panyu-01": "何家豪"}
HEADS = {"210100/210112/hunnan-01": "周站长", "440100/440113/panyu-01": "梁站长"}
# The organization each station's first demand is assigned to (and that resolves it).
ORGS = {
    "210100/210112/hunnan-01": ("org-metrology-01", "市计量测试院"),
    "440100/440113/panyu-01": ("org-gz-cert-01", "广州市质量认证咨询中心"),
}
ORG = ORGS["210100/210112/hunnan-01"]
# The demand followed and paused: Hunnan's second (the boilers, handled by the first responder).
FOLLOWED = ("210100/210112/hunnan-01", 1)

# The service-organization registry (服务机构库): (id, name, credit code without check character, service
# areas, categories, qualifications as (kind, issuer, scope, days still valid), agreement party, status and
# reason). One qualification runs out within 30 days, so the expiring list and metric show something.
REGISTRY = [
    (
        "org-metrology-01",
        "市计量测试院",
        "12210100MB0A00001",
        ["210100"],
        ["metrology", "testing"],
        [
            ("法定计量检定机构计量授权证书", "辽宁省市场监督管理局", "压力、长度、温度、力学计量器具检定校准", 900),
            ("检验检测机构资质认定证书（CMA）", "辽宁省市场监督管理局", "计量器具及产品检验检测", 1200),
        ],
        "沈阳市市场监督管理局",
        None,
    ),
    (
        "org-sy-se-01",
        "沈阳特种设备检测研究院",
        "12210100MB0A00002",
        ["210100"],
        ["special_equipment"],
        [("特种设备检验检测机构核准证", "国家市场监督管理总局", "锅炉、压力容器、电梯定期检验及监督检验", 20)],
        "沈阳市市场监督管理局",
        None,
    ),
    (
        "org-hn-ip-01",
        "浑南知识产权服务中心",
        "12210112MB0A00003",
        ["210100/210112/hunnan-01"],
        ["ip", "standardization"],
        [("专利代理机构执业许可证", "国家知识产权局", "专利申请代理、专利导航、质押融资咨询", 700)],
        "沈阳市浑南区一站式质量服务站",
        None,
    ),
    (
        "org-gz-cert-01",
        "广州市质量认证咨询中心",
        "12440100MB0A00004",
        ["440100"],
        ["certification", "testing", "brand", "quality_mgmt"],
        [
            ("认证机构批准书", "国家认证认可监督管理委员会", "产品认证、管理体系认证咨询", 1000),
            ("检验检测机构资质认定证书（CMA）", "广东省市场监督管理局", "电子电器、贵金属饰品检验检测", 800),
        ],
        "广州市市场监督管理局",
        None,
    ),
    (
        "org-py-lab-02",
        "番禺检测技术有限公司",
        "91440113MA5A0L005",
        ["440100/440113/panyu-01"],
        ["testing"],
        [("检验检测机构资质认定证书（CMA）", "广东省市场监督管理局", "五金、塑料制品检验", 500)],
        "广州市番禺区工业园区质量服务工作站",
        ("suspended", "客户投诉报告出具超期，整改中"),
    ),
]


def tokens() -> dict[str, tuple[str, str]]:
    """Ready-to-use development tokens for the demo: label -> (who, token)."""
    out = {}
    for station in STATIONS:
        short = station.rsplit("/", 1)[1]
        out[f"clerk@{short}"] = (CLERKS[station], mint(role=Role.clerk, station=station, name=CLERKS[station]))
        out[f"head@{short}"] = (HEADS[station], mint(role=Role.head, station=station, name=HEADS[station]))
    out["supervisor@210100"] = (
        "沈阳市市场监管局",
        mint(role=Role.supervisor, station="210100", name="沈阳市市场监管局"),
    )
    out["supervisor@440100"] = (
        "广州市市场监管局",
        mint(role=Role.supervisor, station="440100", name="广州市市场监管局"),
    )
    for org_id, org_name in ORGS.values():
        out[f"org@{org_id}"] = (org_name, mint(role=Role.org, org=org_id, name=org_name))
    out["admin"] = ("运维", mint(role=Role.admin, name="运维"))
    return out


def _as(role: Role, station: str | None = None, name: str | None = None, org: str | None = None) -> dict:
    return {"Authorization": "Bearer " + mint(role=role, station=station, org=org, name=name)}


async def _poll(client: httpx.AsyncClient, url: str, ok, headers: dict, timeout: float = 30.0) -> dict:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        reply = await client.get(url, headers=headers)
        if reply.status_code == 200 and ok(reply.json()):
            return reply.json()
        if loop.time() > deadline:
            raise TimeoutError(f"{url} did not reach the expected state")
        await asyncio.sleep(0.2)


def _entry(code: str, areas, categories, qualifications, party: str, name: str) -> dict:
    today = china_today(datetime.now(UTC))
    return {
        "name": name,
        "credit_code": code + uscc.calc_check_digit(code),
        "contacts": [{"name": "业务受理窗口", "phone": "024-23780000" if areas[0].startswith("21") else "020-34560000",
                      "role": "业务联系人"}],
        "categories": categories,
        "qualifications": [
            {
                "kind": kind,
                "certificate_no": f"{code[-5:]}-{n}",
                "issuer": issuer,
                "scope": scope,
                "valid_from": date(2024, 1, 1).isoformat(),
                "valid_until": (today + timedelta(days=days)).isoformat(),
            }
            for n, (kind, issuer, scope, days) in enumerate(qualifications, start=1)
        ],
        "agreement": {
            "party": party,
            "number": f"XY-{code[-5:]}",
            "valid_until": (today + timedelta(days=730)).isoformat(),
        },
        "areas": areas,
    }  # fmt: skip


async def register_organizations(client: httpx.AsyncClient, dispatch: str) -> None:
    """Admit the demo organizations as operations would; one already registered is left as it is."""
    admin = _as(Role.admin, name="运维")
    for org_id, name, code, areas, categories, qualifications, party, status in REGISTRY:
        url = f"{dispatch}/organizations/{org_id}"
        if (await client.get(url, headers=admin)).status_code == 200:
            continue
        entry = _entry(code, areas, categories, qualifications, party, name)
        (await client.put(url, json=entry, headers=admin)).raise_for_status()
        if status:
            body = {"status": status[0], "reason": status[1]}
            (await client.put(f"{url}/status", json=body, headers=admin)).raise_for_status()
    print(f"service-organization registry: {len(REGISTRY)} organizations")


async def follow(client: httpx.AsyncClient, tracking: str, demand_id: str, clerk: dict, head: dict) -> None:
    """服务跟进 on one demand through tracking's API: a call, an appointment on site, then 挂起 for materials."""
    await _poll(client, f"{tracking}/demands/{demand_id}", lambda c: c["status"] == "assigned", head)
    visit_on = add_working_days(china_today(datetime.now(UTC)), 2, {})
    steps = [
        (
            "follow-ups",
            {"kind": "contact", "text": "电话联系刘海波，确认两台燃气锅炉的型号、安装位置及司炉工人数"},
        ),
        (
            "follow-ups",
            {
                "kind": "appointment",
                "text": "约定到企业锅炉房现场核对铭牌并收取登记材料",
                "appointment": {
                    "on": visit_on.isoformat(),
                    "at": "09:30",
                    "place": "辽宁北方锅炉制造有限公司 锅炉房",
                    "attendees": "张晓燕；企业设备科刘海波",
                },
            },
        ),
        (
            "pauses",
            {"reason_kind": "materials", "reason": "请企业补充锅炉产品合格证及安装监督检验证书复印件"},
        ),
    ]
    for n, (path, body) in enumerate(steps, start=1):
        # Named after the demand, so a seed run again after a crash in between adds nothing twice.
        key = {"Idempotency-Key": f"demo-{demand_id}-{n}"}
        (await client.post(f"{tracking}/demands/{demand_id}/{path}", json=body, headers=clerk | key)).raise_for_status()


async def seed(urls: dict[str, str], client: httpx.AsyncClient | None = None) -> None:
    """Seed every station through the services' APIs at `urls`; `client` for tests (in-process apps)."""
    async with contextlib.AsyncExitStack() as stack:
        if client is None:
            client = await stack.enter_async_context(httpx.AsyncClient(timeout=10))
        await _seed(client, urls)


async def _seed(client: httpx.AsyncClient, urls: dict[str, str]) -> None:
    await register_organizations(client, urls["dispatch"])
    for station, demands in DEMANDS.items():
        clerk = _as(Role.clerk, station, CLERKS[station])
        head = _as(Role.head, station, HEADS[station])
        org_id, org_name = ORGS[station]
        org = _as(Role.org, name=org_name, org=org_id)
        existing = await client.get(f"{urls['intake']}/demands", params={"station_id": station}, headers=head)
        existing.raise_for_status()
        if existing.json():
            print(f"demo data for {station} already there")
            continue
        for index, (name, code, contact, phone, items, text, channel) in enumerate(demands):
            reply = await client.post(
                f"{urls['intake']}/demands",
                json={
                    "station_id": station,
                    "enterprise": {"name": name, "credit_code": code + uscc.calc_check_digit(code)},
                    "contact": {"name": contact, "phone": phone},
                    "items": [{"code": item} for item in items],
                    "description": text,
                    "channel": channel,
                },
                headers=clerk,
            )
            reply.raise_for_status()
            demand = reply.json()
            if index == len(demands) - 1:
                continue  # the last one waits in the dispatch queue
            demand_id = demand["demand_id"]
            await _poll(client, f"{urls['dispatch']}/demands/{demand_id}", lambda d: True, head)
            kind = "organization" if index == 0 else "first_responder"
            (
                await client.post(
                    f"{urls['dispatch']}/demands/{demand_id}/assignments",
                    json={
                        "assignee_kind": kind,
                        "assignee_id": org_id if kind == "organization" else None,
                        "assignee_name": org_name if kind == "organization" else None,
                    },
                    headers=head,
                )
            ).raise_for_status()
            if (station, index) == FOLLOWED:
                await follow(client, urls["tracking"], demand_id, clerk, head)
                print(f"{demand['tracking_no']} followed up and paused; its status link: {demand['status_url']}")
            if index > 0:
                continue  # handling in progress
            await _poll(client, f"{urls['tracking']}/demands/{demand_id}", lambda c: c["status"] == "assigned", head)
            (
                await client.post(
                    f"{urls['tracking']}/demands/{demand_id}/resolution",
                    json={
                        "outcome": "met",
                        "summary": "已完成检定校准并出具证书",
                    },
                    headers=org,
                )
            ).raise_for_status()
            await _poll(client, f"{urls['evaluation']}/surveys/{demand_id}", lambda s: s["status"] == "open", head)
            link = await client.post(f"{urls['evaluation']}/surveys/{demand_id}/link", headers=clerk)
            link.raise_for_status()
            # The link opens the console's form when make run points EVALUATION_PUBLIC_URL there; the demo rates
            # through evaluation's own JSON API with the link's token, as the console's form does.
            token = link.json()["url"].rstrip("/").rsplit("/", 1)[1]
            (
                await client.post(
                    f"{urls['evaluation']}/public/ratings/{token}",
                    json={
                        "answers": {
                            "station_service": 5,
                            "station_timeliness": 5,
                            "station_professionalism": 5,
                            "station_civility": 5,
                            "problem_solved": True,
                            "technician_professionalism": 5,
                            "technician_timeliness": 4,
                            "technician_civility": 5,
                            "facilities": 5,
                            "overall": "very_satisfied",
                            "comments": "服务及时，非常专业",
                        },
                    },
                )
            ).raise_for_status()
            await _poll(client, f"{urls['tracking']}/demands/{demand_id}", lambda c: c["status"] == "archived", head)
        print(f"demo data seeded for {STATIONS[station]} ({station})")
