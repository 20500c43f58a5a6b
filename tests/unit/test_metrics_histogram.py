"""A histogram served from a service's store (shared/observability/metrics.py, StoreCounter kind="histogram"): one
SQL row feeds it beside plain counts, its cumulative buckets, _count and _sum come from the row, and its SQL counts
each observation in every bucket at or above it."""

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from shared.observability import ServiceMetrics
from shared.observability.metrics import StoreCounter, StoreQuery

OPEN = StoreCounter("t_open", "open", ("station_id",), kind="gauge")
TOOK = StoreCounter("t_took_days", "days to resolve", ("station_id",), kind="histogram", buckets=(1, 2.5, 10))
DONE = StoreCounter("t_done_total", "done", ("station_id", "outcome"))
# A row: the station, open, the histogram's cumulative counts at 1, 2.5 and 10, its count (+Inf) and sum, then done.
BY_STATION = StoreQuery(
    "SELECT …",
    labels=1,
    columns=((OPEN, ()), (TOOK, ()), (DONE, ("met",))),
)
# Station a: days 0, 1, 2, 4, 12 -> ≤1: 2, ≤2.5: 3, ≤10: 4, all 5, sum 19. Station b: nothing resolved yet.
ROWS = [[("a", 3, 2, 3, 4, 5, 19, 5), ("b", 1, 0, 0, 0, 0, 0, 0)]]


async def served(rows=ROWS) -> dict[str, dict]:
    m = ServiceMetrics("test")

    async def read(queries):
        return rows

    m.from_store((BY_STATION,), read)
    await m.refresh()
    text = generate_latest(m.registry).decode()
    out: dict[str, dict] = {"types": {}}
    for family in text_string_to_metric_families(text):
        if not family.name.startswith("t_"):
            continue
        out["types"][family.name] = family.type
        for sample in family.samples:
            out.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return out


async def test_a_row_feeds_the_histogram_s_cumulative_buckets_count_and_sum_beside_other_families():
    got = await served()
    assert got["types"] == {"t_open": "gauge", "t_took_days": "histogram", "t_done": "counter"}
    assert got["t_took_days_bucket"] == {
        (("le", "1.0"), ("station_id", "a")): 2,
        (("le", "2.5"), ("station_id", "a")): 3,
        (("le", "10.0"), ("station_id", "a")): 4,
        (("le", "+Inf"), ("station_id", "a")): 5,
        (("le", "1.0"), ("station_id", "b")): 0,
        (("le", "2.5"), ("station_id", "b")): 0,
        (("le", "10.0"), ("station_id", "b")): 0,
        (("le", "+Inf"), ("station_id", "b")): 0,
    }
    assert got["t_took_days_count"] == {(("station_id", "a"),): 5, (("station_id", "b"),): 0}
    assert got["t_took_days_sum"] == {(("station_id", "a"),): 19.0, (("station_id", "b"),): 0.0}
    # The columns around it keep their values: the histogram takes exactly its own.
    assert got["t_open"] == {(("station_id", "a"),): 3, (("station_id", "b"),): 1}
    assert got["t_done_total"] == {
        (("outcome", "met"), ("station_id", "a")): 5,
        (("outcome", "met"), ("station_id", "b")): 0,
    }


async def test_a_sum_the_database_gives_as_a_decimal_is_served_as_a_float():
    from decimal import Decimal

    got = await served([[("a", 0, 1, 1, 1, 1, Decimal(7), 1)]])
    assert got["t_took_days_sum"] == {(("station_id", "a"),): 7.0}


async def test_a_row_of_the_wrong_width_is_not_served_as_a_wrong_figure():
    m = ServiceMetrics("test")

    async def read(queries):
        return [[("a", 3, 2, 3, 4, 5, 19)]]  # one value short

    m.from_store((BY_STATION,), read)
    await m.refresh()
    with pytest.raises(ValueError):
        generate_latest(m.registry)


def test_a_histogram_takes_its_buckets_count_and_sum_from_a_row():
    assert TOOK.width == 5 and OPEN.width == 1 and DONE.width == 1
    assert BY_STATION.labels + sum(c.width for c, _ in BY_STATION.columns) == len(ROWS[0][0])


def test_histogram_sql_counts_each_observation_in_every_bucket_at_or_above_it():
    sql = TOOK.histogram_sql("took", "resolved_at IS NOT NULL")
    columns = sql.split(",\n    ")
    assert columns == [
        "count(*) FILTER (WHERE (resolved_at IS NOT NULL) AND (took) IS NOT NULL AND (took) <= 1)",
        "count(*) FILTER (WHERE (resolved_at IS NOT NULL) AND (took) IS NOT NULL AND (took) <= 2.5)",
        "count(*) FILTER (WHERE (resolved_at IS NOT NULL) AND (took) IS NOT NULL AND (took) <= 10)",
        "count(*) FILTER (WHERE (resolved_at IS NOT NULL) AND (took) IS NOT NULL)",
        "COALESCE(sum(took) FILTER (WHERE (resolved_at IS NOT NULL) AND (took) IS NOT NULL), 0)",
    ]
    assert len(columns) == TOOK.width
    with pytest.raises(ValueError):
        OPEN.histogram_sql("took")


def test_a_histogram_needs_finite_rising_buckets_and_only_a_histogram_has_buckets():
    for buckets in ((), (2, 1), (1, 1), (1, float("inf")), (float("nan"),)):
        with pytest.raises(ValueError):
            StoreCounter("t_h", "h", (), kind="histogram", buckets=buckets)
    with pytest.raises(ValueError):
        StoreCounter("t_c", "c", (), kind="counter", buckets=(1,))


async def test_a_standalone_histogram_with_its_own_sql_is_one_query():
    alone = StoreCounter("t_alone_days", "days", (), "SELECT …", kind="histogram", buckets=(1,))
    m = ServiceMetrics("test")

    async def read(queries):
        assert queries == [("SELECT …", ())]
        return [[(1, 2, 3)]]

    m.from_store((alone,), read)
    await m.refresh()
    text = generate_latest(m.registry).decode()
    assert 't_alone_days_bucket{le="1.0"} 1.0' in text
    assert 't_alone_days_bucket{le="+Inf"} 2.0' in text
    assert "t_alone_days_count 2.0" in text and "t_alone_days_sum 3.0" in text
