"""The pure arithmetic of `make bench` (devtools/bench.py): percentiles, CPU from /proc, queue depths, the table.

Nothing here reads a clock, a file or the network: the bench hands in what it sampled, these functions say what it
means, and tests/unit/test_bench.py checks them.
"""

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from shared.contracts.topology import SERVICES

# --------------------------------------------------------------------------- latencies


def percentile(values: Sequence[float], p: float) -> float | None:
    """The nearest-rank percentile (a value that was actually observed), None for no values.

    p50 of [1, 2, 3, 4] is 2; p99 of a hundred values is the 99th smallest; p100 is the maximum.
    """
    if not 0 < p <= 100:
        raise ValueError(f"percentile must be in (0, 100], not {p}")
    if not values:
        return None
    ordered = sorted(values)
    rank = math.ceil(p / 100 * len(ordered))
    return ordered[max(rank, 1) - 1]


def summarize(seconds: Sequence[float]) -> dict:
    """n, mean, p50, p95, p99 and max of durations given in seconds, in milliseconds (None where no values)."""

    def ms(value: float | None) -> float | None:
        return None if value is None else round(value * 1000, 1)

    return {
        "n": len(seconds),
        "mean_ms": ms(sum(seconds) / len(seconds)) if seconds else None,
        "p50_ms": ms(percentile(seconds, 50)),
        "p95_ms": ms(percentile(seconds, 95)),
        "p99_ms": ms(percentile(seconds, 99)),
        "max_ms": ms(max(seconds)) if seconds else None,
    }


# --------------------------------------------------------------------------- /proc


@dataclass(frozen=True)
class Proc:
    """One line of /proc/<pid>/stat, the fields the bench needs.

    `ticks` is utime + stime (this process) and `child_ticks` cutime + cstime (its children that exited and were
    waited for), in clock ticks (os.sysconf("SC_CLK_TCK")); `rss_pages` in pages (os.sysconf("SC_PAGE_SIZE")).
    """

    pid: int
    comm: str
    ppid: int
    ticks: int
    child_ticks: int
    rss_pages: int


def parse_stat(text: str) -> Proc:
    """/proc/<pid>/stat; the command name is in parentheses and may itself hold spaces or parentheses."""
    head, _, tail = text.rpartition(")")
    pid, _, comm = head.partition(" (")
    fields = tail.split()
    # fields[0] is field 3 (state) of proc(5): field n is fields[n - 3].
    return Proc(
        pid=int(pid),
        comm=comm,
        ppid=int(fields[1]),
        ticks=int(fields[11]) + int(fields[12]),
        child_ticks=int(fields[13]) + int(fields[14]),
        rss_pages=int(fields[21]),
    )


def children(table: Mapping[int, Proc]) -> dict[int, list[int]]:
    out: dict[int, list[int]] = {}
    for proc in table.values():
        out.setdefault(proc.ppid, []).append(proc.pid)
    return out


def descendants(table: Mapping[int, Proc], root: int) -> list[int]:
    """root and every live process below it (root first); [] when root is gone."""
    if root not in table:
        return []
    kids = children(table)
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(kids.get(pid, []))
    return found


def tree_ticks(table: Mapping[int, Proc], root: int) -> int:
    """CPU ticks of a process tree: every live member's own time plus what its exited children left it.

    A child that exits moves its time from its own `ticks` into its parent's `child_ticks` when it is waited for,
    so the sum stays continuous across the exit (a PostgreSQL backend whose connection closed still counts).
    """
    return sum(table[pid].ticks + table[pid].child_ticks for pid in descendants(table, root))


def tree_rss_pages(table: Mapping[int, Proc], root: int) -> int:
    return sum(table[pid].rss_pages for pid in descendants(table, root))


def roots_named(table: Mapping[int, Proc], comm: str) -> list[int]:
    """The topmost processes called `comm` (e.g. PostgreSQL's postmaster, not each backend below it)."""
    return sorted(
        p.pid for p in table.values() if p.comm == comm and (p.ppid not in table or table[p.ppid].comm != comm)
    )


def cpu_ms(before_ticks: int, after_ticks: int, clock_ticks: int) -> float:
    """CPU milliseconds between two samples of a tick counter."""
    if after_ticks < before_ticks:
        raise ValueError("a CPU tick counter went backwards: a different process was sampled")
    return (after_ticks - before_ticks) * 1000 / clock_ticks


