"""A real Prometheus (Debian's `prometheus` package) scraping services that run on this machine.

`make run` starts one beside the services (devtools/run.py, at 127.0.0.1:9099); by hand, for services started
otherwise (`make prometheus`); the tests (tests/e2e/test_prometheus.py) start one for the five e2e services:

    python -m devtools.prometheus [--ports 8001,8002,8003,8004,8005] [--listen 127.0.0.1:9099]

In each case the config is generated in a temporary directory (data too, removed at the end): a static target per
service's /metrics (jobs named after the services, as deploy/prometheus/prometheus.yml names them), RabbitMQ's
per-object metrics where the rabbitmq_prometheus plugin answers, scrape and rule evaluation every second, and the
repository's own rule files (deploy/prometheus/rules/*.yml) by absolute path, so the recording and alert rules that
run are the ones under review.
"""

import argparse
import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import yaml

ROOT = Path(__file__).resolve().parents[1]
RULES = ROOT / "deploy" / "prometheus" / "rules"
SERVICE_ORDER = ("intake", "dispatch", "tracking", "evaluation", "archive")
RABBITMQ_METRICS = "127.0.0.1:15692"  # rabbitmq_prometheus, where enabled
# Not 9090: on Debian with systemd, installing the `prometheus` package starts prometheus.service there.
LISTEN = "127.0.0.1:9099"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def config(ports: dict[str, int], *, rabbitmq: str | None = RABBITMQ_METRICS, vhost: str | None = None) -> dict:
    """The scrape config: one static target per service; `vhost` keeps only that vhost's RabbitMQ queues (a test's
    own, not the other tests' on the same broker) and the broker-wide series that have no vhost label."""
    jobs = [
        {"job_name": name, "metrics_path": "/metrics", "static_configs": [{"targets": [f"127.0.0.1:{port}"]}]}
        for name, port in ports.items()
    ]
    if rabbitmq:
        job = {"job_name": "rabbitmq", "metrics_path": "/metrics/per-object"}
        job["static_configs"] = [{"targets": [rabbitmq]}]
        if vhost is not None:
            keep = {"source_labels": ["vhost"], "regex": f"{re.escape(vhost)}|", "action": "keep"}
            job["metric_relabel_configs"] = [keep]
        jobs.append(job)
    return {
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(RULES / "*.yml")],
        "scrape_configs": jobs,
    }


@dataclass
class Prometheus:
    url: str
    process: subprocess.Popen
    directory: Path

    def log(self) -> str:
        return (self.directory / "prometheus.log").read_text(errors="replace")

    def api(self, path: str, **params) -> dict:
        """GET /api/v1/<path>; fails unless Prometheus answers status "success"."""
        reply = httpx.get(f"{self.url}/api/v1/{path}", params=params, timeout=10)
        body = reply.json()
        assert body.get("status") == "success", f"{path} {params}: {reply.status_code} {body}"
        return body["data"]

    def answer(self, expr: str) -> dict:
        """Prometheus' whole reply to an instant query, an error included: {"status": ..., "data" or "error": ...}."""
        return httpx.get(f"{self.url}/api/v1/query", params={"query": expr}, timeout=10).json()

    def query(self, expr: str) -> list[dict]:
        """An instant query now: the result's series, each {"metric": {labels}, "value": [time, "text"]}."""
        data = self.api("query", query=expr)
        assert data["resultType"] in ("vector", "scalar"), data
        return data["result"] if data["resultType"] == "vector" else [{"metric": {}, "value": data["result"]}]

    def values(self, expr: str, *labels: str) -> dict:
        """The query's values by the given labels' values: {("210100",): 3.0} (a plain value with one label)."""
        out = {}
        for series in self.query(expr):
            key = tuple(series["metric"].get(label, "") for label in labels)
            out[key[0] if len(key) == 1 else key] = float(series["value"][1])
        return out

    def stop(self, grace: float = 10.0) -> None:
        """SIGTERM, then SIGKILL if it has not stopped after `grace` seconds."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(grace)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


MISSING = "prometheus is missing: run scripts/ensure-infra.sh (it installs Debian's prometheus package)"


def find() -> str | None:
    """The prometheus binary: PROMETHEUS_BIN if set (a path that may not exist), else on PATH or Debian's."""
    if configured := os.environ.get("PROMETHEUS_BIN"):
        return configured if os.access(configured, os.X_OK) else None
    return shutil.which("prometheus") or ("/usr/bin/prometheus" if os.path.exists("/usr/bin/prometheus") else None)


