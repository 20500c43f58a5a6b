#!/usr/bin/env python3
"""One RabbitMQ user per service, allowed only the two shared exchanges and its own queues.

Run by the one-shot `rabbitmq-setup` service of docker-compose.yml (python3 of the
rabbitmq:*-management image, standard library only) against the management HTTP API,
as the broker's administrator. Idempotent: every run (re)sets each user's password
from the environment, so rotating one is: change it in .env, `docker compose up -d`.

    user qs_<service>, password <SERVICE>_RABBITMQ_PASSWORD, no tags (no management UI)
    configure = write = read = ^(demand\\.events|demand\\.dead-letter|<service>\\..*)$

A service declares the topic exchange demand.events and the direct exchange
demand.dead-letter, its queues <service>.demand.<event> and their DLQs
<service>.demand.<event>.dlq, binds them and publishes to demand.events; it cannot
touch another service's queues. Passwords are read from the environment only and are
never printed.

Environment: RABBITMQ_API_URL (default http://rabbitmq:15672), RABBITMQ_ADMIN_USER,
RABBITMQ_ADMIN_PASSWORD, RABBITMQ_VHOST (default /), <SERVICE>_RABBITMQ_PASSWORD for
each service, RABBITMQ_SETUP_TIMEOUT seconds to wait for the API (default 120).
"""

import base64
import json
import os
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

SERVICES = ("intake", "dispatch", "tracking", "evaluation", "archive")


def user_name(service: str) -> str:
    return f"qs_{service}"


def password_variable(service: str) -> str:
    return f"{service.upper()}_RABBITMQ_PASSWORD"


def permission_pattern(service: str) -> str:
    """The exchanges every service uses, and the resources named after the service itself."""
    if not re.fullmatch(r"[a-z]+", service):
        raise ValueError(f"unexpected service name {service!r}")
    return rf"^(demand\.events|demand\.dead-letter|{service}\..*)$"


def permissions(service: str) -> dict[str, str]:
    pattern = permission_pattern(service)
    return {"configure": pattern, "write": pattern, "read": pattern}


class Api:
    def __init__(self, base_url: str, user: str, password: str) -> None:
        self.base_url = base_url.rstrip("/")
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        self.headers = {"Authorization": f"Basic {token}", "Content-Type": "application/json"}

    def request(self, method: str, path: str, body: dict | None = None) -> int:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base_url + path, data=data, method=method, headers=self.headers)
        with urllib.request.urlopen(req, timeout=10) as response:
            return response.status

    def wait(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.request("GET", "/api/overview")
                return
            except urllib.error.HTTPError:
                raise  # answering, but refusing the administrator: waiting will not help
            except OSError as exc:
                if time.monotonic() >= deadline:
                    raise SystemExit(f"rabbitmq-setup: management API not reachable: {exc}") from exc
                time.sleep(2)


def required(name: str) -> str:
    value = os.environ.get(name, "")
    if not value:
        raise SystemExit(f"rabbitmq-setup: set {name} (see deploy/.env.example)")
    return value


def main() -> int:
    passwords = {service: required(password_variable(service)) for service in SERVICES}
    api = Api(
        os.environ.get("RABBITMQ_API_URL", "http://rabbitmq:15672"),
        required("RABBITMQ_ADMIN_USER"),
        required("RABBITMQ_ADMIN_PASSWORD"),
    )
    vhost = urllib.parse.quote(os.environ.get("RABBITMQ_VHOST", "/"), safe="")
    api.wait(float(os.environ.get("RABBITMQ_SETUP_TIMEOUT", "120")))
    for service in SERVICES:
        user = urllib.parse.quote(user_name(service), safe="")
        api.request("PUT", f"/api/users/{user}", {"password": passwords[service], "tags": ""})
        api.request("PUT", f"/api/permissions/{vhost}/{user}", permissions(service))
        print(f"rabbitmq-setup: user {user_name(service)}: {permission_pattern(service)}", flush=True)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except urllib.error.HTTPError as exc:
        sys.exit(f"rabbitmq-setup: {exc.code} {exc.reason} for {exc.url}")
