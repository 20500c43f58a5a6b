"""The archive's exports on the real broker and database: sealed histories of one enterprise, chain, town and park;
books as JSON, PDF (text read back with pypdf) and XLSX (openpyxl) checked against hand-computed summaries; large books
as jobs (202, progress, download); a job whose replica stopped is claimed again; every read is in the access log."""

import asyncio
import contextlib
import io
from datetime import UTC, datetime, time, timedelta

import asyncpg
import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from services.archive.exports import usecases as exports
from services.archive.exports.settings import ExportSettings
from shared.calendar import CHINA
from shared.contracts import Fee, Outcome, Overall
from tests.support import auth, infra
from tests.support import export_histories as h
from tests.support.apps import make_app, publish_event

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

TIEXI = "210100/210106/tiexi-01"
ROBOT = h.firm("沈阳新松精密机械有限公司", "91210112MA0U00005", chain="机器人", chain_leader=True, town="浑南装备小镇")
GEARS = h.firm("沈阳精工齿轮有限公司", "91210112MA0U00006", chain="机器人", in_park=True, park_name="浑南高新区")
AUTO = h.firm("沈阳华晨零部件有限公司", "91210112MA0U00007", chain="汽车", town="浑南装备小镇")
# Before enterprise_profile existed: in its enterprise's book, in no chain, town or park book.
OLD = h.firm("沈阳老字号仪表厂", "91210112MA0U00008")


def base_instant() -> datetime:
    """A Sunday 23:30 in China at least a week before today, so every date below is in the past, whatever the clock."""
    today = datetime.now(UTC).astimezone(CHINA).date()
    sunday = today - timedelta(days=today.isoweekday() % 7 + 7)
    return datetime.combine(sunday, time(23, 30), CHINA)


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


@pytest.fixture
async def archive(amqp, databases, monkeypatch):
    async with running_archive(amqp, databases, monkeypatch, jobs_poll_seconds=0.2) as client:
        yield client


@pytest.fixture
async def archive_polled_by_hand(amqp, databases, monkeypatch):
    """The service's own job poller idle (it polls once at start, then hourly): the test turns the crank itself."""
    async with running_archive(amqp, databases, monkeypatch, jobs_poll_seconds=3600) as client:
        yield client


@contextlib.asynccontextmanager
async def running_archive(amqp, databases, monkeypatch, *, jobs_poll_seconds: float):
    # The exports' settings come from ARCHIVE_… until the archive's Settings declares them (exports/settings.py).
    monkeypatch.setenv("ARCHIVE_BOOK_SYNC_LIMIT", "2")
    monkeypatch.setenv("ARCHIVE_JOBS_POLL_SECONDS", str(jobs_poll_seconds))
    db = databases("archive")
    app = make_app("archive", amqp_url=amqp, database_url=db)
    async with infra.running(app) as client:
        client.db, client.app, client.amqp = db, app, amqp
        yield client


async def seal_all(client, histories: list[list]) -> None:
    for history in histories:
        for event in history:
            await publish_event(client.amqp, event)
    ids = [history[0].demand_id for history in histories]

    async def sealed():
        rows = await infra.fetch(client.db, "SELECT 1 FROM dossiers WHERE demand_id = ANY($1::uuid[])", ids)
        return len(rows) == len(ids)

    await infra.eventually(sealed, timeout=60, what=f"{len(ids)} dossiers sealed")


async def finished(client, job: dict, headers) -> dict:
    async def done():
        reply = await client.get(f"/jobs/{job['job_id']}", headers=headers)
        assert reply.status_code == 200, reply.text
        return reply.json() if reply.json()["state"] in ("done", "failed") else None

    return await infra.eventually(done, timeout=120, what="the job to finish")


def summary_sheet(data: bytes) -> dict:
    sheet = load_workbook(io.BytesIO(data))["汇总"]
    return {row[0]: row[1] for row in sheet.iter_rows(values_only=True) if row and row[0]}