def per_unit(total: float, units: int) -> float | None:
    """total / units, None when nothing was completed (a rate over nothing is not zero, it is unknown)."""
    return None if units <= 0 else total / units


def machine_busy(before: Sequence[int], after: Sequence[int]) -> float | None:
    """Busy share (0..1) of all cores between two samples of /proc/stat's `cpu` line (user nice system idle iowait
    irq softirq steal …): idle and iowait count as not busy."""
    deltas = [b - a for a, b in zip(before, after, strict=True)]
    total = sum(deltas)
    if total <= 0:
        return None
    return 1 - (deltas[3] + deltas[4]) / total


# --------------------------------------------------------------------------- broker


def queue_owner(queue: str) -> str:
    """The service a queue belongs to: its name starts with the consumer (shared.contracts.topology.queue_name)."""
    head = queue.split(".", 1)[0]
    return head if head in SERVICES else "other"


def depths_by_service(queues: Iterable[Mapping]) -> dict[str, dict[str, int]]:
    """Messages (ready + unacknowledged) per service from the management API's queue list; dead-letter queues apart.

    {"intake": {"queued": 12, "dead": 0}, ...} for every service, also those with no queue.
    """
    out = {name: {"queued": 0, "dead": 0} for name in SERVICES}
    for q in queues:
        owner = queue_owner(q["name"])
        kind = "dead" if q["name"].endswith(".dlq") else "queued"
        out.setdefault(owner, {"queued": 0, "dead": 0})[kind] += int(q.get("messages") or 0)
    return out


def growing(samples: Sequence[tuple[float, int]], *, slack: int = 50) -> bool:
    """Whether a backlog grew over a run, from (seconds, messages) samples: the last third's average above the first
    third's by more than `slack` messages and by half again. A few noisy samples, or a backlog that stays at a few
    dozen, do not count as growth; a steady climb does."""
    if len(samples) < 3:
        return False
    third = max(len(samples) // 3, 1)
    first = sum(v for _, v in samples[:third]) / third
    last = sum(v for _, v in samples[-third:]) / third
    return last > first + slack and last > first * 1.5


# --------------------------------------------------------------------------- the table


def fmt(value: float | int | None, digits: int = 1) -> str:
    """A figure for the table: '-' for unknown, thousands apart, `digits` after the point for fractions."""
    if value is None:
        return "-"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.{digits}f}"


def ratio(system: float | None, raw: float | None) -> float | None:
    if system is None or raw in (None, 0):
        return None
    return system / raw


def render_table(headers: Sequence[str], rows: Sequence[Sequence[str]], *, title: str = "") -> str:
    """Plain text, one space-padded column per header: the first column left-aligned, the others right-aligned."""
    widths = [len(h) for h in headers]
    for row in rows:
        if len(row) != len(headers):
            raise ValueError(f"row {row!r} has {len(row)} cells for {len(headers)} columns")
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]

    def line(cells: Sequence[str]) -> str:
        first, *rest = cells
        parts = [first.ljust(widths[0])] + [cell.rjust(w) for cell, w in zip(rest, widths[1:], strict=True)]
        return "  ".join(parts).rstrip()

    out = [title] if title else []
    out += [line(headers), "  ".join("-" * w for w in widths)]
    out += [line(row) for row in rows]
    return "\n".join(out)


STEPS = ("submit", "assign", "resolve", "rate")
# What each step's propagation wait waits for (the next service to see the step's event).
WAITS = {
    "submit": "dispatch has it",
    "assign": "tracking: assigned",
    "resolve": "evaluation: survey open",
    "rate": "archive: sealed",
}


def latency_rows(latency: Mapping[str, Mapping]) -> list[list[str]]:
    """Rows of the latency table from a scenario's `latency` section (summaries keyed `submit.http`, …)."""
    rows = []
    for step in STEPS:
        for part, label in (("http", f"{step}: HTTP call"), ("wait", f"{step}: wait, {WAITS[step]}")):
            s = latency.get(f"{step}.{part}")
            if s:
                rows.append(
                    [label, fmt(s["n"]), fmt(s["p50_ms"]), fmt(s["p95_ms"]), fmt(s["p99_ms"]), fmt(s["max_ms"])]
                )
    s = latency.get("end_to_end")
    if s:
        rows.append(["end to end", fmt(s["n"]), fmt(s["p50_ms"]), fmt(s["p95_ms"]), fmt(s["p99_ms"]), fmt(s["max_ms"])])
    return rows


