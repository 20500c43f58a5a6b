"""`make bench --replicas` and its correctness check: the pure parts (devtools/bench_replicas.py, the request
spreading of devtools/bench_load.Driver, the evaluation of devtools/bench_verify.py)."""

import argparse

import pytest

from devtools import bench_replicas as replicas
from devtools import bench_verify as verify
from devtools.bench_load import Driver, Lifecycle
from devtools.bench_system import PORTS
from shared.contracts.topology import SERVICES

# --------------------------------------------------------------------------- --replicas SERVICE=N


def test_replicas_parse_service_and_count():
    assert replicas.parse("tracking=2") == ("tracking", 2)
    assert replicas.parse(" intake=1") == ("intake", 1)


@pytest.mark.parametrize("value", ["tracking", "tracking=", "tracking=two", "console=2", "tracking=0", "tracking=9"])
def test_replicas_refuse_what_is_not_a_service_and_a_sensible_count(value):
    with pytest.raises(argparse.ArgumentTypeError):
        replicas.parse(value)


def test_replica_counts_default_to_one_and_refuse_a_service_named_twice():
    assert replicas.counts(None) == dict.fromkeys(SERVICES, 1)
    assert replicas.counts([("tracking", 2)])["tracking"] == 2
    with pytest.raises(ValueError, match="twice"):
        replicas.counts([("tracking", 2), ("tracking", 3)])


def test_further_replicas_get_ports_from_8111_and_name_their_service():
    ports = replicas.instance_ports(PORTS, {"tracking": 3, "intake": 2})
    assert {k: v for k, v in ports.items() if k in PORTS} == PORTS  # the first replicas keep theirs
    assert ports["intake#2"] == 8111 and ports["tracking#2"] == 8112 and ports["tracking#3"] == 8113
    assert len(set(ports.values())) == len(ports)
    assert replicas.service_of("tracking#3") == "tracking" and replicas.service_of("archive") == "archive"
    assert replicas.instance_ports(PORTS, dict.fromkeys(SERVICES, 1)) == PORTS


def test_the_driver_sends_a_services_requests_to_its_replicas_in_turns():
    driver = Driver(client=None, urls={"tracking": ["http://a", "http://b"], "intake": ["http://i"]}, who=[])
    assert [driver.url("tracking") for _ in range(5)] == ["http://a", "http://b", "http://a", "http://b", "http://a"]
    assert [driver.url("intake") for _ in range(2)] == ["http://i", "http://i"]


# --------------------------------------------------------------------------- the evaluation


def test_a_sealed_demand_needs_exactly_what_one_lifecycle_leaves():
    fact = verify.Fact("assignments", "assignment rows")
    check = verify.judge("dispatch", fact, {"a": 1, "b": 1}, sealed={"a", "b"})
    assert check.ok and check.name == "dispatch: assignment rows"
    lost = verify.judge("dispatch", fact, {"a": 0, "b": 1}, sealed={"a", "b"})
    assert lost.wrong == 1 and "fewer" in lost.detail
    doubled = verify.judge("dispatch", fact, {"a": 2, "b": 1}, sealed={"a", "b"})
    assert doubled.wrong == 1 and "more than 1" in doubled.detail


def test_an_unfinished_demand_may_have_less_but_never_more():
    fact = verify.Fact("timeline:demand.assigned", "timeline entries for demand.assigned")
    assert verify.judge("tracking", fact, {"cut-off": 0}, sealed=set()).ok
    assert verify.judge("tracking", fact, {"cut-off": 2}, sealed=set()).wrong == 1


def test_a_fact_expected_zero_times_fails_on_any():
    fact = verify.Fact("supplements", "supplements to a sealed dossier", sealed=0)
    assert verify.judge("archive", fact, {"a": 0, "b": 0}, sealed={"a"}).ok
    assert verify.judge("archive", fact, {"a": 0, "b": 1}, sealed={"a"}).wrong == 1


def test_every_fact_names_a_column_of_its_query():
    for sql, keys, facts in verify.PER_DEMAND.values():
        for fact in facts:
            assert f"AS {fact.column}" in sql or f'AS "{fact.column}"' in sql
        assert f"${len(keys) + 1}" in sql if keys else "$2" not in sql


def test_subscriptions_come_from_the_vhosts_queues_without_the_dead_letter_queues():
    queues = ["tracking.demand.resolved", "tracking.demand.resolved.dlq", "archive.complaint.updated", "bench.raw"]
    assert verify.subscriptions(queues) == {"tracking": {"demand.resolved"}, "archive": {"complaint.updated"}}


def test_an_event_missing_from_a_subscribers_inbox_is_a_loss():
    subs = {"tracking": {"demand.assigned", "demand.resolved"}, "archive": {"demand.assigned"}}
    published = {"demand.assigned": {"e1", "e2"}, "demand.resolved": {"e3"}, "demand.rated": {"e4"}}
    inbox = {"tracking": {"e1", "e2", "e3"}, "archive": {"e1"}}
    assert verify.inbox_losses(subs, published, inbox) == {"archive": {"demand.assigned": 1}}
    assert verify.inbox_losses(subs, published, {"tracking": {"e1", "e2", "e3"}, "archive": {"e1", "e2"}}) == {}


def test_archive_numbers_must_agree_for_every_sealed_demand():
    intake = {"a": "A2026-000001", "b": "A2026-000002"}
    assert verify.mismatched({"a", "b"}, intake, dict(intake), dict(intake)) == 0
    assert verify.mismatched({"a", "b"}, intake, {"a": "A2026-000001", "b": None}, dict(intake)) == 1
    assert verify.mismatched({"a"}, intake, {"a": "A2026-000009"}) == 1


def test_a_counter_ahead_of_or_behind_the_numbers_issued_is_counted():
    assert verify.counter_gaps([{"last_serial": 216, "issued": 216}, {"last_serial": 5, "issued": 5}]) == 0
    assert verify.counter_gaps([{"last_serial": 217, "issued": 216}, {"last_serial": 5, "issued": 6}]) == 2


def test_the_correctness_block_says_ok_or_what_is_wrong():
    result = {
        "ok": False,
        "demands": 3,
        "sealed": 2,
        "events_checked": 15,
        "settled_after_s": 0.5,
        "checks": [
            verify.Check("dispatch: assignment rows", 0).as_dict(),
            verify.Check("tracking: timeline entries for demand.assigned", 1, "1 demand(s) with more than 1").as_dict(),
        ],
        "duplicates_absorbed": {"tracking": 2},
    }
    text = verify.render(result)
    assert "FAILED" in text and "WRONG 1" in text and "more than 1" in text and "tracking 2" in text
    lifecycle = Lifecycle(station="s", started=0.0, demand_id="d", ended=1.0)
    assert lifecycle.sealed  # what `verify` takes for a sealed demand