async def test_books_of_an_enterprise_a_chain_a_town_and_a_park_match_the_sealed_histories(archive):
    base = base_instant()
    a = h.rated_history(ROBOT, base - timedelta(days=3), Overall.very_satisfied, serial=1,
                        categories=(h.METROLOGY, h.TESTING), fee=Fee(free_service=False, amount_yuan=360))  # fmt: skip
    b = h.rehandled_history(ROBOT, base - timedelta(days=2), Overall.average, serial=2)
    c = h.rated_history(GEARS, base - timedelta(days=1), Overall.satisfied, outcome=Outcome.not_met, serial=3)
    d = h.rated_history(AUTO, base, Overall.satisfied, serial=4)
    e = h.rated_history(OLD, base, Overall.satisfied, serial=5)
    # Rated under a definition counting only 非常满意 (EVALUATION_SATISFIED_LEVELS=very_satisfied): 满意 not counted.
    e[-1] = e[-1].model_copy(update={"counts_as_satisfied": False})
    tiexi = h.rated_history(ROBOT, base, Overall.very_satisfied, station=TIEXI, serial=1)
    await seal_all(archive, [a, b, c, d, e, tiexi])
    robot = ROBOT.credit_code

    # 一企一册, in the request: the head sees its own station's two; Tiexi's is not in its scope.
    book = await archive.get("/books/enterprise", params={"key": robot}, headers=auth.HEAD)
    assert book.status_code == 200, book.text
    s = book.json()["summary"]
    assert (s["demands"], s["rated"], s["satisfied"], s["rehandled"], s["satisfaction_rate"]) == (2, 2, 1, 1, 0.5)
    assert [row["tracking_no"] for row in book.json()["dossiers"]] == ["hunnan-01-" + a[0].tracking_no,
                                                                       "hunnan-01-" + b[0].tracking_no]  # fmt: skip
    supervised = await archive.get("/books/enterprise", params={"key": robot.lower()}, headers=auth.SUPERVISOR)
    assert supervised.json()["summary"]["demands"] == 3  # the city sees Tiexi's too
    old = (await archive.get("/books/enterprise", params={"key": OLD.credit_code}, headers=auth.HEAD)).json()
    assert old["summary"]["demands"] == 1 and old["dossiers"][0]["chain"] == ""
    assert (old["summary"]["rated"], old["summary"]["satisfied"]) == (1, 0)  # as evaluation said, not by the level

    # 一链一册: three dossiers for the head, more than the sync limit (2): refused in the request, made by a job.
    too_large = await archive.get("/books/chain/book.xlsx", params={"key": "机器人"}, headers=auth.HEAD)
    assert too_large.status_code == 413 and "POST /jobs" in too_large.json()["message"]
    made = await archive.post("/jobs", json={"book": "chain", "key": "机器人", "format": "xlsx"}, headers=auth.HEAD)
    assert made.status_code == 202, made.text
    assert made.json()["state"] == "queued" and made.headers["location"].endswith(f"/jobs/{made.json()['job_id']}")
    job = await finished(archive, made.json(), auth.HEAD)
    assert job["state"] == "done", job
    assert job["progress"] == {"done": 4, "total": 4}  # three dossiers read, then the printing
    download = await archive.get(job["download_url"].removeprefix("http://test"), headers=auth.HEAD)
    assert download.status_code == 200
    summary = summary_sheet(download.content)
    assert summary["需求数"] == 3 and summary["企业数"] == 2 and summary["有效评价数"] == 3
    assert summary["满意数（按评价服务的满意等级设置）"] == 2 and summary["满意率"] == "66.7%"
    assert summary["重办需求数"] == 1 and summary["收费合计（元）"] == 360
    assert summary["计量"] == 3 and summary["检验检测"] == 1
    assert summary["办结（需求已满足）"] == 2 and summary["办结（需求未能满足）"] == 1
    assert (summary["非常满意"], summary["满意"], summary["一般"], summary["不满意"]) == (1, 1, 1, 0)
    catalogue = list(load_workbook(io.BytesIO(download.content))["档案目录"].iter_rows(values_only=True))
    assert [row[5] for row in catalogue[1:]] == [robot, robot, GEARS.credit_code]
    assert catalogue[1][13] == (base - timedelta(days=3)).strftime("%Y-%m-%d %H:%M")  # 受理时间, China time
    # Only its requester polls or downloads a job.
    assert (await archive.get(f"/jobs/{job['job_id']}", headers=auth.CLERK)).status_code == 404
    assert (await archive.get(f"/jobs/{job['job_id']}/file", headers=auth.SUPERVISOR)).status_code == 404

    # The city's chain book as PDF: four dossiers with Tiexi's, satisfaction 3 of 4.
    pdf_job = await archive.post(
        "/jobs", json={"book": "chain", "key": "机器人", "format": "pdf"}, headers=auth.SUPERVISOR
    )
    done = await finished(archive, pdf_job.json(), auth.SUPERVISOR)
    text = pdf_text(
        (await archive.get(done["download_url"].removeprefix("http://test"), headers=auth.SUPERVISOR)).content
    )
    for expected in ("一链一册：机器人", "75.0%", "沈阳新松精密机械有限公司", "沈阳精工齿轮有限公司", "tiexi-01-",
                     "报告出具太慢", "重新出具证书并当面说明", "服务档案"):  # fmt: skip
        assert expected in text, expected
    assert "沈阳华晨零部件有限公司" not in text  # another chain

    # 一镇一册 for a period (submission dates, China): only the demand submitted on the base day; in the request.
    day = base.date().isoformat()
    town = await archive.get(
        "/books/town/book.pdf", params={"key": "浑南装备小镇", "from": day, "to": day}, headers=auth.HEAD
    )
    assert town.status_code == 200, town.text
    text = pdf_text(town.content)
    assert "一镇一册：浑南装备小镇" in text and "沈阳华晨零部件有限公司" in text and "沈阳新松" not in text
    park = await archive.get("/books/park/book.xlsx", params={"key": "浑南高新区"}, headers=auth.CLERK)
    assert summary_sheet(park.content)["需求数"] == 1

    # The service record form of one demand, and the dossier, as PDF.
    record = await archive.get(f"/dossiers/{b[0].demand_id}/service-record.pdf", headers=auth.CLERK)
    text = pdf_text(record.content)
    rated_at = (base - timedelta(days=2) + timedelta(days=3, hours=1)).strftime("%Y-%m-%d %H:%M")
    for expected in ("服务记录表", "受理时间", "派单时间", "办结时间", "评价时间", "归档时间", rated_at, "■一般"):
        assert expected in text, expected
    assert (await archive.get(f"/dossiers/{tiexi[0].demand_id}/dossier.pdf", headers=auth.HEAD)).status_code == 404

    # Every export is in the access log: who, what, which dossiers.
    rows = await infra.fetch(
        archive.db, "SELECT action, subject, demand_ids FROM access_log WHERE action LIKE 'export.%' ORDER BY id"
    )
    by_action = {}
    for row in rows:
        by_action.setdefault(row["action"], []).append(row)
    assert {str(i) for i in by_action["export.book_xlsx"][0]["demand_ids"]} == {str(x[0].demand_id) for x in (a, b, c)}
    assert {"export.book_json", "export.book_pdf", "export.service_record_pdf"} <= set(by_action)


