"""The archive's hash chain, retention, legal holds, disposal and access log on the real PostgreSQL (issue 11).

The archive's own use cases run on its real database through its unit of work (as its handlers and routes call
them); no broker is needed for what is tested here. The routes and who may call them are in authz_archive.py; the
whole record of a demand through the running system in test_archive_record.py.
"""

import asyncio
import shutil
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import uuid4

import asyncpg
import pytest

from services.archive import domain, usecases
from services.archive.audit import MIGRATIONS
from services.archive.settings import Settings
from services.archive.store import Logged, Store
from shared.auth import Principal, Role
from shared.calendar import CHINA
from shared.contracts import Answers, Outcome, Rated, RatingSource, Resolved, utcnow
from shared.db import create_pool, ensure_database, migrate
from shared.db.uow import UnitOfWork
from shared.errors import Invalid, InvalidTransition, NotFound
from tests.support import events, following_events
from tests.support.archive import insert_sealed

pytestmark = pytest.mark.integration

HEAD = Principal(subject="head-1", name="周站长", role=Role.head, station=events.STATION)
OTHER_HEAD = Principal(subject="head-2", name="梁站长", role=Role.head, station=events.OTHER_STATION)
SUPERVISOR = Principal(subject="sup-1", name="沈阳市市场监管局", role=Role.supervisor, station="210100")
ADMIN = Principal(subject="ops", name="运维", role=Role.admin)
YEARS_AGO = timedelta(days=4 * 366)  # sealed long enough ago for the three-year minimum to be over


def history(station: str = events.STATION):
    """Submitted, assigned, resolved (with fee and deliverables), rated: a complete record."""
    s = events.submitted(station=station)
    a = events.assigned(s)
    r = a.caused(
        Resolved,
        assignment_no=1,
        outcome=Outcome.met,
        summary="已完成检定并出具证书",
        resolved_by="市计量测试院",
        resolved_at=utcnow(),
    )
    return s, a, r, r.caused(Rated, answers=Answers(overall="satisfied"), source=RatingSource.online, rated_at=utcnow())


@pytest.fixture
async def archive(databases):
    """The archive's database migrated as the service does at start, and its unit of work as the service's role."""
    settings = Settings(database_url=databases("archive"))
    await ensure_database(settings.database_url)
    await migrate(settings.database_url, "archive", MIGRATIONS, app_role=settings.app_role)
    pool = await create_pool(settings.resolved_app_database_url, min_size=1, max_size=4)
    uow = UnitOfWork("archive", Store)
    uow.bind(pool)
    try:
        yield settings.database_url, uow
    finally:
        await pool.close()


async def seal(uow, *demand_events) -> domain.Dossier:
    for event in demand_events:
        await uow.handle(event, usecases.collect)
    async with uow.begin() as tx:
        d = await tx.store.get_dossier(demand_events[0].demand_id)
    assert d is not None
    return d


async def seal_long_ago(uow, station: str = events.STATION, ago: timedelta = YEARS_AGO) -> domain.Dossier:
    """A dossier sealed `ago` (as the archive sealed it then), with its events logged."""
    evs = history(station)
    logged = [domain.LoggedEvent(e.event_id, e.routing_key, e.occurred_at, e.model_dump(mode="json")) for e in evs]
    async with uow.begin() as tx:
        for e in evs:
            await tx.store.log_event(e)
        sealed_at = utcnow() - ago
        serial = await tx.store.next_serial(station, sealed_at.year)
        return await tx.store.insert_dossier(domain.seal(logged, serial=serial, sealed_at=sealed_at))


async def owner_execute(db: str, *statements: str, args: tuple = ()) -> None:
    """As the database owner (a superuser here), the append-only trigger switched off: what a tamperer could do."""
    conn = await asyncpg.connect(db)
    try:
        async with conn.transaction():
            await conn.execute("ALTER TABLE dossiers DISABLE TRIGGER dossiers_append_only")
            for sql in statements:
                await conn.execute(sql, *args)
            await conn.execute("ALTER TABLE dossiers ENABLE TRIGGER dossiers_append_only")
    finally:
        await conn.close()


async def asyncpg_execute(db: str, sql: str, *args) -> None:
    conn = await asyncpg.connect(db)
    try:
        await conn.execute(sql, *args)
    finally:
        await conn.close()


