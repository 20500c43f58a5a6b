"""What reaches dispatch before its DemandSubmitted, on the real database: one statement tells whether the demand is
queued already and, if not, takes its early resolution and early events (services/dispatch/store.py, _ARRIVE). The
demand arrives with them applied; another DemandSubmitted of a queued demand takes nothing; another demand's early
arrivals stay where they are. Dispatch alone; its use cases run through its own unit of work."""

from uuid import uuid4

import pytest

from services.dispatch import usecases
from tests.support import events, infra
from tests.support.apps import make_app

pytestmark = pytest.mark.integration


@pytest.fixture
async def dispatch(amqp, databases):
    db = databases("dispatch")
    app = make_app("dispatch", amqp_url=amqp, database_url=db)
    async with infra.running(app):
        yield app.state.runtime.uow, db


async def _early(db: str, demand_id) -> tuple[int, int]:
    resolutions = await infra.fetch(db, "SELECT 1 FROM early_resolutions WHERE demand_id = $1", demand_id)
    early_events = await infra.fetch(db, "SELECT 1 FROM early_events WHERE demand_id = $1", demand_id)
    return len(resolutions), len(early_events)


async def _queued(db: str, demand_id) -> dict:
    [row] = await infra.fetch(db, "SELECT status, round, description FROM queue WHERE demand_id = $1", demand_id)
    return dict(row)


async def test_a_demand_arrives_with_what_came_before_it_taken_once(dispatch):
    uow, db = dispatch
    first, other = events.submitted(), events.submitted(tracking_no="2026-000002")
    corrected = events.corrected(first, description="压力表 40 台需要检定")
    assert await uow.handle(events.resolved(first), usecases.record_resolved)
    assert await uow.handle(corrected, usecases.record_correction)
    assert await uow.handle(events.corrected(other), usecases.record_correction)
    assert await _early(db, first.demand_id) == (1, 1)

    assert await uow.handle(first, usecases.receive_demand)
    assert await _queued(db, first.demand_id) == {
        "status": "resolved",
        "round": 1,
        "description": corrected.description,
    }
    assert await _early(db, first.demand_id) == (0, 0)
    assert await _early(db, other.demand_id) == (0, 1)  # another demand's early event waits for its own


async def test_a_demand_without_early_arrivals_arrives_as_submitted(dispatch):
    uow, db = dispatch
    first = events.submitted()
    assert await uow.handle(first, usecases.receive_demand)
    assert await _queued(db, first.demand_id) == {"status": "waiting", "round": 1, "description": first.description}


async def test_a_queued_demand_takes_nothing_from_another_submission(dispatch):
    uow, db = dispatch
    first = events.submitted()
    assert await uow.handle(first, usecases.receive_demand)
    assert await uow.handle(events.resolved(first), usecases.record_resolved)
    again = first.model_copy(update={"event_id": uuid4(), "description": "另一份提交"})
    assert await uow.handle(again, usecases.receive_demand)  # handled (a new event id), changing nothing
    assert await _queued(db, first.demand_id) == {"status": "resolved", "round": 1, "description": first.description}
