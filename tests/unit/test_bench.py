"""`make bench`'s arithmetic (devtools/bench_stats.py) and its payloads (devtools/bench_load.py), without running it."""

import asyncio
import random
from types import SimpleNamespace

import pytest
from stdnum.cn import uscc

from devtools import bench, bench_floor, bench_http, bench_load, bench_stats
from devtools.bench_stats import Proc


def stat_line(pid: int, comm: str, ppid: int, utime: int, stime: int, cutime: int = 0, cstime: int = 0, rss: int = 0):
    """A /proc/<pid>/stat line (proc(5)): fields 14–17 the CPU times, 24 the RSS in pages."""
    fields = ["S", ppid, pid, pid, 0, -1, 4194560, 0, 0, 0, 0, utime, stime, cutime, cstime, 20, 0, 1, 0, 100, 4096]
    fields += [rss] + [0] * 28
    return f"{pid} ({comm}) " + " ".join(str(f) for f in fields)


# --------------------------------------------------------------------------- percentiles


def test_percentile_is_nearest_rank():
    values = [0.4, 0.1, 0.3, 0.2]
    assert bench_stats.percentile(values, 50) == 0.2
    assert bench_stats.percentile(values, 75) == 0.3
    assert bench_stats.percentile(values, 99) == 0.4
    assert bench_stats.percentile(values, 100) == 0.4
    hundred = list(range(1, 101))
    assert bench_stats.percentile(hundred, 99) == 99
    assert bench_stats.percentile(hundred, 95) == 95
    assert bench_stats.percentile([7.0], 1) == 7.0


def test_percentile_of_nothing_is_unknown_and_bad_ranks_are_refused():
    assert bench_stats.percentile([], 50) is None
    with pytest.raises(ValueError):
        bench_stats.percentile([1.0], 0)
    with pytest.raises(ValueError):
        bench_stats.percentile([1.0], 101)


def test_summarize_in_milliseconds():
    s = bench_stats.summarize([0.010, 0.020, 0.030, 1.000])
    assert s == {"n": 4, "mean_ms": 265.0, "p50_ms": 20.0, "p95_ms": 1000.0, "p99_ms": 1000.0, "max_ms": 1000.0}
    assert bench_stats.summarize([]) == {
        "n": 0,
        "mean_ms": None,
        "p50_ms": None,
        "p95_ms": None,
        "p99_ms": None,
        "max_ms": None,
    }


# --------------------------------------------------------------------------- /proc and CPU


def test_parse_stat_takes_a_command_name_with_spaces_and_parentheses():
    proc = bench_stats.parse_stat(stat_line(4242, "uvicorn (worker) x", 17, 150, 50, 30, 20, rss=2560))
    assert proc == Proc(pid=4242, comm="uvicorn (worker) x", ppid=17, ticks=200, child_ticks=50, rss_pages=2560)


def table(*procs: Proc) -> dict[int, Proc]:
    return {p.pid: p for p in procs}


def test_tree_ticks_sum_the_live_tree_and_what_exited_children_left():
    root = Proc(10, "python", 1, ticks=100, child_ticks=0, rss_pages=1000)
    child = Proc(11, "python", 10, ticks=40, child_ticks=5, rss_pages=200)
    grandchild = Proc(12, "sh", 11, ticks=3, child_ticks=0, rss_pages=10)
    stranger = Proc(99, "python", 1, ticks=10_000, child_ticks=0, rss_pages=9)
    before = table(root, child, grandchild, stranger)
    assert bench_stats.tree_ticks(before, 10) == 148
    assert bench_stats.tree_rss_pages(before, 10) == 1210
    # The child exits and is waited for: its time moves into the root's child_ticks, the sum carries on.
    after = table(Proc(10, "python", 1, ticks=120, child_ticks=48, rss_pages=1000), stranger)
    assert bench_stats.tree_ticks(after, 10) == 168
    assert bench_stats.tree_ticks(after, 12) == 0  # gone
    assert bench_stats.descendants(after, 10) == [10]


