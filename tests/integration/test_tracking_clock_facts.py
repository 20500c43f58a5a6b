"""The clock's facts of a case in one statement (ClockStore.clock_facts), on tracking's real database.

Every event a case takes recomputes its clock from four things: the station's settings, the calendar corrections,
the case's pauses and its extensions. They are read in one statement; these tests hold it to the four single reads
it replaced, value and type alike (UUIDs, dates, instants with their zone, NULLs), in their order, for callers that
row-level security lets in and keeps out, and check that an event reads the clock's tables once.
"""

import contextlib
from datetime import UTC, date, datetime, timedelta
from uuid import UUID, uuid4

import asyncpg
import pytest

from services.tracking import usecases
from services.tracking.clock.domain import ClockSettings
from services.tracking.store import Store
from shared.auth import SYSTEM, Principal, Role
from shared.db.pool import create_pool
from shared.db.uow import UnitOfWork
from tests.support import events, infra
from tests.support.apps import make_app

pytestmark = pytest.mark.integration

DEFAULTS = ClockSettings(response_days=1, warn_days=1, verify_days=2, revisit_sample_rate=0.1)
HEAD = Principal(subject="head-1", name="周站长", role=Role.head, station=events.STATION)
OTHER_HEAD = Principal(subject="head-2", name="梁站长", role=Role.head, station=events.OTHER_STATION)
SUPERVISOR = Principal(subject="sup-1", name="沈阳市市场监管局", role=Role.supervisor, station="210100")
ORG = Principal(subject="org-user", name="市计量测试院", role=Role.org, org="org-01")  # assigned both cases
OTHER_ORG = Principal(subject="org-user-2", name="另一检测机构", role=Role.org, org="org-02")
T = datetime(2026, 3, 2, 1, 30, tzinfo=UTC)


@contextlib.asynccontextmanager
async def tracking_alone(amqp: str, databases):
    db = databases("tracking")
    app = make_app("tracking", amqp_url=amqp, database_url=db, scan_every_seconds=3600)
    async with infra.running(app):
        yield app.state.runtime, db


async def _rows(db: str, sql: str, *rows: tuple) -> None:
    """Written as the owner (no row-level security), as the use cases would have."""
    conn = await asyncpg.connect(db)
    try:
        await conn.executemany(sql, rows)
    finally:
        await conn.close()


def _exact(facts: tuple) -> str:
    """Values and types: a repr shows UUID(...), datetime.date(...), an instant's tzinfo, None, 0.25 vs 0.25."""
    settings, overrides, pauses, extensions = facts
    return repr((settings, sorted(overrides.items()), pauses, extensions))


async def _single_reads(store: Store, station_id: str, demand_id: UUID, defaults: ClockSettings) -> tuple:
    return (
        await store.clock_settings(station_id, defaults),
        await store.calendar_overrides(),
        await store.pauses(demand_id),
        await store.extensions(demand_id),
    )


async def _cases(uow: UnitOfWork) -> tuple[UUID, UUID, UUID]:
    """Three cases through the events tracking consumes: two assigned to org-01 (at hunnan-01, whose station has
    its own settings, and at panyu-01, which has none), and one at hunnan-01 only submitted (no facts of its own)."""
    here, there, quiet = events.submitted(), events.submitted(station=events.OTHER_STATION), events.submitted()
    for event in (here, events.assigned(here), there, events.assigned(there), quiet):
        assert await uow.handle(event, usecases.record_event)
    return here.demand_id, there.demand_id, quiet.demand_id


async def _facts(db: str, here: UUID, there: UUID) -> None:
    # hunnan-01 sets some of its clock; a NULL column keeps the default.
    await _rows(
        db,
        """INSERT INTO clock_settings (station_id, response_days, warn_days, escalate_after_days, reply_days,
            verify_days, rehandling_days, revisit_days, revisit_sample_rate, updated_by, updated_by_id, updated_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, '周站长', 'head-1', $10)""",
        (events.STATION, 3, None, 4, None, 5, None, 6, 0.25, T),
    )
    # A holiday, a make-up working day, and a removed correction (a tombstone: not in force).
    await _rows(
        db,
        "INSERT INTO calendar_corrections (day, is_workday, note, event_id, occurred_at) VALUES ($1, $2, $3, $4, $5)",
        (date(2026, 3, 9), False, "临时休假", uuid4(), T),
        (date(2026, 3, 14), True, "调休上班", uuid4(), T),
        (date(2026, 3, 16), None, None, uuid4(), T),
    )
    # Pauses out of order, two starting at the same instant (the pause id decides), the last one still open.
    same = T + timedelta(days=2)
    ids = sorted((uuid4() for _ in range(2)), reverse=True)  # inserted in the order the read must not keep
    await _rows(
        db,
        """INSERT INTO pauses (pause_id, demand_id, station_id, assignment_no, reason_kind, reason, paused_by,
            paused_by_id, paused_at, event_id, resumed_by, resumed_by_id, resumed_at, note, resumed_event_id)
        VALUES ($1, $2, $3, 1, $4, $5, '市计量测试院', 'org-user', $6, $7, $8, $9, $10, $11, $12)""",
        (
            uuid4(),
            here,
            events.STATION,
            "enterprise",
            "等待企业送检",
            T + timedelta(days=5),
            uuid4(),
            None,
            None,
            None,
            None,
            None,
        ),
        (
            ids[0],
            here,
            events.STATION,
            "third_party",
            "等待第三方",
            same,
            uuid4(),
            "张晓燕",
            "clerk-1",
            same + timedelta(hours=3),
            "已恢复",
            uuid4(),
        ),
        (
            ids[1],
            here,
            events.STATION,
            "enterprise",
            "等待企业补充材料",
            same,
            uuid4(),
            "张晓燕",
            "clerk-1",
            same + timedelta(days=1),
            None,
            uuid4(),
        ),
        (
            uuid4(),
            there,
            events.OTHER_STATION,
            "enterprise",
            "等待企业",
            T,
            uuid4(),
            "何家豪",
            "clerk-2",
            T + timedelta(hours=1),
            None,
            uuid4(),
        ),
    )
    # Extensions: approved, refused, and one pending; requested out of order.
    await _rows(
        db,
        """INSERT INTO extensions (extension_id, demand_id, station_id, assignment_no, requested_by,
            requested_by_id, requested_at, reason, due_on, new_due_on, event_id, approved, decided_by,
            decided_by_id, decided_at, comment, decided_event_id)
        VALUES ($1, $2, $3, 1, '市计量测试院', 'org-user', $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)""",
        (
            uuid4(),
            here,
            events.STATION,
            T + timedelta(days=6),
            "仍需补测",
            date(2026, 3, 20),
            date(2026, 3, 27),
            uuid4(),
            None,
            None,
            None,
            None,
            None,
            None,
        ),
        (
            uuid4(),
            here,
            events.STATION,
            T,
            "设备检修",
            date(2026, 3, 13),
            date(2026, 3, 18),
            uuid4(),
            True,
            "周站长",
            "head-1",
            T + timedelta(hours=2),
            None,
            uuid4(),
        ),
        (
            uuid4(),
            here,
            events.STATION,
            T + timedelta(days=3),
            "再延",
            date(2026, 3, 18),
            date(2026, 3, 20),
            uuid4(),
            False,
            "周站长",
            "head-1",
            T + timedelta(days=4),
            "理由不足",
            uuid4(),
        ),
        (
            uuid4(),
            there,
            events.OTHER_STATION,
            T,
            "设备检修",
            date(2026, 3, 13),
            date(2026, 3, 16),
            uuid4(),
            None,
            None,
            None,
            None,
            None,
            None,
        ),
    )


