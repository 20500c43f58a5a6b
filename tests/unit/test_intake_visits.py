"""Visits to enterprises (主动进企业走访) in intake without PostgreSQL: a visit is kept and VisitRecorded published in
one unit of work, once per Idempotency-Key; every read of a visit is in the access log, by the enterprise's code."""

from datetime import UTC, date, datetime
from uuid import UUID, uuid4

import pytest

from services.intake.visits import domain, usecases
from services.intake.visits.usecases import VisitForm
from shared.auth import Principal, Role, in_scope
from shared.contracts import EVENT_TYPES, VisitRecorded
from shared.errors import NotFound
from shared.idempotency import IdempotencyConflict
from tests.support.fake_uow import FakeUnitOfWork

HUNNAN = "210100/210112/hunnan-01"
TIEXI = "210100/210106/tiexi-01"
CLERK = Principal(subject="clerk-1", name="张晓燕", role=Role.clerk, station=HUNNAN)
OTHER_CLERK = Principal(subject="clerk-9", name="刘窗口", role=Role.clerk, station=HUNNAN)
HEAD = Principal(subject="head-1", name="周站长", role=Role.head, station=HUNNAN)
TIEXI_CLERK = Principal(subject="clerk-2", name="铁西窗口", role=Role.clerk, station=TIEXI)
TIEXI_HEAD = Principal(subject="head-2", name="铁西站长", role=Role.head, station=TIEXI)
SUPERVISOR = Principal(subject="sup-1", name="沈阳市市场监管局", role=Role.supervisor, station="210100")
CODE = "91210112MA0U00005"
TIEXI_CODE = "91210106MA0U00003"


def _form(**kw) -> VisitForm:
    return VisitForm(
        **{
            "credit_code": CODE,
            "enterprise_name": "沈阳新松精密机械有限公司",
            "staff": ["张晓燕", "周站长"],
            "visited_on": date(2026, 3, 2),
            "findings": "计量器具超期未检，需建立台账",
        }
        | kw
    )


class FakeStore:
    """The visit tables and the access log in memory; a scope covers a station as `qs_covers` does."""

    def __init__(self) -> None:
        self.rows: dict[UUID, dict] = {}
        self.access_log: list = []

    async def add_visit(self, visit: dict) -> None:
        assert visit["visit_id"] not in self.rows
        self.rows[visit["visit_id"]] = dict(visit)

    async def visit(self, scope: str, visit_id: UUID) -> dict | None:
        found = self.rows.get(visit_id)
        return found if found and scope and in_scope(found["station_id"], scope) else None

    async def visits(self, scope: str, limit: int, offset: int) -> list[dict]:
        mine = [v for v in self.rows.values() if scope and in_scope(v["station_id"], scope)]
        return sorted(mine, key=lambda v: v["visited_on"], reverse=True)[offset : offset + limit]

    async def visit_demands(self, visit_id: UUID) -> list[dict]:
        return []

    async def log_access(self, lines) -> None:
        self.access_log.extend(lines)


@pytest.fixture
def uow() -> FakeUnitOfWork:
    return FakeUnitOfWork(FakeStore())


# --------------------------------------------------------------------------- the event


def test_the_event_carries_the_visit_as_kept_whole():
    visit_id, event_id, correlation_id = uuid4(), uuid4(), uuid4()
    at = datetime(2026, 3, 2, 2, 30, tzinfo=UTC)
    visit = {
        "visit_id": visit_id,
        "station_id": HUNNAN,
        "credit_code": CODE,
        "enterprise_name": "沈阳新松精密机械有限公司",
        "staff": ["张晓燕", "周站长"],
        "visited_on": date(2026, 3, 2),
        "findings": "计量器具超期未检",
        "recorded_by": "张晓燕",
    }
    event = domain.recorded_event(visit, event_id=event_id, correlation_id=correlation_id, at=at)
    assert (event.event_id, event.occurred_at, event.correlation_id, event.causation_id) == (
        event_id,
        at,
        correlation_id,
        None,
    )
    assert event.model_dump(include=set(visit)) == visit
    assert event.routing_key == "visit.recorded" and EVENT_TYPES["visit.recorded"] is VisitRecorded
    assert VisitRecorded.from_json(event.model_dump_json()) == event  # as a consumer reads it


# --------------------------------------------------------------------------- recording