def test_roots_named_finds_the_postmaster_not_its_backends():
    t = table(
        Proc(500, "postgres", 1, 0, 0, 0),
        Proc(501, "postgres", 500, 0, 0, 0),
        Proc(502, "postgres", 500, 0, 0, 0),
        Proc(600, "beam.smp", 1, 0, 0, 0),
        Proc(601, "erl_child_setup", 600, 0, 0, 0),
    )
    assert bench_stats.roots_named(t, "postgres") == [500]
    assert bench_stats.roots_named(t, "beam.smp") == [600]
    assert bench_stats.roots_named(t, "redis-server") == []


def test_cpu_ms_from_clock_ticks():
    assert bench_stats.cpu_ms(1000, 1250, clock_ticks=100) == 2500.0
    with pytest.raises(ValueError):
        bench_stats.cpu_ms(1250, 1000, clock_ticks=100)


def test_machine_busy_counts_idle_and_iowait_as_not_busy():
    before = [100, 0, 100, 1000, 0, 0, 0, 0]
    after = [250, 0, 150, 1150, 50, 0, 0, 0]  # 150 user + 50 system busy, 150 idle + 50 iowait
    assert bench_stats.machine_busy(before, after) == pytest.approx(0.5)
    assert bench_stats.machine_busy(before, before) is None


def test_cpu_figures_per_lifecycle_per_service_and_in_total():
    before = {"intake": 1000, "dispatch": 500, "bench (load generator)": 0}
    after = {"intake": 1300, "dispatch": 600, "bench (load generator)": 200}
    # 100 ticks/s: intake spent 3000 ms, dispatch 1000 ms, the bench 2000 ms, over 10 s and 100 lifecycles.
    polls = {"intake": 0.0, "dispatch": 400.0}
    cpu = bench_stats.cpu_figures(before, after, clock_ticks=100, window_s=10, lifecycles=100, polls=polls)
    assert cpu["intake"]["ms_per_lifecycle"] == 30.0
    assert cpu["intake"]["cores"] == pytest.approx(0.3)
    assert cpu["dispatch"]["poll_ms_per_lifecycle"] == 4.0
    assert cpu["dispatch"]["net_ms_per_lifecycle"] == 6.0
    assert "poll_ms_per_lifecycle" not in cpu["bench (load generator)"]  # not a service
    assert cpu["bench (load generator)"]["ms_per_lifecycle"] == 20.0
    total = cpu["five services"]
    assert total["ms_per_lifecycle"] == 40.0
    assert total["poll_ms_per_lifecycle"] == 4.0
    assert total["net_ms_per_lifecycle"] == 36.0
    assert total["cores"] == pytest.approx(0.4)


def test_cpu_per_lifecycle_over_no_lifecycle_is_unknown_not_zero():
    cpu = bench_stats.cpu_figures({"intake": 0}, {"intake": 100}, clock_ticks=100, window_s=1, lifecycles=0)
    assert cpu["intake"]["ms_per_lifecycle"] is None
    assert cpu["intake"]["cores"] == 1.0
    unpriced = bench_stats.cpu_figures({"intake": 0}, {"intake": 100}, clock_ticks=100, window_s=1, lifecycles=10)
    assert unpriced["intake"]["ms_per_lifecycle"] == 100.0
    assert unpriced["intake"]["poll_ms_per_lifecycle"] is None  # polls not priced (yet): unknown, not free
    assert unpriced["five services"]["net_ms_per_lifecycle"] is None


def test_poll_ms_prices_found_and_not_yet_answers_apart():
    requests = {("dispatch", "poll-absent"): 10, ("dispatch", "poll-found"): 5, ("dispatch", "write"): 5}
    requests[("archive", "poll-found")] = 2
    cost = {"dispatch": {"poll-absent": 1.0, "poll-found": 2.0}, "archive": {"poll-found": 3.0}}
    assert bench_stats.poll_ms(requests, cost) == {"dispatch": 20.0, "archive": 6.0}
    assert bench_stats.delta({"a": 1, "b": 5}, {"a": 4, "b": 5, "c": 2}) == {"a": 3, "b": 0, "c": 2}