async def test_a_job_whose_replica_stopped_is_claimed_again_and_replicas_take_different_jobs(
    archive_polled_by_hand, monkeypatch
):
    archive = archive_polled_by_hand
    monkeypatch.setenv("ARCHIVE_JOBS_LEASE_SECONDS", "30")
    await seal_all(archive, [h.rated_history(AUTO, base_instant(), serial=7)])
    body = {"book": "chain", "key": "汽车", "format": "xlsx"}
    jobs = [(await archive.post("/jobs", json=body, headers=auth.HEAD)).json() for _ in range(3)]
    runtime = archive.app.state.runtime
    config = ExportSettings.of(runtime.settings)

    # Two replicas polling at once take two different jobs (SKIP LOCKED), and a third poll the last one.
    first, second = await asyncio.gather(exports._claim(runtime.uow, config), exports._claim(runtime.uow, config))
    third = await exports._claim(runtime.uow, config)
    claimed = {str(first.job_id), str(second.job_id), str(third.job_id)}
    assert claimed == {j["job_id"] for j in jobs} and await exports._claim(runtime.uow, config) is None

    # The replica holding them stops; once the lease has run out (heartbeat an hour old), a poll claims a job again.
    owner = await asyncpg.connect(archive.db)
    try:
        await owner.execute("UPDATE export_jobs SET heartbeat_at = now() - interval '1 hour'")
    finally:
        await owner.close()
    for _ in jobs:
        await exports.run_jobs(runtime.uow, runtime.settings)
    for j in jobs:
        reply = (await archive.get(f"/jobs/{j['job_id']}", headers=auth.HEAD)).json()
        assert reply["state"] == "done" and reply["attempts"] == 2, reply
        download = await archive.get(f"/jobs/{j['job_id']}/file", headers=auth.HEAD)
        assert summary_sheet(download.content)["需求数"] == 1

    # Past its expiry the file is deleted; the job says so and the download answers 410.
    owner = await asyncpg.connect(archive.db)
    try:
        await owner.execute("UPDATE export_jobs SET expires_at = now() - interval '1 minute'")
    finally:
        await owner.close()
    await exports.expire_files(runtime.uow, config)
    gone = await archive.get(f"/jobs/{jobs[0]['job_id']}/file", headers=auth.HEAD)
    assert gone.status_code == 410 and gone.json()["code"] == "gone"
    kept = await infra.fetch(archive.db, "SELECT count(*) AS n FROM export_jobs WHERE file_bytes IS NOT NULL")
    assert kept[0]["n"] == 0
    polled = (await archive.get(f"/jobs/{jobs[0]['job_id']}", headers=auth.HEAD)).json()
    assert polled["download_url"] is None and "已过期" in polled["state_label"]


async def test_job_files_can_live_in_a_directory(archive, monkeypatch, tmp_path):
    monkeypatch.setenv("ARCHIVE_JOBS_FILE_DIR", str(tmp_path))
    await seal_all(archive, [h.rated_history(GEARS, base_instant(), serial=8)])
    made = await archive.post("/jobs", json={"book": "park", "key": "浑南高新区", "format": "pdf"}, headers=auth.HEAD)
    job = await finished(archive, made.json(), auth.HEAD)
    assert job["state"] == "done" and (tmp_path / f"{job['job_id']}.pdf").is_file()
    row = (await infra.fetch(archive.db, "SELECT file_bytes, file_path FROM export_jobs"))[0]
    assert row["file_bytes"] is None and row["file_path"].startswith(str(tmp_path))
    text = pdf_text((await archive.get(f"/jobs/{job['job_id']}/file", headers=auth.HEAD)).content)
    assert "沈阳精工齿轮有限公司" in text