async def test_a_visit_is_kept_and_published_in_one_unit_of_work(uow):
    visit = await usecases.record_visit(uow, CLERK, _form())
    assert (visit["station_id"], visit["recorded_by"]) == (HUNNAN, "张晓燕")
    assert uow.store.rows[visit["visit_id"]] == visit
    [event] = uow.events(VisitRecorded)
    assert (event.visit_id, event.station_id, event.credit_code, event.staff, event.visited_on) == (
        visit["visit_id"],
        HUNNAN,
        CODE,
        ["张晓燕", "周站长"],
        date(2026, 3, 2),
    )
    assert (event.findings, event.recorded_by) == ("计量器具超期未检，需建立台账", "张晓燕")
    # Each visit starts its own correlation: it is no demand's.
    second = await usecases.record_visit(uow, CLERK, _form())
    assert second["visit_id"] != visit["visit_id"] and len(uow.store.rows) == 2
    assert len({e.correlation_id for e in uow.events(VisitRecorded)}) == 2
    assert uow.store.access_log == []  # recording is not a read


async def test_a_retry_with_the_same_key_records_and_publishes_nothing_again(uow):
    first = await usecases.record_visit(uow, CLERK, _form(), idempotency_key="visit-1")
    again = await usecases.record_visit(uow, CLERK, _form(), idempotency_key="visit-1")
    assert again == first and len(uow.store.rows) == 1
    assert [e.visit_id for e in uow.events(VisitRecorded)] == [first["visit_id"]]
    # The same key for another visit is a conflict, and changes nothing.
    with pytest.raises(IdempotencyConflict):
        await usecases.record_visit(uow, CLERK, _form(findings="另一次走访"), idempotency_key="visit-1")
    assert len(uow.store.rows) == 1 and len(uow.events(VisitRecorded)) == 1
    # Keys are the caller's: another clerk's same key is another request.
    other = await usecases.record_visit(uow, OTHER_CLERK, _form(), idempotency_key="visit-1")
    assert other["visit_id"] != first["visit_id"] and len(uow.events(VisitRecorded)) == 2


async def test_a_failed_unit_of_work_publishes_nothing():
    class Broken(FakeStore):
        async def add_visit(self, visit: dict) -> None:
            raise RuntimeError("database gone")

    uow = FakeUnitOfWork(Broken())
    with pytest.raises(RuntimeError):
        await usecases.record_visit(uow, CLERK, _form(), idempotency_key="visit-1")
    assert uow.published == [] and uow.remembered == {}


# --------------------------------------------------------------------------- reads, in the access log


async def test_reading_a_visit_is_logged_by_the_enterprise_it_names(uow):
    visit = await usecases.record_visit(uow, CLERK, _form())
    seen, demands = await usecases.get_visit(uow, HEAD, visit["visit_id"])
    assert (seen, demands) == (visit, [])
    [line] = uow.store.access_log
    assert (line.station_id, line.subject, line.role, line.purpose, line.kind, line.ref, line.refs) == (
        HUNNAN,
        "head-1",
        "head",
        "visit.read",
        "enterprise",
        CODE,
        (CODE,),
    )
    # Another station's visit is not found, and a read that found nothing was no read.
    with pytest.raises(NotFound):
        await usecases.get_visit(uow, TIEXI_HEAD, visit["visit_id"])
    assert len(uow.store.access_log) == 1


async def test_a_list_of_visits_is_one_line_per_station_with_every_enterprise_once(uow):
    await usecases.record_visit(uow, CLERK, _form())
    await usecases.record_visit(uow, CLERK, _form(visited_on=date(2026, 3, 3)))  # the same enterprise again
    await usecases.record_visit(uow, TIEXI_CLERK, _form(credit_code=TIEXI_CODE, enterprise_name="铁西重工有限公司"))
    shown = await usecases.list_visits(uow, SUPERVISOR, 50, 0)
    assert len(shown) == 3
    lines = {a.station_id: a for a in uow.store.access_log}
    assert {s: (a.purpose, a.kind, a.ref, a.refs) for s, a in lines.items()} == {
        HUNNAN: ("visit.list", "enterprise", CODE, (CODE,)),
        TIEXI: ("visit.list", "enterprise", TIEXI_CODE, (TIEXI_CODE,)),
    }
    # A list that showed nothing is one line for the scope asked.
    uow.store.access_log.clear()
    assert await usecases.list_visits(uow, HEAD, 50, 10) == []
    [empty] = uow.store.access_log
    assert (empty.station_id, empty.purpose, empty.refs) == (HUNNAN, "visit.list", ())