# --------------------------------------------------------------------------- queues


def test_depths_by_service_from_queue_names():
    queues = [
        {"name": "dispatch.demand.submitted", "messages": 7},
        {"name": "dispatch.demand.submitted.dlq", "messages": 1},
        {"name": "tracking.demand.assigned", "messages": 3},
        {"name": "tracking.demand.resolved", "messages": 2},
        {"name": "bench.raw", "messages": 9},
        {"name": "archive.demand.rated"},  # no figures yet
    ]
    depths = bench_stats.depths_by_service(queues)
    assert depths["dispatch"] == {"queued": 7, "dead": 1}
    assert depths["tracking"] == {"queued": 5, "dead": 0}
    assert depths["intake"] == {"queued": 0, "dead": 0}
    assert depths["archive"] == {"queued": 0, "dead": 0}
    assert depths["other"] == {"queued": 9, "dead": 0}


def test_growing_sees_a_climb_but_not_noise_or_a_small_steady_backlog():
    climb = [(t * 5.0, t * 100) for t in range(12)]
    assert bench_stats.growing(climb)
    noisy = [(t * 5.0, v) for t, v in enumerate([0, 30, 0, 12, 40, 3, 0, 25, 10])]
    assert not bench_stats.growing(noisy)
    steady = [(t * 5.0, 400 + (t % 2) * 30) for t in range(12)]
    assert not bench_stats.growing(steady)
    drained = [(t * 5.0, max(0, 1000 - t * 200)) for t in range(9)]
    assert not bench_stats.growing(drained)
    assert not bench_stats.growing([(0.0, 0), (5.0, 5000)])  # too few samples to say


# --------------------------------------------------------------------------- the table


def test_render_table_aligns_columns():
    text = bench_stats.render_table(["what", "n", "p99"], [["submit: HTTP call", "1,200", "12.5"], ["e2e", "7", "-"]])
    lines = text.splitlines()
    assert lines[0] == "what" + " " * 19 + "n   p99"
    assert lines[1] == "-----------------  -----  ----"
    assert lines[2] == "submit: HTTP call  1,200  12.5"
    assert lines[3] == "e2e                    7     -"
    with pytest.raises(ValueError):
        bench_stats.render_table(["a", "b"], [["only one"]])


def test_fmt_and_ratio():
    assert bench_stats.fmt(None) == "-"
    assert bench_stats.fmt(12345) == "12,345"
    assert bench_stats.fmt(3.14159, 2) == "3.14"
    assert bench_stats.ratio(25.0, 2500.0) == 0.01
    assert bench_stats.ratio(None, 10.0) is None
    assert bench_stats.ratio(10.0, 0) is None


def lifecycle(http: dict, wait: dict, e2e: float | None, error: str | None = None):
    return SimpleNamespace(http=http, wait=wait, end_to_end=e2e, sealed=e2e is not None and error is None)


def test_latency_summary_per_step_and_end_to_end_of_the_sealed():
    lcs = [
        lifecycle({"submit": 0.01, "assign": 0.02}, {"submit": 0.05, "assign": 0.03}, None, "resolve: 500"),
        lifecycle(
            {"submit": 0.03, "assign": 0.02, "resolve": 0.02, "rate": 0.02},
            {"submit": 0.07, "assign": 0.04, "resolve": 0.03, "rate": 0.1},
            0.4,
        ),
    ]
    summary = bench_stats.latency_summary(lcs)
    assert summary["submit.http"]["n"] == 2
    assert summary["submit.http"]["p99_ms"] == 30.0
    assert summary["resolve.wait"]["n"] == 1
    assert summary["end_to_end"] == bench_stats.summarize([0.4])
    rows = bench_stats.latency_rows(summary)
    assert rows[0][0] == "submit: HTTP call"
    assert rows[1][0] == "submit: wait, dispatch has it"
    assert rows[-1] == ["end to end", "1", "400.0", "400.0", "400.0", "400.0"]