def binary() -> str:
    path = find()
    assert path, MISSING
    return path


def command(directory: Path, scrape: dict, listen: str) -> list[str]:
    """Write `scrape` (see `config`) into `directory`; the command line of a Prometheus that reads it, keeps its data
    there and answers at `listen`. Its log is the caller's to keep (`start` and devtools/run.py write
    `directory/prometheus.log`)."""
    (directory / "prometheus.yml").write_text(yaml.safe_dump(scrape, sort_keys=False), encoding="utf-8")
    return [
        binary(),
        f"--config.file={directory / 'prometheus.yml'}",
        f"--storage.tsdb.path={directory / 'data'}",
        f"--web.listen-address={listen}",
    ]


def start(directory: Path, scrape: dict, listen: str | None = None, timeout: float = 30.0) -> Prometheus:
    """Start Prometheus with `scrape` (see `config`) written into `directory`; return once /-/ready answers."""
    listen = listen or f"127.0.0.1:{free_port()}"
    argv = command(directory, scrape, listen)
    log = (directory / "prometheus.log").open("wb")
    process = subprocess.Popen(
        argv,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # a terminal's Ctrl-C goes to the caller, which stops it
    )
    log.close()
    prometheus = Prometheus(url=f"http://{listen}", process=process, directory=directory)
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"prometheus exited with {process.returncode}:\n{prometheus.log()[-3000:]}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{prometheus.url}/-/ready", timeout=2).status_code == 200:
                return prometheus
        if time.monotonic() > deadline:
            prometheus.stop()
            raise TimeoutError(f"prometheus not ready after {timeout}s:\n{prometheus.log()[-3000:]}")
        time.sleep(0.2)


@contextlib.contextmanager
def running(ports: dict[str, int], *, listen: str | None = None, **options) -> Iterator[Prometheus]:
    """A Prometheus scraping `ports` ({service: port}) for the duration of the block; its directory is removed."""
    with tempfile.TemporaryDirectory(prefix="qs-prometheus-") as directory:
        prometheus = start(Path(directory), config(ports, **options), listen)
        try:
            yield prometheus
        finally:
            prometheus.stop()


def main(argv: list[str] | None = None) -> None:
    from devtools.run import PORTS

    default = ",".join(os.environ.get(f"{s.upper()}_HTTP_PORT", str(PORTS[s])) for s in SERVICE_ORDER)
    parser = argparse.ArgumentParser(
        prog="python -m devtools.prometheus",
        description="Prometheus for services run on this machine, with the repository's rules (`make run` starts"
        " one itself unless run with --no-prometheus).",
    )
    parser.add_argument("--ports", default=default, help=f"the services' ports, in the order {','.join(SERVICE_ORDER)}")
    parser.add_argument("--listen", default=LISTEN, help="Prometheus' own address")
    parser.add_argument("--rabbitmq", default=RABBITMQ_METRICS, help="rabbitmq_prometheus' address ('' for none)")
    args = parser.parse_args(argv)
    ports = dict(zip(SERVICE_ORDER, (int(p) for p in args.ports.split(",")), strict=True))
    # Ctrl-C, or SIGTERM from a process manager, stops Prometheus and removes its directory (even when started in the
    # background, where a shell leaves SIGINT ignored).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    with running(ports, listen=args.listen, rabbitmq=args.rabbitmq or None) as prometheus:
        print(f"Prometheus at {prometheus.url} (config and data in {prometheus.directory})", flush=True)
        print("Ctrl-C stops it.", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            prometheus.process.wait()
            print(f"prometheus exited with {prometheus.process.returncode}:\n{prometheus.log()[-3000:]}")


if __name__ == "__main__":
    main()