def render_scenario(name: str, scenario: Mapping) -> str:
    """One scenario's part of the report: throughput, latencies, CPU and RSS per service, queue depths."""
    parts = []
    head = [
        ["lifecycles sealed", fmt(scenario["sealed"])],
        ["failed", fmt(scenario["failed"])],
        ["measured window (s)", fmt(scenario["window_s"])],
        ["lifecycles/s", fmt(scenario["lifecycles_per_s"], 2)],
    ]
    if "offered" in scenario:
        head = [
            ["offered rate (demands/s)", fmt(scenario["offered_rate"], 1)],
            ["demands offered", fmt(scenario["offered"])],
            ["every demand sealed", "yes" if scenario["all_sealed"] else "NO"],
            ["unfinished at the end", fmt(scenario["unfinished"])],
            ["worst start lag (ms)", fmt(scenario.get("max_start_lag_ms"))],
            *head,
        ]
    if "queues_growing" in scenario:
        head.append(["queues growing", "YES" if scenario["queues_growing"] else "no"])
    if "dead_lettered_after" in scenario:
        head.append(["dead-lettered (in DLQs at the end)", fmt(sum(scenario["dead_lettered_after"].values()))])
    head.append(["polls per lifecycle", fmt(scenario.get("polls_per_lifecycle"))])
    head.append(["machine busy (all cores, %)", fmt(_pct(scenario.get("machine_busy")))])
    head.append(["other processes (cores)", fmt(scenario.get("other_cores"), 2)])
    parts.append(render_table([name, "value"], head))
    if scenario.get("errors"):
        parts.append("first errors:\n" + "\n".join(f"  {e}" for e in scenario["errors"][:5]))
    parts.append(render_table(["latency (ms)", "n", "p50", "p95", "p99", "max"], latency_rows(scenario["latency"])))
    cpu_rows = []
    for who, c in scenario["cpu"].items():
        cpu_rows.append(
            [
                f"{who} ×{c['replicas']}" if c.get("replicas", 1) > 1 else who,
                fmt(c.get("ms_per_lifecycle")),
                fmt(c.get("poll_ms_per_lifecycle")),
                fmt(c.get("net_ms_per_lifecycle")),
                fmt(_pct(c.get("cores"))),
                fmt(c.get("rss_max_mb")),
                fmt(c.get("log_bytes_per_lifecycle"), 0),
                fmt(c.get("queued_before")),
                fmt(c.get("queued_peak")),
                fmt(c.get("queued_after")),
            ]
        )
    parts.append(
        render_table(
            [
                "process",
                "CPU ms/lc",
                "polls ms/lc",
                "net ms/lc",
                "CPU %",
                "RSS MB",
                "log B/lc",
                "queued",
                "peak",
                "after",
            ],
            cpu_rows,
        )
    )
    if scenario.get("work"):
        work_rows = [
            [
                who,
                fmt(w.get("transactions")),
                fmt(w.get("statements")),
                fmt(w.get("published")),
                fmt(w.get("handled")),
                fmt(w.get("requests")),
            ]
            for who, w in scenario["work"].items()
        ]
        parts.append(
            render_table(
                ["per lifecycle", "PG commits", "SQL stmts", "events out", "events in", "HTTP reqs"], work_rows
            )
        )
    return "\n\n".join(parts)


def other_cores(busy: float | None, cores: int, cpu: Mapping[str, Mapping]) -> float | None:
    """Cores busy with something the bench does not watch (other tests, the desktop, …): the machine's busy share
    times its cores, less what every watched process used (the "five services" total is not counted twice)."""
    if busy is None:
        return None
    watched = sum(row.get("cores") or 0 for name, row in cpu.items() if name != "five services")
    return max(busy * cores - watched, 0.0)


def _pct(share: float | None) -> float | None:
    return None if share is None else share * 100