def scenario(**extra) -> dict:
    cpu = bench_stats.cpu_figures(
        {"intake": 0, "postgres (whole server)": 0},
        {"intake": 200, "postgres (whole server)": 100},
        clock_ticks=100,
        window_s=10,
        lifecycles=50,
    )
    return {
        "sealed": 50,
        "failed": 1,
        "errors": ["assign: dispatch POST /demands/x/assignments: 409 conflict"],
        "window_s": 10.0,
        "lifecycles_per_s": 5.0,
        "polls_per_lifecycle": 12.5,
        "machine_busy": 0.9,
        "pg_commits_per_s": 300.0,
        "published_per_s": 25.0,
        "latency": bench_stats.latency_summary([lifecycle({"submit": 0.01}, {"submit": 0.02}, 0.5)]),
        "cpu": cpu,
        "work": {"intake": {"transactions": 3.0, "published": 1.0, "handled": 1.0, "requests": 1.0}},
    } | extra


def test_render_report_shows_every_part():
    results = {
        "started_at": "2026-11-25T10:00:00+00:00",
        "commit": "abc123",
        "machine": {"cores": 2, "cpu": "Test CPU", "memory_gb": 24.0, "loadavg": "0.10 0.20 0.30"},
        "config": {
            "clients": 16,
            "closed_seconds": 30.0,
            "warmup_seconds": 3.0,
            "open_rate": 20.0,
            "open_seconds": 30.0,
            "poll_interval": 0.02,
        },
        "ceilings": {"postgres": {"tx_per_s": 3000.0}, "rabbitmq": {"msgs_per_s": 2500.0}},
        "closed_loop": scenario(),
        "open_loop": scenario(
            offered=600, offered_rate=20.0, all_sealed=False, unfinished=2, max_start_lag_ms=3.0, queues_growing=True
        ),
    }
    text = bench_stats.render_report(results)
    assert "2 cores" in text and "commit abc123" in text
    assert "CLOSED LOOP" in text and "OPEN LOOP" in text
    assert "every demand sealed" in text and "NO" in text and "YES" in text
    assert "409 conflict" in text
    # 20 ms of intake's CPU per lifecycle (2 s over 50), 40% of a core.
    intake = next(line for line in text.splitlines() if line.startswith("intake "))
    assert intake.split()[1] == "40.0"
    ceiling = next(line for line in text.splitlines() if line.startswith("asyncpg"))
    assert ceiling.split()[-3:] == ["300", "0.10", "1/600"]


def test_render_floor_sets_each_floor_beside_the_system_net_of_polls():
    def floor(process: float, pg: float, mq: float, per_s: float) -> dict:
        total = process + pg + mq
        return {
            "clients": 16,
            "seconds": 3.0,
            "events": 6,
            "deliveries": 20,
            "lifecycles_per_s": per_s,
            "cpu_ms_per_lifecycle": {
                "floor (this process)": process,
                "postgres (whole server)": pg,
                "rabbitmq (whole node)": mq,
            },
            "total_ms_per_lifecycle": total,
            "bound_lifecycles_per_s": 2000 / total,
            "servers_bound_lifecycles_per_s": 2000 / (pg + mq),
        }

    cpu = {
        "five services": {"ms_per_lifecycle": 70.0, "net_ms_per_lifecycle": 60.0},
        "postgres (whole server)": {"ms_per_lifecycle": 40.0},
        "rabbitmq (whole node)": {"ms_per_lifecycle": 14.0},
    }
    floors = {"per event": floor(10.0, 8.0, 7.0, 20.0), "batched": floor(6.0, 3.0, 6.0, 30.0)}
    lines = bench_stats.render_floor(floors, {"cpu": cpu}).splitlines()
    assert "6 events, 20 deliveries" in lines[0]
    assert lines[1].split()[-4:] == ["per", "event", "batched", "system"]
    rows = {line.split("  ")[0].strip(): line.split()[-3:] for line in lines[3:]}
    assert rows["floor (this process) / five services"] == ["10.0", "6.0", "60.0"]
    assert rows["postgres (whole server)"] == ["8.0", "3.0", "40.0"]
    assert rows["total"] == ["25.0", "15.0", "114.0"]
    assert rows["at this cost: cores × 1000 / total"] == ["80", "133", "-"]
    assert rows["at this cost, were the services free"] == ["133", "222", "-"]


