"""Authorization cases of the archive's exports and weekly reports (see test_authorization.areas).

`prepare` has Hunnan's head make a book job (the archived demand's enterprise book) and waits for it to finish.
The service record and the dossier of Hunnan's archived demand: Hunnan's clerk and head and Shenyang's supervisor
read them, Tiexi, the other city and its supervisor get 404. Books, jobs and weekly reports are for station staff and
supervisors only (organizations and operations 403); a book lists only the caller's scope (Tiexi and the other city
get an empty book, not another station's dossiers); a job is its requester's alone (404 for everyone else); a weekly
report of Hunnan by name is 404 outside its scope; only a head writes the plan, of its own station.
"""

from datetime import UTC, datetime

from services.archive.reports.domain import Week
from shared.calendar import china_today
from tests.support import auth, events, infra

STATION = events.STATION
REFUSED = dict(org_assigned=403, org_other=403, admin=403)
READ_HUNNAN = dict(
    clerk_a=200, head_a=200, clerk_other_station=404, head_other_city=404, supervisor_a=200, supervisor_other=404
)
EVERY_READER = dict(
    clerk_a=200, head_a=200, clerk_other_station=200, head_other_city=200, supervisor_a=200, supervisor_other=200
)
HEAD_ONLY = dict(
    clerk_a=404, head_a=200, clerk_other_station=404, head_other_city=404, supervisor_a=404, supervisor_other=404
)


def week() -> str:
    return str(Week.of(china_today(datetime.now(UTC))))


async def prepare(system) -> None:
    client = system.clients["archive"]
    body = {"book": "enterprise", "key": events.credit_code(), "format": "xlsx"}
    made = await client.post("/jobs", json=body, headers=auth.HEAD)
    assert made.status_code == 202, made.text
    job = made.json()["job_id"]

    async def done():
        reply = await client.get(f"/jobs/{job}", headers=auth.HEAD)
        return reply.json()["state"] == "done" if reply.status_code == 200 else False

    await infra.eventually(done, timeout=60, what="the book job to finish")
    system.demands["export_job"] = job


def cases(system) -> dict:
    from tests.integration.test_authorization import expect

    archived = system.demands["archived"]
    job = system.demands["export_job"]
    book = f"?key={events.credit_code()}"
    w = week()
    rows = {}
    for path in ("service-record", "service-record.pdf", "dossier.html", "dossier.pdf"):
        rows[("archive", "GET", f"/dossiers/{{demand_id}}/{path}")] = (
            f"/dossiers/{archived}/{path}",
            None,
            expect(**READ_HUNNAN, **REFUSED),
            None,
        )
    for path in ("/books/{kind}", "/books/{kind}/book.pdf", "/books/{kind}/book.xlsx"):
        rows[("archive", "GET", path)] = (
            path.replace("{kind}", "enterprise") + book,
            None,
            expect(**EVERY_READER, **REFUSED),
            None,
        )
    rows |= {
        ("archive", "POST", "/jobs"): (
            "/jobs",
            {"book": "chain", "key": "机器人", "format": "pdf"},
            expect(**dict.fromkeys(EVERY_READER, 202), **REFUSED),
            None,
        ),
        ("archive", "GET", "/jobs"): ("/jobs", None, expect(**EVERY_READER, **REFUSED), None),
        ("archive", "GET", "/jobs/{job_id}"): (f"/jobs/{job}", None, expect(**HEAD_ONLY, **REFUSED), None),
        ("archive", "GET", "/jobs/{job_id}/file"): (f"/jobs/{job}/file", None, expect(**HEAD_ONLY, **REFUSED), None),
        ("archive", "GET", "/weekly-reports"): ("/weekly-reports", None, expect(**EVERY_READER, **REFUSED), None),
        ("archive", "PUT", "/weekly-reports/{week}/plan"): (
            f"/weekly-reports/{w}/plan",
            {"plan": "下周走访 3 家企业", "station_id": STATION},
            expect(
                clerk_a=403,
                head_a=200,
                clerk_other_station=403,
                head_other_city=404,
                supervisor_a=403,
                supervisor_other=403,
                **REFUSED,
            ),
            None,
        ),
    }
    for path in ("/weekly-reports/{week}", "/weekly-reports/{week}/report.html", "/weekly-reports/{week}/report.pdf"):
        rows[("archive", "GET", path)] = (
            path.replace("{week}", w) + f"?station_id={STATION}",
            None,
            expect(**READ_HUNNAN, **REFUSED),
            None,
        )
    return rows