async def verify_command(db: str, *args: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.archive",
        "verify-chain",
        "--database-url",
        db,
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await proc.communicate()
    return proc.returncode, out.decode()


# --------------------------------------------------------------------------- the chain


async def test_each_station_has_its_own_chain_and_archive_numbers_and_the_command_proves_it(archive):
    db, uow = archive
    mine = [await seal(uow, *history()) for _ in range(3)]
    theirs = [await seal(uow, *history(events.OTHER_STATION)) for _ in range(2)]
    year = utcnow().astimezone(domain.CHINA).year
    assert [d.archive_no for d in mine] == [f"A{year}-{n:06d}" for n in (1, 2, 3)]
    assert [d.archive_no for d in theirs] == [f"A{year}-{n:06d}" for n in (1, 2)]
    for chain in (mine, theirs):
        assert [d.chain_no for d in chain] == list(range(1, len(chain) + 1))
        assert chain[0].previous_sha256 is None
        for before, after in zip(chain, chain[1:], strict=False):
            assert after.previous_sha256 == before.chain_sha256
        for d in chain:  # the database's link is the domain's
            link = domain.chain_link(
                d.previous_sha256, d.station_id, d.chain_no, d.archive_no, d.demand_id, d.content_sha256
            )
            assert d.chain_sha256 == link
            assert domain.content_sha256(d.content) == d.content_sha256  # the jsonb round trip hashes the same

    reports = await usecases.verify_chain(uow, ADMIN)
    assert {(r.station_id, r.dossiers, r.intact) for r in reports} == {
        (events.STATION, 3, True),
        (events.OTHER_STATION, 2, True),
    }
    assert [r.station_id for r in await usecases.verify_chain(uow, HEAD)] == [events.STATION]  # a head: its own
    with pytest.raises(NotFound):
        await usecases.verify_chain(uow, HEAD, events.OTHER_STATION)

    code, out = await verify_command(db)
    assert code == 0 and out.count("intact") == 2, out
    assert mine[-1].chain_sha256 in out  # the head hash, to note down
    code, out = await verify_command(db, "--station", events.OTHER_STATION)
    assert code == 0 and events.STATION not in out, out


async def test_a_row_altered_by_the_database_owner_is_found_at_its_link(archive):
    db, uow = archive
    chain = [await seal(uow, *history()) for _ in range(4)]
    await seal(uow, *history(events.OTHER_STATION))
    second = chain[1]

    # The content altered, its hash left: the content no longer hashes to it.
    await owner_execute(
        db,
        "UPDATE dossiers SET content = jsonb_set(content, '{demand,description}', '\"压力表 1 台\"') "
        "WHERE demand_id = $1",
        args=(second.demand_id,),
    )
    code, out = await verify_command(db)
    assert code == 1, out
    assert "BROKEN" in out and second.archive_no in out and "#2" in out and "content" in out, out
    assert "intact" in out  # the other station's chain is not affected
    [report] = await usecases.verify_chain(uow, HEAD)
    assert report.broken is not None and report.broken.chain_no == 2 and report.dossiers == 1

    # Altered cleverly, the content hash and its own chain hash recomputed: the next dossier's link no longer holds.
    async with uow.begin() as tx:
        content = (await tx.store.get_dossier(second.demand_id)).content
    forged = domain.content_sha256(content)
    forged_link = domain.chain_link(
        second.previous_sha256, second.station_id, 2, second.archive_no, second.demand_id, forged
    )
    await owner_execute(
        db,
        "UPDATE dossiers SET content_sha256 = $2, chain_sha256 = $3 WHERE demand_id = $1",
        args=(second.demand_id, forged, forged_link),
    )
    [report] = await usecases.verify_chain(uow, HEAD)
    assert report.broken.chain_no == 3 and report.broken.archive_no == chain[2].archive_no
    assert "previous" in report.broken.problem_en

    # A dossier removed: the gap is found.
    await owner_execute(db, "DELETE FROM dossiers WHERE demand_id = $1", args=(chain[3].demand_id,))
    [report] = await usecases.verify_chain(uow, HEAD)
    assert report.broken.chain_no == 3  # still the first break


async def _waits(tx, what: str, *conditions: str) -> None:
    """Until another transaction waits for a lock this one holds (of the kind `conditions` say)."""
    sql = "SELECT 1 FROM pg_locks WHERE NOT granted" + "".join(f" AND {c}" for c in conditions)
    deadline = asyncio.get_running_loop().time() + 20
    while not await tx.conn.fetch(sql):
        assert asyncio.get_running_loop().time() < deadline, f"{what} never waited"
        await asyncio.sleep(0.05)


async def test_dossiers_sealed_at_once_at_one_station_chain_one_after_the_other(archive):
    _, uow = archive
    first, second = history(), history()
    for h in (first, second):
        for event in h[:-1]:
            await uow.handle(event, usecases.collect)

    # Through the use case: the second sealing waits for the first's archive number (and chain) to commit.
    async with uow.begin() as tx:
        await usecases.collect(tx, first[-1])
        sealing = asyncio.create_task(uow.handle(second[-1], usecases.collect))
        await _waits(tx, "the second sealing")
    await sealing
    async with uow.begin() as tx:
        a = await tx.store.get_dossier(first[0].demand_id)
        b = await tx.store.get_dossier(second[0].demand_id)
    assert (a.chain_no, b.chain_no) == (1, 2) and b.previous_sha256 == a.chain_sha256
    assert (a.archive_no[-6:], b.archive_no[-6:]) == ("000001", "000002")  # gapless, in sealing order

    # The chain's own lock, where no archive counter serializes them (two years' numbers sealed at once, say):
    # the database links the second after the first, never both after the same head.
    async def insert(tx, year: int) -> domain.Dossier:
        evs = history()
        logged = [domain.LoggedEvent(e.event_id, e.routing_key, e.occurred_at, e.model_dump(mode="json")) for e in evs]
        return await tx.store.insert_dossier(domain.seal(logged, serial=1, sealed_at=datetime(year, 6, 1, tzinfo=UTC)))

    async def insert_alone(year: int) -> domain.Dossier:
        async with uow.begin() as tx:
            return await insert(tx, year)

    async with uow.begin() as tx:
        c = await insert(tx, 2030)
        racing = asyncio.create_task(insert_alone(2031))
        await _waits(tx, "the second insert", "locktype = 'advisory'", "classid = 1634886515")
    d = await racing
    assert (c.chain_no, d.chain_no) == (3, 4) and d.previous_sha256 == c.chain_sha256
    [report] = await usecases.verify_chain(uow, HEAD)
    assert report.intact and report.dossiers == 4


async def test_dossiers_sealed_before_the_chain_are_chained_in_archive_number_order(databases, tmp_path: Path):
    settings = Settings(database_url=databases("archive"))
    db = settings.database_url
    await ensure_database(db)
    before = tmp_path / "migrations"
    before.mkdir()
    for path in sorted(MIGRATIONS.glob("000[1-4]_*.sql")):
        shutil.copy(path, before / path.name)
    await migrate(db, "archive", before, app_role=settings.app_role)
    old = []
    for serial in (2, 1, 3):  # inserted out of order: the chain follows the archive numbers
        evs = history()
        logged = [domain.LoggedEvent(e.event_id, e.routing_key, e.occurred_at, e.model_dump(mode="json")) for e in evs]
        d = domain.seal(logged, serial=serial, sealed_at=datetime(2026, 3, serial, tzinfo=UTC))
        old.append(d)
        await insert_sealed(db, d)
    await asyncpg_execute(db, "INSERT INTO archive_counters VALUES ($1, 2026, 3)", events.STATION)

    await migrate(db, "archive", MIGRATIONS, app_role=settings.app_role)
    pool = await create_pool(settings.resolved_app_database_url, min_size=1, max_size=2)
    uow = UnitOfWork("archive", Store)
    uow.bind(pool)
    try:
        async with uow.begin() as tx:
            chain, _ = await tx.store.chain(events.STATION)
        assert [(d.chain_no, d.archive_no) for d in chain] == [
            (1, "A2026-000001"),
            (2, "A2026-000002"),
            (3, "A2026-000003"),
        ]
        [report] = await usecases.verify_chain(uow, HEAD)
        assert report.intact and report.dossiers == 3
        new = await seal(uow, *history())  # the next one links to the last chained at migration
        assert new.chain_no == 4 and new.previous_sha256 == chain[-1].chain_sha256
    finally:
        await pool.close()


# --------------------------------------------------------------------------- retention, holds, disposal


async def test_retention_holds_and_the_audited_disposal(archive):
    db, uow = archive
    fresh = await seal(uow, *history())
    old = await seal_long_ago(uow)
    older = await seal_long_ago(uow, ago=YEARS_AGO + timedelta(days=30))
    assert fresh.retain_until == domain.retained_until(fresh.sealed_at, 3)

    # Nothing under three years; a longer setting keeps even the old dossiers longer, and is logged.
    with pytest.raises(Invalid):
        await usecases.set_retention(uow, HEAD, events.STATION, 2, "过短")
    with pytest.raises(NotFound):
        await usecases.set_retention(uow, HEAD, events.OTHER_STATION, 5, "他站")
    with pytest.raises(NotFound):
        await usecases.set_retention(uow, ADMIN, "210100/210112/unknown-99", 5, "未登记")
    setting = await usecases.set_retention(uow, HEAD, events.STATION, 10, "市局要求保存十年")
    assert setting["years"] == 10 and setting["set_by"] == "周站长"
    with pytest.raises(InvalidTransition):  # nothing is due any more
        await usecases.request_disposal(uow, HEAD, None, "到期销毁")
    kept, _, _ = await usecases.get_dossier(uow, HEAD, old.demand_id)
    assert kept.retained_until == domain.retained_until(old.sealed_at, 10) > old.retain_until
    await usecases.set_retention(uow, HEAD, events.STATION, 3, "恢复默认")

    # A request lists what is due; the head holds one before confirming: it is kept, the other disposed of.
    request = await usecases.request_disposal(uow, HEAD, None, "已过保管期限")
    assert {i["archive_no"] for i in request["items"]} == {old.archive_no, older.archive_no}
    hold = await usecases.set_hold(uow, HEAD, old.demand_id, "涉及诉讼，暂停销毁")
    with pytest.raises(InvalidTransition):
        await usecases.set_hold(uow, HEAD, old.demand_id, "再次保全")
    with pytest.raises(NotFound):
        await usecases.set_hold(uow, OTHER_HEAD, old.demand_id, "他站")
    done = await usecases.confirm_disposal(uow, HEAD, request["disposal_id"])
    assert [r["archive_no"] for r in done["records"]] == [older.archive_no]
    assert [i["archive_no"] for i in done["skipped"]] == [old.archive_no]
    with pytest.raises(InvalidTransition):
        await usecases.confirm_disposal(uow, HEAD, request["disposal_id"])  # once
    with pytest.raises(NotFound):
        await usecases.confirm_disposal(uow, OTHER_HEAD, request["disposal_id"])

    # Disposed: content, supplements' contents and raw events gone; number, hashes and the record kept.
    kept, _, _ = await usecases.get_dossier(uow, HEAD, older.demand_id)
    assert kept.dossier.content is None and kept.dossier.disposed_at is not None
    assert kept.dossier.content_sha256 == older.content_sha256 and kept.dossier.chain_sha256 == older.chain_sha256
    async with uow.begin() as tx:
        assert await tx.store.events(older.demand_id) == []
        assert len(await tx.store.events(old.demand_id)) == 4
    [record] = (await usecases.get_disposal(uow, HEAD, request["disposal_id"]))["records"]
    assert (record["archive_no"], record["content_sha256"], record["disposed_by"]) == (
        older.archive_no,
        older.content_sha256,
        "周站长",
    )
    [report] = await usecases.verify_chain(uow, HEAD)
    assert report.intact and report.disposed == 1 and report.dossiers == 3

    # A late event of a disposed demand is not kept; the audit passes a disposed dossier by.
    await uow.handle(events.returned(history()[1]).model_copy(update={"demand_id": older.demand_id}), usecases.collect)
    async with uow.begin() as tx:
        assert await tx.store.events(older.demand_id) == []
    assert await usecases.audit(uow) == ([], [])

    # The hold lifted (logged, with its reason): the next request and confirmation dispose of it.
    lifted = await usecases.lift_hold(uow, HEAD, old.demand_id, "诉讼已结束")
    assert lifted.hold_id == hold.hold_id and lifted.lifted_by == "周站长"
    with pytest.raises(InvalidTransition):
        await usecases.lift_hold(uow, HEAD, old.demand_id, "已无保全")
    second = await usecases.request_disposal(uow, HEAD, events.STATION, "保全解除后销毁")
    assert [i["archive_no"] for i in second["items"]] == [old.archive_no]
    assert [
        r["archive_no"] for r in (await usecases.confirm_disposal(uow, HEAD, second["disposal_id"]))["records"]
    ] == [old.archive_no]
    assert [d["disposal_id"] for d in await usecases.list_disposals(uow, SUPERVISOR, None, 10, 0)] == [
        second["disposal_id"],
        request["disposal_id"],
    ]
    assert await usecases.list_disposals(uow, OTHER_HEAD, None, 10, 0) == []

    # Every act and read is in the access log of the station; another city's head sees none of it.
    log = await usecases.access_log(uow, SUPERVISOR, None, None, None, None, None, 100, 0)
    actions = [row["action"] for row in reversed(log)]
    for action in ("retention.set", "disposal.request", "hold.set", "disposal.confirm", "dossier.read", "hold.lift"):
        assert action in actions, action
    [held] = [row for row in log if row["action"] == "hold.set"]
    assert (held["demand_id"], held["subject"], held["purpose"]) == (old.demand_id, "head-1", "涉及诉讼，暂停销毁")
    mine = await usecases.access_log(uow, HEAD, None, older.demand_id, None, None, None, 100, 0)
    assert {row["action"] for row in mine} >= {"disposal.request", "disposal.confirm", "dossier.read"}
    assert await usecases.access_log(uow, OTHER_HEAD, None, None, None, None, None, 100, 0) == []


async def test_the_database_refuses_a_disposal_before_retention_ends_or_under_a_hold(archive):
    db, uow = archive
    fresh = await seal(uow, *history())
    old = await seal_long_ago(uow)
    await usecases.set_hold(uow, HEAD, old.demand_id, "涉及诉讼")
    dispose = "UPDATE dossiers SET content = NULL, disposed_at = now(), disposal_id = $2 WHERE demand_id = $1"
    # The service's own role, past every check of the use case; each refusal rolls its transaction back.
    with pytest.raises(asyncpg.RaiseError, match="retained until"):
        async with uow.begin() as tx:
            await tx.conn.execute(dispose, fresh.demand_id, uuid4())
    with pytest.raises(asyncpg.RaiseError, match="legal hold"):
        async with uow.begin() as tx:
            await tx.conn.execute(dispose, old.demand_id, uuid4())
    for sql in (
        "UPDATE dossiers SET content_sha256 = 'forged' WHERE demand_id = $1",
        "UPDATE dossiers SET retain_until = '2020-01-01' WHERE demand_id = $1",
        "DELETE FROM dossiers WHERE demand_id = $1",
        "DELETE FROM event_log WHERE demand_id = $1",
        "DELETE FROM legal_holds WHERE demand_id = $1",
    ):
        with pytest.raises(asyncpg.RaiseError, match="append-only"):
            async with uow.begin() as tx:
                await tx.conn.execute(sql, old.demand_id)
    with pytest.raises(asyncpg.RaiseError, match="append-only"):
        async with uow.begin() as tx:
            await tx.conn.execute("DELETE FROM access_log")


async def test_every_read_of_a_dossier_or_a_list_is_logged_with_who_and_why(archive):
    _, uow = archive
    d = await seal(uow, *history())
    await usecases.get_dossier(uow, HEAD, d.demand_id, purpose="企业申请复核")
    listed = await usecases.list_dossiers(uow, SUPERVISOR, None, 50, 0)
    assert [k.dossier.demand_id for k in listed] == [d.demand_id]
    log = await usecases.access_log(uow, HEAD, None, d.demand_id, None, None, None, 10, 0)
    assert [(r["action"], r["subject"], r["role"]) for r in log] == [
        ("dossier.list", "sup-1", "supervisor"),
        ("dossier.read", "head-1", "head"),
    ]
    read = log[1]
    assert read["purpose"] == "企业申请复核" and read["subject_name"] == "周站长" and d.archive_no in read["what"]
    # the supervisor's list over the city is logged against the station whose record it showed
    assert log[0]["demand_ids"] == [d.demand_id] and log[0]["station_id"] == events.STATION
    assert log[0]["detail"] == {"scope": "210100"}
    empty = await usecases.list_dossiers(uow, OTHER_HEAD, None, 50, 0)
    assert empty == []
    [nothing] = await usecases.access_log(uow, OTHER_HEAD, None, None, None, None, None, 10, 0)
    assert (nothing["action"], nothing["station_id"], nothing["demand_ids"]) == (
        "dossier.list",
        events.OTHER_STATION,
        [],
    )


# --------------------------------------------------------------------------- fewer round trips (issue 14)


def _by_id(logged: list[domain.LoggedEvent]) -> str:
    """The events as the store gave them, in a fixed order, every value's type and form included."""
    return repr(sorted(logged, key=lambda e: str(e.event_id)))


async def test_logging_an_event_reads_the_log_back_as_stored_only_when_asked(archive):
    _, uow = archive
    s, a, r, rating = history()
    async with uow.begin() as tx:
        first = await tx.store.log_event(s, read_back=True)
        assert (first.sealed, first.disposed) == (False, False)
        # The event came back from the insert itself: the same as the log holds, read by a statement of its own.
        assert [e.event_id for e in first.events] == [s.event_id]
        assert _by_id(first.events) == _by_id(await tx.store.events(s.demand_id))
        assert (await tx.store.log_event(a)).events == []  # not asked
        again = await tx.store.log_event(a, read_back=True)  # already logged (a replay, say): there once
        assert len(again.events) == 2 and _by_id(again.events) == _by_id(await tx.store.events(s.demand_id))
        following = following_events.followed_up(a)
        assert (await tx.store.log_event(following)).events == []
    await uow.handle(r, usecases.collect)
    assert await usecases.list_dossiers(uow, HEAD, None, 10, 0) == []
    await uow.handle(rating, usecases.collect)  # reads all five back and seals
    [kept] = await usecases.list_dossiers(uow, HEAD, None, 10, 0)
    assert len(kept.dossier.content["events"]) == 5 and len(kept.dossier.content["follow_ups"]) == 1
    async with uow.begin() as tx:
        late = events.returned(a)
        assert await tx.store.log_event(late, read_back=True) == Logged(sealed=True, disposed=False, events=[])
        assert late.event_id in {e.event_id for e in await tx.store.events(s.demand_id)}  # logged for the audit


async def test_a_dossier_is_sealed_with_its_stations_retention_and_numbered_per_station(archive):
    _, uow = archive
    await usecases.set_retention(uow, HEAD, events.STATION, 10, "市局要求保存十年")
    longer = await seal(uow, *history())
    minimum = await seal(uow, *history(events.OTHER_STATION))
    assert longer.retain_until == domain.retained_until(longer.sealed_at, 10)
    assert minimum.retain_until == domain.retained_until(minimum.sealed_at, 3)
    year = longer.sealed_at.astimezone(CHINA).year
    assert longer.archive_no == minimum.archive_no == domain.archive_no(year, 1)
    assert (await seal(uow, *history())).archive_no == domain.archive_no(year, 2)


async def test_opening_a_dossier_lists_its_supplements_and_holds_lifted_ones_too(archive):
    _, uow = archive
    s, a, r, rating = history()
    d = await seal(uow, s, a, r, rating)
    kept, supplements, holds = await usecases.get_dossier(uow, HEAD, d.demand_id)
    assert kept.dossier == d and (supplements, holds) == ([], [])
    await uow.handle(following_events.followed_up(a), usecases.collect)  # after sealing: logged for the audit
    _, [added] = await usecases.audit(uow, supplement=True)
    hold = await usecases.set_hold(uow, HEAD, d.demand_id, "涉及诉讼，暂停销毁")
    kept, supplements, holds = await usecases.get_dossier(uow, HEAD, d.demand_id)
    assert kept.on_hold and [(x.supplement_no, x.content_sha256) for x in supplements] == [(1, added.content_sha256)]
    assert [(h.hold_id, h.lifted_at) for h in holds] == [(hold.hold_id, None)]
    await usecases.lift_hold(uow, HEAD, d.demand_id, "诉讼已结束")
    kept, supplements, holds = await usecases.get_dossier(uow, HEAD, d.demand_id)
    assert not kept.on_hold and len(supplements) == 1
    assert [(h.hold_id, h.lift_reason) for h in holds] == [(hold.hold_id, "诉讼已结束")]
    with pytest.raises(NotFound):
        await usecases.get_dossier(uow, OTHER_HEAD, d.demand_id)