def test_the_floor_follows_the_services_own_subscriptions():
    """The floor's deliveries are the queues the five routers declare for the lifecycle's events: a new subscriber to
    one of them makes the floor dearer too."""
    by_key = bench_floor.consumers_by_key()
    assert sorted(by_key["demand.submitted"]) == ["archive", "dispatch", "evaluation", "tracking"]
    assert by_key["demand.rating_link_issued"] == ["intake"]
    assert sum(len(by_key[key]) for key, _ in bench_floor.STEPS) == 20
    assert [len(services) for _, _, services in bench_floor.lifecycle_steps()] == [4, 4, 5, 1, 4, 2]


def test_the_floor_refuses_a_lifecycle_it_could_not_drive(monkeypatch):
    """A step nobody consumes, or an answer from a service that no longer hears its cause, would wait forever."""
    by_key = bench_floor.consumers_by_key()
    monkeypatch.setattr(bench_floor, "consumers_by_key", lambda: by_key | {"demand.rating_link_issued": []})
    with pytest.raises(ValueError, match="no service consumes demand.rating_link_issued"):
        bench_floor.lifecycle_steps()
    monkeypatch.setattr(bench_floor, "consumers_by_key", lambda: by_key | {"demand.rated": ["intake"]})
    with pytest.raises(ValueError, match="archive no longer consumes demand.rated"):
        bench_floor.lifecycle_steps()


# --------------------------------------------------------------------------- payloads and options


def test_demand_forms_are_valid_and_varied():
    who = bench_load.people("a-signing-key-for-the-bench-tests-only")
    assert [p.station for p in who] == [s[0] for s in bench_load.STATIONS]
    rng = random.Random(1)
    forms = [bench_load.demand_form(who[0], rng) for _ in range(50)]
    assert all(uscc.is_valid(f["enterprise"]["credit_code"]) for f in forms)
    assert all(f["station_id"] == "210100/210112/hunnan-01" and f["items"] for f in forms)
    assert all(f["enterprise"]["name"].startswith("沈阳") for f in forms)
    assert len({f["enterprise"]["credit_code"] for f in forms}) > 10
    entry = bench_load.organization_entry("沈阳市计量测试研究院", ["210100"], 1)
    assert uscc.is_valid(entry["credit_code"])
    assert entry["categories"] == bench_load.CATEGORIES
    answers = bench_load.rating_answers(rng)["answers"]
    assert answers["overall"] in ("very_satisfied", "satisfied")


def test_quick_and_full_presets_and_overrides():
    quick = bench.parse(["--quick", "--clients", "2", "--open-rate", "2"])
    assert (quick.closed_seconds, quick.open_seconds, quick.clients, quick.open_rate) == (30.0, 30.0, 2, 2.0)
    full = bench.parse([])
    assert (full.clients, full.open_rate, full.open_seconds) == (16, 50.0, 600.0)
    assert full.poll_interval == 0.02


def test_other_cores_is_what_the_watched_processes_do_not_explain():
    cpu = {
        "intake": {"cores": 0.5},
        "bench (load generator)": {"cores": 0.3},
        "postgres (whole server)": {"cores": 0.2},
        "five services": {"cores": 0.5},  # the total of the services, not counted again
    }
    assert bench_stats.other_cores(0.9, 2, cpu) == pytest.approx(0.8)
    assert bench_stats.other_cores(0.4, 2, cpu) == 0.0
    assert bench_stats.other_cores(None, 2, cpu) is None


