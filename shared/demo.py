"""Demo data for `make run`: two stations in two cities, demands at every stage of their life.

Everything goes through the services' public HTTP APIs, exactly as staff would do it.
Seeding is skipped for a station that already has demands, so restarts add nothing.
"""

import asyncio

import httpx
from stdnum.cn import uscc

STATIONS = {
    "210100/210112/hunnan-01": "沈阳市浑南区一站式质量服务站",
    "440100/440113/panyu-01": "广州市番禺区工业园区质量服务工作站",
}

# (enterprise, credit code without check character, contact, phone, categories, description, channel)
DEMANDS = {
    "210100/210112/hunnan-01": [
        ("沈阳精密仪器有限公司", "91210112MA0U00001", "王建国", "13804001234", ["metrology"],
         "压力表、千分尺共 36 台需要检定校准，希望走绿色通道", "window"),
        ("辽宁北方锅炉制造有限公司", "91210112MA0U00002", "刘海波", "024-23781234", ["special_equipment"],
         "新购两台燃气锅炉需办理使用登记，并安排司炉工考试", "phone"),
        ("沈阳新材料科技股份有限公司", "91210112MA0U00003", "赵丽", "13940012345", ["standardization", "ip"],
         "拟制定企业标准并自我声明公开，同时咨询专利质押融资", "visit"),
        ("浑南食品有限公司", "91210112MA0U00004", "孙明", "15998765432", ["testing"],
         "新品速冻水饺需要出厂检验报告", "website"),
    ],
    "440100/440113/panyu-01": [
        ("广州番禺电子科技有限公司", "91440113MA5A00001", "陈志强", "13800138000", ["certification"],
         "蓝牙音箱出口前咨询 CCC 认证与自愿性认证", "window"),
        ("番禺珠宝首饰有限公司", "91440113MA5A00002", "黄美玲", "020-34561234", ["testing", "brand"],
         "贵金属饰品成色检测，并申报商标品牌示范企业", "im"),
        ("广州南沙精工机械有限公司", "91440113MA5A00003", "李伟", "13711112222", ["quality_mgmt"],
         "希望开展 QC 小组活动辅导与卓越绩效自评", "daily"),
    ],
}

CLERKS = {"210100/210112/hunnan-01": "张晓燕", "440100/440113/panyu-01": "何家豪"}
HEADS = {"210100/210112/hunnan-01": "周站长", "440100/440113/panyu-01": "梁站长"}


async def _poll(client: httpx.AsyncClient, url: str, ok, timeout: float = 30.0) -> dict:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        reply = await client.get(url)
        if reply.status_code == 200 and ok(reply.json()):
            return reply.json()
        if loop.time() > deadline:
            raise TimeoutError(f"{url} did not reach the expected state")
        await asyncio.sleep(0.2)


async def seed(urls: dict[str, str]) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        for station, demands in DEMANDS.items():
            existing = await client.get(f"{urls['intake']}/demands", params={"station_id": station})
            existing.raise_for_status()
            if existing.json():
                print(f"demo data for {station} already there")
                continue
            for index, (name, code, contact, phone, categories, text, channel) in enumerate(demands):
                reply = await client.post(f"{urls['intake']}/demands", json={
                    "station_id": station,
                    "enterprise": {"name": name, "credit_code": code + uscc.calc_check_digit(code)},
                    "contact": {"name": contact, "phone": phone},
                    "categories": categories, "description": text, "channel": channel,
                    "first_responder": CLERKS[station],
                })  # fmt: skip
                reply.raise_for_status()
                demand = reply.json()
                if index == len(demands) - 1:
                    continue  # the last one waits in the dispatch queue
                demand_id = demand["demand_id"]
                await _poll(client, f"{urls['dispatch']}/demands/{demand_id}", lambda d: True)
                kind = "organization" if index == 0 else "first_responder"
                (await client.post(f"{urls['dispatch']}/demands/{demand_id}/assignments", json={
                    "assignee_kind": kind,
                    "assignee_id": "org-metrology-01" if kind == "organization" else None,
                    "assignee_name": "市计量测试院" if kind == "organization" else None,
                    "assigned_by": HEADS[station],
                })).raise_for_status()  # fmt: skip
                if index > 0:
                    continue  # handling in progress
                await _poll(client, f"{urls['tracking']}/demands/{demand_id}", lambda c: c["status"] == "assigned")
                (await client.post(f"{urls['tracking']}/demands/{demand_id}/resolution", json={
                    "outcome": "met", "summary": "已完成检定校准并出具证书", "resolved_by": CLERKS[station],
                })).raise_for_status()  # fmt: skip
                await _poll(client, f"{urls['evaluation']}/surveys/{demand_id}", lambda s: s["status"] == "open")
                (await client.post(f"{urls['evaluation']}/surveys/{demand_id}/rating", json={
                    "answers": {"station_service": 5, "station_timeliness": 5, "station_professionalism": 5,
                                "station_civility": 5, "problem_solved": True, "technician_professionalism": 5,
                                "technician_timeliness": 4, "technician_civility": 5, "facilities": 5,
                                "overall": "very_satisfied", "comments": "服务及时，非常专业"},
                    "source": "online",
                })).raise_for_status()  # fmt: skip
                await _poll(client, f"{urls['tracking']}/demands/{demand_id}", lambda c: c["status"] == "archived")
            print(f"demo data seeded for {STATIONS[station]} ({station})")
