"""The pure planning of `make bench --prefill` (devtools/bench_prefill.py): copies, numbers, the SQL of a clone."""

from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest

from devtools.bench_prefill import (
    MESSAGE_SPAN,
    NEWEST,
    SPAN_DAYS,
    Column,
    Template,
    clone_sql,
    column_expr,
    parents_first,
    plan,
)

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
A = Template(UUID(int=1), "210100/210112/hunnan-01", NOW - timedelta(minutes=5))
B = Template(UUID(int=2), "440100/440113/panyu-01", NOW - timedelta(minutes=4))


def test_copies_take_the_templates_in_turn_oldest_first_within_the_spans():
    copies, _, _ = plan([A, B], 6, NOW, {}, {})
    assert [(c.template, c.g, c.ord) for c in copies] == [
        (A, 1, 0),
        (B, 1, 1),
        (A, 2, 2),
        (B, 2, 3),
        (A, 3, 4),
        (B, 3, 5),
    ]
    submitted = [c.template.submitted_at + c.shift for c in copies]
    assert submitted == sorted(submitted)
    assert submitted[0] == NOW - timedelta(days=SPAN_DAYS)
    assert submitted[-1] < NOW - NEWEST
    messages = [c.template.submitted_at + c.msg_shift for c in copies]
    assert messages[0] == NOW - MESSAGE_SPAN and max(messages) < NOW - NEWEST


def test_numbers_run_per_station_and_china_year_after_the_counters():
    year = NOW.year
    copies, tracking, archive = plan([A, B], 3000, NOW, {(A.station_id, year): 10}, {(A.station_id, year): 12})
    this_year = [c for c in copies if c.template is A and c.tracking_no.startswith(f"{year}-")]
    assert this_year[0].tracking_no == f"{year}-000011" and this_year[0].archive_no == f"A{year}-000013"
    assert tracking[(A.station_id, year)] == 10 + len(this_year)
    assert archive[(A.station_id, year)] == 12 + len(this_year)
    older = [c for c in copies if c.template is B and c.tracking_no.startswith(f"{year - 2}-")]
    assert older[0].tracking_no == f"{year - 2}-000001"
    assert tracking[(B.station_id, year - 2)] == len(older)
    numbers = [(c.template.station_id, c.tracking_no) for c in copies]
    assert len(set(numbers)) == len(numbers)


def test_a_record_shifts_dates_by_whole_days():
    (c,), _, _ = plan([A], 1, NOW, {}, {})
    record = c.record()
    assert record[:3] == (A.demand_id, 1, 0)
    assert record[5] == round(c.shift.total_seconds() / 86400)


def test_no_templates_no_plan():
    with pytest.raises(ValueError):
        plan([], 10, NOW, {}, {})


def test_columns_are_remapped_by_kind():
    assert column_expr("outbox", Column("id", "bigint", default="nextval('outbox_id_seq'::regclass)")) is None
    assert column_expr("dossiers", Column("enterprise_name", "text", generated=True)) is None
    assert column_expr("cases", Column("demand_id", "uuid")) == "md5(t.demand_id::text || ':' || m.g::text)::uuid"
    assert column_expr("cases", Column("submitted_at", "timestamp with time zone")) == "t.submitted_at + m.shift"
    assert column_expr("inbox", Column("received_at", "timestamp with time zone")) == "t.received_at + m.msg_shift"
    assert column_expr("cases", Column("due_on", "date")) == "t.due_on + m.days"
    assert "m.tracking_no" in column_expr("demands", Column("tracking_no", "text"))
    assert "sha256" in column_expr("status_links", Column("token_sha256", "text"))
    assert column_expr("idempotent_requests", Column("key", "text")).startswith("md5(t.key")
    assert "unnest(t.demand_ids)" in column_expr("access_log", Column("demand_ids", "ARRAY", udt="_uuid"))
    assert "jsonb_build_object" in column_expr("outbox", Column("payload", "jsonb"))
    assert column_expr("queue", Column("items", "jsonb")) == "t.items"
    assert column_expr("dossiers", Column("content", "jsonb")) == "t.content"


def test_clone_sql_joins_each_table_to_the_copies_its_own_way():
    cols = [Column("demand_id", "uuid"), Column("kind", "text")]
    sql = clone_sql("timeline", cols)
    assert sql.startswith("INSERT INTO timeline (demand_id, kind)")
    assert "JOIN prefill_map m ON m.t_demand = t.demand_id" in sql and "m.ord >= $1 AND m.ord < $2" in sql
    inbox = clone_sql("inbox", [Column("consumer", "text"), Column("event_id", "uuid")])
    assert "JOIN prefill_events e ON e.event_id = t.event_id" in inbox
    answers = clone_sql("idempotent_requests", [Column("key", "text"), Column("result", "jsonb")])
    assert "t.result->>'demand_id'" in answers
    assert clone_sql("stations", [Column("station_id", "text")]) is None


def test_parents_come_first():
    edges = [("demand_items", "demands"), ("status_steps", "demands"), ("demands", "demands"), ("x", "elsewhere")]
    order = parents_first(["status_steps", "demand_items", "demands", "inbox", "x"], edges)
    assert order.index("demands") < order.index("demand_items")
    assert order.index("demands") < order.index("status_steps")
    with pytest.raises(ValueError):
        parents_first(["a", "b"], [("a", "b"), ("b", "a")])