# --------------------------------------------------------------------------- the lean HTTP client


class TinyServer:
    """An HTTP/1.1 server on a free local port answering from a script: each request gets the next answer.
    An answer is raw bytes, or None to close the connection without answering."""

    def __init__(self, answers: list[bytes | None]) -> None:
        self.answers = answers
        self.requests: list[bytes] = []
        self.connections = 0
        self.server = None

    async def __aenter__(self) -> str:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    async def __aexit__(self, *exc) -> None:
        self.server.close()
        await self.server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    (
                        int(line.split(b":")[1])
                        for line in head.split(b"\r\n")
                        if line.lower().startswith(b"content-length")
                    ),
                    0,
                )
                self.requests.append(head + await reader.readexactly(length))
                answer = self.answers.pop(0)
                if answer is None:
                    break
                writer.write(answer)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


def answer(status: str, body: bytes, *extra: str) -> bytes:
    head = [f"HTTP/1.1 {status}", f"content-length: {len(body)}", "content-type: application/json", *extra]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


async def test_client_posts_json_and_keeps_the_connection():
    async with TinyServer([answer("201 Created", b'{"id": 1}'), answer("404 Not Found", b"{}")]) as base:
        client = bench_http.Client(timeout=5)
        reply = await client.post(base + "/demands", json={"名称": "沈阳"}, headers={"Idempotency-Key": "k1"})
        assert reply.status_code == 201
        assert reply.json() == {"id": 1}
        again = await client.get(base + "/demands/x?station_id=a")
        assert again.status_code == 404
        await client.aclose()


async def test_client_request_line_headers_and_body_reach_the_server():
    script = TinyServer([answer("200 OK", b"[]"), answer("200 OK", b"[]")])
    async with script as base:
        client = bench_http.Client(timeout=5)
        await client.post(base + "/demands", json={"名称": "沈阳"}, headers={"Authorization": "Bearer t"})
        await client.get(base + "/queue?station_id=s")
        await client.aclose()
    first, second = script.requests
    assert first.startswith(b"POST /demands HTTP/1.1\r\n")
    assert b"Authorization: Bearer t\r\n" in first and b"Content-Type: application/json\r\n" in first
    assert first.endswith('{"名称":"沈阳"}'.encode())
    assert second.startswith(b"GET /queue?station_id=s HTTP/1.1\r\n")
    assert script.connections == 1  # kept alive


async def test_client_reads_chunked_bodies():
    chunked = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n4\r\n[1, \r\n3\r\n2]\n\r\n0\r\n\r\n"
    async with TinyServer([chunked]) as base:
        client = bench_http.Client(timeout=5)
        reply = await client.get(base + "/x")
        assert reply.json() == [1, 2]
        await client.aclose()


async def test_client_sends_again_on_a_fresh_connection_when_a_kept_one_was_closed():
    # The second request meets a connection the server closes without answering; it goes again, once.
    script = TinyServer([answer("200 OK", b"1"), None, answer("200 OK", b"2")])
    async with script as base:
        client = bench_http.Client(timeout=5)
        assert (await client.get(base + "/a")).json() == 1
        assert (await client.get(base + "/b")).json() == 2
        await client.aclose()
    assert script.connections == 2
    assert [r.split(b" ")[1] for r in script.requests] == [b"/a", b"/b", b"/b"]


async def test_client_failure_on_a_fresh_connection_is_an_http_error():
    async with TinyServer([None]) as base:
        client = bench_http.Client(timeout=5)
        with pytest.raises(bench_http.HTTPError):
            await client.get(base + "/a")
        await client.aclose()
    with pytest.raises(bench_http.HTTPError):
        await bench_http.Client(timeout=5).get("http://127.0.0.1:9/")  # nothing listens on the discard port
