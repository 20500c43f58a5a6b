"""Replicas for `make bench` (devtools/bench.py `--replicas tracking=2`): more processes of one service with the same
environment — the same database and vhost, so they are competing consumers on the same queues and share the work
of the outbox relay — each on an HTTP port of its own.

A process is named after its service; a further replica adds its number: `tracking`, `tracking#2`. The first
replica of each service keeps its port of devtools/bench_system.PORTS (8101–8105); further ones take ports from
REPLICA_PORT up, apart from both those and `make run`'s.
"""

import argparse
from collections.abc import Mapping

from shared.contracts.topology import SERVICES

REPLICA_PORT = 8111
MAX_REPLICAS = 8  # two cores: more would measure the scheduler, not the system


def parse(value: str) -> tuple[str, int]:
    """`SERVICE=N` (argparse type): ("tracking", 2) from "tracking=2"."""
    service, sep, count = value.partition("=")
    service = service.strip()
    if not sep or service not in SERVICES:
        raise argparse.ArgumentTypeError(f"expected SERVICE=N with SERVICE one of {', '.join(SERVICES)}: {value!r}")
    try:
        n = int(count)
    except ValueError:
        raise argparse.ArgumentTypeError(f"N must be a whole number: {value!r}") from None
    if not 1 <= n <= MAX_REPLICAS:
        raise argparse.ArgumentTypeError(f"N must be 1 to {MAX_REPLICAS}: {value!r}")
    return service, n


def counts(pairs: list[tuple[str, int]] | None) -> dict[str, int]:
    """Replicas per service from the parsed options, 1 where none is given; a service named twice is an error."""
    out = dict.fromkeys(SERVICES, 1)
    seen: set[str] = set()
    for service, n in pairs or []:
        if service in seen:
            raise ValueError(f"--replicas names {service} twice")
        seen.add(service)
        out[service] = n
    return out


def name(service: str, replica: int) -> str:
    return service if replica == 1 else f"{service}#{replica}"


def service_of(process: str) -> str:
    """The service a process name belongs to: "tracking" for "tracking#2"."""
    return process.partition("#")[0]


def instance_ports(first: Mapping[str, int], replicas: Mapping[str, int]) -> dict[str, int]:
    """Every process to start, name → HTTP port, in the order of `first` (each service's first replica's port),
    further replicas numbered from REPLICA_PORT up."""
    ports = dict(first)
    port = REPLICA_PORT
    for service in first:
        for replica in range(2, replicas.get(service, 1) + 1):
            ports[name(service, replica)] = port
            port += 1
    return ports