async def test_one_statement_answers_as_the_four_reads_did_for_every_caller(amqp, databases):
    async with tracking_alone(amqp, databases) as (runtime, db):
        here, there, quiet = await _cases(runtime.uow)
        await _facts(db, here, there)
        kept_out = 0
        for principal in (SYSTEM, HEAD, OTHER_HEAD, SUPERVISOR, ORG, OTHER_ORG):
            for station_id, demand_id in (
                (events.STATION, here),
                (events.OTHER_STATION, there),
                (events.STATION, quiet),
                (events.STATION, uuid4()),
            ):
                async with runtime.uow.begin(principal) as tx:
                    one = await tx.store.clock_facts(station_id, demand_id, DEFAULTS)
                    four = await _single_reads(tx.store, station_id, demand_id, DEFAULTS)
                assert _exact(one) == _exact(four), (principal.subject, station_id)
                kept_out += demand_id == here and not one[2]
        assert kept_out == 2  # the other station's head and the organization not assigned see no pause of it

        async with runtime.uow.begin() as tx:
            settings, overrides, pauses, extensions = await tx.store.clock_facts(events.STATION, here, DEFAULTS)
            elsewhere = await tx.store.clock_facts(events.OTHER_STATION, there, DEFAULTS)
            without_case = await tx.store.clock_facts(events.STATION, None, DEFAULTS)
        # The station's own over the defaults, NULL columns keeping them.
        assert settings == ClockSettings(
            response_days=3,
            warn_days=1,
            escalate_after_days=4,
            reply_days=2,
            verify_days=5,
            rehandling_days=5,
            revisit_days=6,
            revisit_sample_rate=0.25,
        )
        assert elsewhere[0] is DEFAULTS  # no row: the defaults themselves
        assert overrides == {date(2026, 3, 9): False, date(2026, 3, 14): True}
        assert all(type(d) is date for d in overrides)
        # By instant, then by pause id: of the two at the same instant, the smaller id (the one inserted second).
        assert [p.reason for p in pauses] == ["等待企业补充材料", "等待第三方", "等待企业送检"]
        assert pauses[-1].is_open and pauses[-1].resumed_at is None and pauses[-1].note is None
        assert isinstance(pauses[0].pause_id, UUID) and isinstance(pauses[0].event_id, UUID)
        assert pauses[0].paused_at.tzinfo is not None and pauses[0].assignment_no == 1
        assert [e.reason for e in extensions] == ["设备检修", "再延", "仍需补测"]
        assert [e.approved for e in extensions] == [True, False, None]
        assert [e.status for e in extensions] == ["approved", "refused", "pending"]
        assert type(extensions[0].due_on) is date and type(extensions[0].new_due_on) is date
        assert extensions[0].decided_at.tzinfo is not None
        assert [len(elsewhere[2]), len(elsewhere[3])] == [1, 1]
        assert without_case[1:] == (overrides, [], [])


async def test_an_event_reads_the_clock_tables_in_one_statement(amqp, databases):
    """What with_clock costs each event tracking folds: one round trip for the clock, not four."""
    async with tracking_alone(amqp, databases) as (runtime, db):
        pool = await create_pool(runtime.settings.resolved_app_database_url, min_size=1, max_size=1)
        uow = UnitOfWork("tracking", Store)
        uow.bind(pool)
        statements: list[str] = []
        try:
            async with pool.acquire() as conn:
                conn.add_query_logger(lambda logged: statements.append(logged.query))
            submitted = events.submitted()
            assert await uow.handle(submitted, usecases.record_event)
            assert await uow.handle(events.assigned(submitted), usecases.record_event)
        finally:
            await pool.close()
        clock = [s for s in statements if any(t in s for t in ("clock_settings", "calendar_corrections", "pauses"))]
        assert len(clock) == 2, statements  # one per event