def render_ceilings(ceilings: Mapping, closed: Mapping | None) -> str:
    """The raw parts measured in the same run, and the system's use of them during the closed loop."""
    pg = ceilings.get("postgres") or {}
    mq = ceilings.get("rabbitmq") or {}
    rows = [
        ["asyncpg INSERT+COMMIT/s", fmt(pg.get("tx_per_s"), 0), fmt((closed or {}).get("pg_commits_per_s"), 0)],
        [
            "aio-pika publish+confirm+consume/s",
            fmt(mq.get("msgs_per_s"), 0),
            fmt((closed or {}).get("published_per_s"), 0),
        ],
    ]
    for row, raw, system in (
        (rows[0], pg.get("tx_per_s"), (closed or {}).get("pg_commits_per_s")),
        (rows[1], mq.get("msgs_per_s"), (closed or {}).get("published_per_s")),
    ):
        r = ratio(system, raw)
        row.append("-" if r is None else f"{r:.2f}")
        per = (closed or {}).get("lifecycles_per_s")
        r = ratio(per, raw)
        row.append("-" if r is None else f"1/{1 / r:,.0f}")
    return render_table(["raw ceiling (same run)", "raw/s", "system/s", "system/raw", "lifecycles/raw"], rows)


def render_floor(floors: Mapping[str, Mapping], closed: Mapping | None) -> str:
    """The lifecycle's floor (devtools/bench_floor.py), each way it was measured, beside what the closed loop spent
    on the same parts: the floor's one process against the five services net of the bench's polls, and the same two
    servers (whose figures in the system still include what answering the polls cost them)."""
    system_cpu = (closed or {}).get("cpu") or {}
    pairs = [
        ("floor (this process)", "five services", "net_ms_per_lifecycle"),
        ("postgres (whole server)", "postgres (whole server)", "ms_per_lifecycle"),
        ("rabbitmq (whole node)", "rabbitmq (whole node)", "ms_per_lifecycle"),
    ]
    rows, system_total = [], 0.0
    for name, system_name, column in pairs:
        spent = (system_cpu.get(system_name) or {}).get(column)
        system_total = None if spent is None or system_total is None else system_total + spent
        label = name if name == system_name else f"{name} / {system_name}"
        rows.append(
            [label, *(fmt((f.get("cpu_ms_per_lifecycle") or {}).get(name)) for f in floors.values()), fmt(spent)]
        )
    rows.append(["total", *(fmt(f.get("total_ms_per_lifecycle")) for f in floors.values()), fmt(system_total)])
    rows.append(["lifecycles/s measured", *(fmt(f.get("lifecycles_per_s")) for f in floors.values()), "-"])
    rows.append(
        ["at this cost: cores × 1000 / total", *(fmt(f.get("bound_lifecycles_per_s"), 0) for f in floors.values()), "-"]
    )
    rows.append(
        [
            "at this cost, were the services free",
            *(fmt(f.get("servers_bound_lifecycles_per_s"), 0) for f in floors.values()),
            "-",
        ]
    )
    first = next(iter(floors.values()), {})
    title = (
        f"LIFECYCLE FLOOR: {first.get('events')} events, {first.get('deliveries')} deliveries on the services' queues,"
        f" with outbox, confirms, quorum queues and inbox, nothing else ({first.get('clients')} clients,"
        f" {fmt(first.get('seconds'))} s each)"
    )
    return render_table(["CPU ms per lifecycle", *floors, "system"], rows, title=title)


# --------------------------------------------------------------------------- a scenario's figures


def latency_summary(lifecycles: Iterable) -> dict[str, dict]:
    """Per step its HTTP call and its propagation wait (every lifecycle that got that far), and end to end (the
    sealed ones), from objects with `http` and `wait` ({step: seconds}), `sealed` and `end_to_end`."""
    samples: dict[str, list[float]] = {f"{s}.{part}": [] for s in STEPS for part in ("http", "wait")}
    samples["end_to_end"] = []
    for lc in lifecycles:
        for step, seconds in lc.http.items():
            samples[f"{step}.http"].append(seconds)
        for step, seconds in lc.wait.items():
            samples[f"{step}.wait"].append(seconds)
        if lc.sealed:
            samples["end_to_end"].append(lc.end_to_end)
    return {key: summarize(values) for key, values in samples.items()}


def delta(before: Mapping[str, int], after: Mapping[str, int]) -> dict[str, int]:
    return {key: after.get(key, 0) - before.get(key, 0) for key in after}


