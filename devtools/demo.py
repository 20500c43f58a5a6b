"""Demo data for `make run`: two stations in two cities, demands at every stage of their life.

Everything goes through the services' public HTTP APIs, exactly as staff would do it.
Seeding is skipped for a station that already has demands, so restarts add nothing.
"""

import asyncio

import httpx
from stdnum.cn import uscc

from shared.auth import Role, mint

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
ORG = ("org-metrology-01", "市计量测试院")


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
    out[f"org@{ORG[0]}"] = (ORG[1], mint(role=Role.org, org=ORG[0], name=ORG[1]))
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


async def seed(urls: dict[str, str]) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        for station, demands in DEMANDS.items():
            clerk = _as(Role.clerk, station, CLERKS[station])
            head = _as(Role.head, station, HEADS[station])
            org = _as(Role.org, name=ORG[1], org=ORG[0])
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
                            "assignee_id": ORG[0] if kind == "organization" else None,
                            "assignee_name": ORG[1] if kind == "organization" else None,
                        },
                        headers=head,
                    )
                ).raise_for_status()
                if index > 0:
                    continue  # handling in progress
                await _poll(
                    client, f"{urls['tracking']}/demands/{demand_id}", lambda c: c["status"] == "assigned", head
                )
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
                (
                    await client.post(
                        link.json()["url"],
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
                await _poll(
                    client, f"{urls['tracking']}/demands/{demand_id}", lambda c: c["status"] == "archived", head
                )
            print(f"demo data seeded for {STATIONS[station]} ({station})")
