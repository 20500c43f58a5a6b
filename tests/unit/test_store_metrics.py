"""Figures served from a service's store (shared/observability/metrics.py): one query feeding several families, every
query of a scrape read at once, a reading reused for a few seconds, and no stale figure once a reading fails."""

import asyncio

from prometheus_client import generate_latest

from shared.observability import ServiceMetrics
from shared.observability.metrics import StoreCounter, StoreQuery

OPEN = StoreCounter("t_open", "open", ("station_id",), kind="gauge")
LATE = StoreCounter("t_late", "late", ("station_id", "deadline"), kind="gauge")
DONE = StoreCounter("t_done_total", "done", ("station_id",))
ALONE = StoreCounter("t_alone", "alone", (), "SELECT 7", kind="gauge")
BY_STATION = StoreQuery(
    "SELECT station, open, late response, late handling, done WHERE today = $1",
    labels=1,
    columns=((OPEN, ()), (LATE, ("response",)), (LATE, ("handling",)), (DONE, ())),
    params=lambda: ("2026-11-18",),
)
ROWS = [[("a", 3, 1, 0, 5), ("b", 0, 0, 2, 1)], [(7,)]]


class FakeStore:
    """Answers every reading with `rows` (or fails when `fail` is set), and keeps what it was asked."""

    def __init__(self) -> None:
        self.asked: list[list[tuple[str, tuple]]] = []
        self.fail = False
        self.gate: asyncio.Event | None = None

    async def read(self, queries: list[tuple[str, tuple]]) -> list[list]:
        self.asked.append(queries)
        if self.gate is not None:
            await self.gate.wait()
        if self.fail:
            raise ConnectionError("the database is away")
        return ROWS


def served(m: ServiceMetrics) -> set[str]:
    return {line for line in generate_latest(m.registry).decode().splitlines() if line.startswith("t_")}


SERIES = {
    't_open{station_id="a"} 3.0',
    't_open{station_id="b"} 0.0',
    't_late{deadline="response",station_id="a"} 1.0',
    't_late{deadline="handling",station_id="a"} 0.0',
    't_late{deadline="response",station_id="b"} 0.0',
    't_late{deadline="handling",station_id="b"} 2.0',
    't_done_total{station_id="a"} 5.0',
    't_done_total{station_id="b"} 1.0',
    "t_alone 7.0",
}


def store_metrics() -> tuple[ServiceMetrics, FakeStore]:
    m, store = ServiceMetrics("test"), FakeStore()
    m.from_store((BY_STATION, ALONE), store.read)
    return m, store


async def test_one_query_feeds_several_families_and_a_scrape_reads_every_query_at_once():
    m, store = store_metrics()
    await m.refresh()
    assert store.asked == [[(BY_STATION.sql, ("2026-11-18",)), ("SELECT 7", ())]]
    assert {line for line in served(m) if not line.startswith("t_done_created")} == SERIES
    text = generate_latest(m.registry).decode()
    types = {line.split()[2]: line.split()[3] for line in text.splitlines() if line.startswith("# TYPE t_")}
    assert types == {"t_open": "gauge", "t_late": "gauge", "t_done_total": "counter", "t_alone": "gauge"}


async def test_scrapes_close_together_share_one_reading():
    m, store = store_metrics()
    store.gate = asyncio.Event()
    scrapes = [asyncio.create_task(m.refresh()) for _ in range(3)]
    await asyncio.sleep(0)  # let every scrape start: one reads, the others wait for it
    store.gate.set()
    await asyncio.gather(*scrapes)
    await m.refresh()  # right after: the same reading again
    assert len(store.asked) == 1


async def test_a_failed_reading_drops_the_figures_and_the_scrape_still_answers():
    m, store = store_metrics()
    m.reuse_seconds = 0.0
    await m.refresh()
    assert served(m) >= SERIES
    store.fail = True
    await m.refresh()
    assert served(m) == set()  # the series vanish rather than keep a stale count
    assert "# TYPE t_open gauge" in generate_latest(m.registry).decode()
    store.fail = False
    await m.refresh()
    assert served(m) >= SERIES