def poll_ms(requests: Mapping[tuple[str, str], int], cost: Mapping[str, Mapping[str, float]]) -> dict[str, float]:
    """Estimated CPU ms the waits' polls cost each service: answers 200 and 404 counted apart, each times what one
    such GET cost that service when calibrated alone."""
    out: dict[str, float] = {}
    for (service, kind), n in requests.items():
        if kind.startswith("poll-") and service in cost and kind in cost[service]:
            out[service] = out.get(service, 0.0) + n * cost[service][kind]
    return out


def cpu_figures(
    before: Mapping[str, int],
    after: Mapping[str, int],
    *,
    clock_ticks: int,
    window_s: float,
    lifecycles: int,
    polls: Mapping[str, float] | None = None,
) -> dict[str, dict]:
    """Per watched process: CPU ms per lifecycle, share of one core over the window, and with `polls` (estimated ms
    per service over the window) what of it the bench's polls cost and what is left ("net").

    A "five services" line sums the services (names in SERVICES) the same way."""
    priced = polls is not None
    polls = polls or {}
    out: dict[str, dict] = {}
    total_ms = total_poll = 0.0
    for name in after:
        ms = cpu_ms(before[name], after[name], clock_ticks)
        row = {
            "cpu_ms": round(ms, 1),
            "ms_per_lifecycle": per_unit(ms, lifecycles),
            "cores": per_unit(ms, window_s * 1000),
        }
        if name in SERVICES:
            poll = polls.get(name, 0.0)
            row["poll_ms_per_lifecycle"] = per_unit(poll, lifecycles) if priced else None
            row["net_ms_per_lifecycle"] = per_unit(ms - poll, lifecycles) if priced else None
            total_ms += ms
            total_poll += poll
        out[name] = row
    out["five services"] = {
        "cpu_ms": round(total_ms, 1),
        "ms_per_lifecycle": per_unit(total_ms, lifecycles),
        "poll_ms_per_lifecycle": per_unit(total_poll, lifecycles) if priced else None,
        "net_ms_per_lifecycle": per_unit(total_ms - total_poll, lifecycles) if priced else None,
        "cores": per_unit(total_ms, window_s * 1000),
    }
    return out


def render_report(results: Mapping) -> str:
    """The whole printout: what ran where, the raw ceilings and each scenario."""
    m = results["machine"]
    c = results["config"]
    lines = [
        f"make bench — {results['started_at']}  commit {results.get('commit') or '?'}",
        f"machine: {m['cores']} cores ({m['cpu']}), {m['memory_gb']} GB; load average at start {m['loadavg']}",
        "postgresql: " + ", ".join(f"{k} {v}" for k, v in (m.get("postgres") or {}).items()),
        f"closed loop: {c['clients']} clients, {c['closed_seconds']:g} s after {c['warmup_seconds']:g} s warm-up;"
        f" open loop: {c['open_rate']:g} demands/s for {c['open_seconds']:g} s;"
        f" polls after {c['poll_interval'] * 1000:g} ms, then ×{c.get('poll_backoff', 1):g} up to"
        f" {c.get('poll_max', c['poll_interval']) * 1000:g} ms",
    ]
    parts = ["\n".join(lines)]
    closed = results.get("closed_loop")
    parts.append(render_ceilings(results.get("ceilings") or {}, closed))
    if results.get("floor"):
        parts.append(render_floor(results["floor"], closed))
    if closed:
        parts.append(render_scenario("CLOSED LOOP", closed))
    if results.get("open_loop"):
        parts.append(render_scenario("OPEN LOOP", results["open_loop"]))
    cost = results.get("poll_cost_ms") or {}
    if cost:
        priced = ", ".join(
            f"{service} {c.get('poll-found', 0):.2f}/{c.get('poll-absent', 0):.2f}" for service, c in cost.items()
        )
        parts.append(f"poll cost, CPU ms per GET answered 200/404: {priced}")
    parts.append(
        "CPU ms/lc: CPU time of the process (and its children) over the window per lifecycle sealed in it; polls: of"
        " that, what the bench's waiting GETs cost (estimated from a calibration); net = the rest. CPU %: of one"
        " core. postgres/rabbitmq: the whole server, shared with anything else running on the machine. ×N: a service"
        " run as N replicas (--replicas), CPU summed over them, RSS the largest one's."
    )
    return "\n\n".join(parts) + "\n"
