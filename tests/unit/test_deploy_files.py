"""The deployment files, checked offline (no Docker engine runs on the development machines).

docker-compose.yml is validated against the Compose specification schema vendored by
check-jsonschema (no network), and cross-checked against the services' and the console's own
settings, deploy/prometheus/prometheus.yml, the PostgreSQL init script (run with a stand-in psql),
the RabbitMQ setup script (run against a stand-in management API), deploy/Dockerfile (its stages
parsed, its package-data check run against setuptools' build of the packages) and .dockerignore.
"""

import base64
import copy
import http.server
import importlib
import importlib.resources
import importlib.util
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import threading
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit

import httpx
import jsonschema
import pytest
import yaml
from pydantic import ValidationError

from shared.contracts import EVENT_TYPES, dead_letter_queue_name, queue_name
from shared.contracts.topology import DEAD_LETTER_EXCHANGE, EXCHANGE

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "deploy" / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
PROMETHEUS = ROOT / "deploy" / "prometheus" / "prometheus.yml"
GRAFANA_DATASOURCE = ROOT / "deploy" / "grafana" / "provisioning" / "datasources" / "prometheus.yml"
RABBITMQ_PLUGINS = ROOT / "deploy" / "rabbitmq" / "enabled_plugins"
POSTGRES_INIT = ROOT / "deploy" / "postgres" / "init-databases.sh"
RABBITMQ_SETUP = ROOT / "deploy" / "rabbitmq" / "setup-users.py"
ENV_EXAMPLE = ROOT / "deploy" / ".env.example"
PACKAGE_JSON = ROOT / "package.json"
PACKAGE_LOCK = ROOT / "package-lock.json"

SERVICES = {"intake": 8001, "dispatch": 8002, "tracking": 8003, "evaluation": 8004, "archive": 8005}
CONSOLE_PORT = 8000


def service_secrets(name: str) -> tuple[str, str, str]:
    """The passwords of one service: its database owner, its database app role, its broker user."""
    upper = name.upper()
    return (f"{upper}_DB_OWNER_PASSWORD", f"{upper}_DB_APP_PASSWORD", f"{upper}_RABBITMQ_PASSWORD")


ADMIN_SECRETS = ("POSTGRES_PASSWORD", "RABBITMQ_ADMIN_PASSWORD", "GRAFANA_ADMIN_PASSWORD", "INTAKE_STATUS_LINK_SECRET")
# The console's: the key of its session cookie, and its client secret at the identity provider.
CONSOLE_SECRETS = ("CONSOLE_SESSION_SECRET", "CONSOLE_OIDC_CLIENT_SECRET")
SECRETS = ADMIN_SECRETS + CONSOLE_SECRETS + tuple(var for name in SERVICES for var in service_secrets(name))
# At least 32 characters, as the console's production settings require of the session secret.
FAKE_SECRETS = {name: f"fake-{name.lower().replace('_', '-')}-x1".ljust(32, "0") for name in SECRETS}
# Required, not secret, and without a sensible default: compose refuses to start without them.
REQUIRED = {
    "AUTH_JWKS_URL": "https://id.example.test/realms/quality/protocol/openid-connect/certs",
    "AUTH_ISSUER": "https://id.example.test/realms/quality",
    "EVALUATION_PUBLIC_URL": "https://quality.example.test/evaluation",
    "INTAKE_PUBLIC_URL": "https://quality.example.test/intake",
    "CONSOLE_PUBLIC_URL": "https://quality.example.test",
    "CONSOLE_OIDC_CLIENT_ID": "quality-console",
}


# --- helpers ---------------------------------------------------------------------------------


def load_yaml(path: Path) -> dict:
    with path.open(encoding="utf-8") as f:
        return yaml.safe_load(f)


@pytest.fixture(scope="module")
def compose() -> dict:
    return load_yaml(COMPOSE)


@pytest.fixture(scope="module")
def prometheus() -> dict:
    return load_yaml(PROMETHEUS)


def compose_schema() -> dict:
    resource = importlib.resources.files("check_jsonschema.builtin_schemas.vendor").joinpath("compose-spec.json")
    return json.loads(resource.read_text(encoding="utf-8"))


def schema_errors(document: dict) -> list[str]:
    schema = compose_schema()
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    validator = validator_class(schema)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(document)]


def check_jsonschema_cli(path: Path) -> subprocess.CompletedProcess:
    """The check-jsonschema CLI with its vendored (offline) compose schema."""
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


_INTERPOLATION = re.compile(
    r"\$(?:(?P<escaped>\$)"
    r"|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}"
    r"|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))"
)


class MissingVariable(Exception):
    pass


def interpolate(value, env: dict[str, str]):
    """Compose's variable interpolation (${VAR}, ${VAR:-default}, ${VAR:?error}, $$) on parsed values."""
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def replace(m: re.Match) -> str:
        if m["escaped"]:
            return "$"
        name = m["braced"] or m["bare"]
        op, arg = m["op"], m["arg"]
        current = env.get(name)
        missing = current is None or (current == "" and op is not None and op.startswith(":"))
        if op in ("-", ":-"):
            return arg if missing else current
        if op in ("?", ":?"):
            if missing:
                raise MissingVariable(f"{name}: {arg}")
            return current
        return current or ""

    return _INTERPOLATION.sub(replace, value)


def strings(value):
    """Every string in a parsed document (keys and values); comments are not part of it."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from strings(k)
            yield from strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from strings(v)
    elif isinstance(value, str):
        yield value


def referenced_variables(document) -> set[str]:
    matches = (m for text in strings(document) for m in _INTERPOLATION.finditer(text))
    return {m["braced"] or m["bare"] for m in matches if not m["escaped"]}


def env_example() -> dict[str, str]:
    values = {}
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def service_environment(compose: dict, name: str, env: dict[str, str]) -> dict[str, str]:
    environment = compose["services"][name]["environment"]
    if isinstance(environment, list):
        environment = dict(item.split("=", 1) for item in environment)
    return {k: str(v) for k, v in interpolate(environment, env).items()}


def scrape_targets(prometheus: dict) -> dict[str, set[str]]:
    """job_name -> {"host:port", ...} from static and DNS service discovery."""
    jobs: dict[str, set[str]] = {}
    for job in prometheus["scrape_configs"]:
        targets = jobs.setdefault(job["job_name"], set())
        for static in job.get("static_configs", []):
            targets.update(static["targets"])
        for dns in job.get("dns_sd_configs", []):
            assert dns.get("type", "SRV") == "A", "A records carry no port; SRV is not what compose serves"
            targets.update(f"{name}:{dns['port']}" for name in dns["names"])
    return jobs


def resolved_env() -> dict[str, str]:
    return {**env_example(), **FAKE_SECRETS, **REQUIRED}


def rabbitmq_setup_module():
    spec = importlib.util.spec_from_file_location("rabbitmq_setup_users", RABBITMQ_SETUP)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def one_shot(service: dict) -> bool:
    return service.get("restart") == "no"


class Stage:
    """One stage of deploy/Dockerfile: its base image (build arguments resolved), name and instructions."""

    def __init__(self, image: str, name: str | None) -> None:
        self.image, self.name, self.instructions = image, name, []

    def lines(self, keyword: str) -> list[str]:
        return [i.split(None, 1)[1] for i in self.instructions if i.split(None, 1)[0].upper() == keyword]

    def env(self) -> dict[str, str]:
        """ENV key=value pairs (values without spaces or quotes, as this Dockerfile writes them)."""
        return dict(pair.split("=", 1) for line in self.lines("ENV") for pair in line.split())


def dockerfile_instructions() -> list[str]:
    """The instructions, as the builder reads them: comment lines dropped, continuation lines joined."""
    lines = [line for line in DOCKERFILE.read_text(encoding="utf-8").splitlines() if not line.lstrip().startswith("#")]
    return [i.strip() for i in re.sub(r"\\\n", "", "\n".join(lines)).splitlines() if i.strip()]


def dockerfile_stages() -> list[Stage]:
    args: dict[str, str] = {}
    stages: list[Stage] = []
    for instruction in dockerfile_instructions():
        keyword, _, rest = instruction.partition(" ")
        if keyword.upper() == "ARG" and not stages:  # global build arguments: usable in FROM
            name, _, default = rest.partition("=")
            args[name] = default
        elif keyword.upper() == "FROM":
            words = rest.split()
            image = re.sub(r"\$\{(\w+)\}", lambda m: args[m[1]], words[0])
            stages.append(Stage(image, words[2] if len(words) > 2 and words[1].upper() == "AS" else None))
        elif stages:
            stages[-1].instructions.append(instruction)
    return stages


def copy_arguments(line: str) -> tuple[dict[str, str], list[str], str]:
    """COPY's --flags, sources and destination."""
    words = line.split()
    flags = dict(w[2:].partition("=")[::2] for w in words if w.startswith("--"))
    paths = [w for w in words if not w.startswith("--")]
    return flags, paths[:-1], paths[-1]


def _dockerignore_regex(pattern: str) -> re.Pattern:
    """A .dockerignore pattern (Go filepath.Match plus **) as a regex; a matched directory takes its contents."""
    out, i = "", 0
    pattern = pattern.strip("/")
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        elif pattern[i] == "[":
            end = pattern.index("]", i)
            out, i = out + pattern[i : end + 1], end + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out + "(?:/.*)?")


def dockerignored(path: str) -> bool:
    """Whether .dockerignore keeps `path` (relative to the context) out of the build context; the last match wins."""
    ignored = False
    for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        exception = line.startswith("!")
        if _dockerignore_regex(line.removeprefix("!")).fullmatch(path):
            ignored = not exception
    return ignored


# --- (a) the Compose specification --------------------------------------------------------


def test_compose_file_is_valid_against_the_compose_specification(compose):
    assert schema_errors(compose) == []


BROKEN = {
    "misspelt service key": lambda d: d["services"]["intake"].update(healthcheks={"test": ["CMD", "true"]}),
    "unknown depends_on condition": lambda d: d["services"]["dispatch"]["depends_on"]["rabbitmq"].update(
        condition="service_healty"
    ),
    "ports as a mapping": lambda d: d["services"]["tracking"].update(ports={"8003": 8003}),
    "healthcheck with an unknown field": lambda d: d["services"]["archive"]["healthcheck"].update(every="15s"),
    "unknown top-level key": lambda d: d.update(service={"x": {"image": "busybox"}}),
    "console waiting on an unknown condition": lambda d: d["services"]["console"]["depends_on"]["intake"].update(
        condition="service_ready"
    ),
}


@pytest.mark.parametrize("breakage", list(BROKEN), ids=list(BROKEN))
def test_the_schema_check_rejects_a_broken_compose_file(compose, breakage):
    broken = copy.deepcopy(compose)
    BROKEN[breakage](broken)
    assert schema_errors(broken), f"a compose file with a {breakage} passed the schema"


def test_check_jsonschema_cli_offline_accepts_the_file_and_rejects_a_broken_copy(compose, tmp_path):
    ok = check_jsonschema_cli(COMPOSE)
    assert ok.returncode == 0, ok.stdout + ok.stderr

    broken = copy.deepcopy(compose)
    BROKEN["misspelt service key"](broken)
    broken_path = tmp_path / "docker-compose.yml"
    broken_path.write_text(yaml.safe_dump(broken, sort_keys=False), encoding="utf-8")
    failed = check_jsonschema_cli(broken_path)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "healthcheks" in failed.stdout + failed.stderr


# --- (b) the five services --------------------------------------------------------------------


@pytest.mark.parametrize("name", list(SERVICES))
def test_service_is_built_from_the_one_image_and_runs_its_own_module(compose, name):
    service = compose["services"][name]
    build = service["build"]
    assert build["context"] == "."
    assert build["dockerfile"] == "deploy/Dockerfile"
    assert (ROOT / build["context"] / build["dockerfile"]).is_file()
    assert service["command"] == ["python", "-m", f"services.{name}"]
    assert (ROOT / "services" / name / "__main__.py").is_file()
    assert service["restart"] == "unless-stopped"
    assert "container_name" not in service, "a fixed container name prevents scaling out"
    for port in service.get("ports", []):
        host, _, _container = str(port).rpartition(":")
        assert host.endswith(":") or host == "", f"{name} publishes a fixed host port ({port}); it could not scale"


@pytest.mark.parametrize("name", list(SERVICES))
def test_service_waits_for_a_healthy_broker_and_database(compose, name):
    depends_on = compose["services"][name]["depends_on"]
    assert depends_on["rabbitmq"]["condition"] == "service_healthy"
    assert depends_on["rabbitmq-setup"]["condition"] == "service_completed_successfully", "its broker user"
    assert depends_on["postgres"]["condition"] == "service_healthy"
    assert compose["services"]["rabbitmq"]["healthcheck"]["test"]
    assert "rabbitmq-diagnostics" in " ".join(compose["services"]["rabbitmq"]["healthcheck"]["test"])
    assert "pg_isready" in " ".join(compose["services"]["postgres"]["healthcheck"]["test"])


@pytest.mark.parametrize("name", list(SERVICES))
def test_service_healthcheck_asks_readyz_on_its_own_port(compose, name):
    healthcheck = compose["services"][name]["healthcheck"]
    test = healthcheck["test"]
    assert test[0] == "CMD"
    assert test[1:3] == ["python", "-c"]
    compile(test[3], f"<{name} healthcheck>", "exec")  # the one-liner is valid Python
    assert "urllib.request.urlopen" in test[3]
    assert f"http://127.0.0.1:{SERVICES[name]}/readyz" in test[3]
    assert healthcheck.get("start_period"), "migrations run at start; give the service time"


@pytest.mark.parametrize("name", list(SERVICES))
def test_service_environment_configures_its_settings(compose, name, monkeypatch):
    """Every variable is a real setting (a typo would be silently ignored: extra="ignore")."""
    env = service_environment(compose, name, resolved_env())
    prefix = f"{name.upper()}_"
    settings_class = importlib.import_module(f"services.{name}.settings").Settings
    assert settings_class.model_config["env_prefix"] == prefix
    for key in env:
        assert key.startswith(prefix), f"{name}: {key} lacks the {prefix} prefix"
        assert key.removeprefix(prefix).lower() in settings_class.model_fields, f"{name}: {key} is no setting"

    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings = settings_class()  # production mode validates: it refuses the development signing key
    assert settings.service_name == name
    assert settings.environment == "production"
    assert settings.http_host == "0.0.0.0"
    assert settings.http_port == SERVICES[name]

    # Tokens: RS256 from the identity provider, never the development key.
    assert settings.auth_jwks_url == REQUIRED["AUTH_JWKS_URL"]
    assert settings.auth_issuer == REQUIRED["AUTH_ISSUER"]
    assert settings.auth_audience == "quality-stations"
    monkeypatch.delenv(f"{prefix}AUTH_JWKS_URL")
    with pytest.raises(ValidationError, match="development signing key"):
        settings_class()  # so the JWKS URL is what lets production start
    monkeypatch.setenv(f"{prefix}AUTH_JWKS_URL", env[f"{prefix}AUTH_JWKS_URL"])

    owner_password, app_password, broker_password = service_secrets(name)
    default_db = urlsplit(settings_class.model_fields["database_url"].default)
    db = urlsplit(settings.database_url)
    assert (db.scheme, db.hostname, db.port, db.path) == ("postgresql", "postgres", 5432, f"/qs_{name}")
    assert db.path == default_db.path
    assert db.username == f"qs_{name}", "migrations run as the service's own owner role, not the superuser"
    assert db.password == FAKE_SECRETS[owner_password]

    app = urlsplit(settings.resolved_app_database_url)
    assert (app.scheme, app.hostname, app.port, app.path) == ("postgresql", "postgres", 5432, f"/qs_{name}")
    assert app.username == settings.app_role == f"qs_{name}_app"
    assert app.password == FAKE_SECRETS[app_password]

    amqp = urlsplit(settings.amqp_url)
    assert (amqp.scheme, amqp.hostname, amqp.port) == ("amqp", "rabbitmq", 5672)
    assert amqp.username == rabbitmq_setup_module().user_name(name)
    assert amqp.password == FAKE_SECRETS[broker_password]

    if name == "intake":
        assert settings.public_url == REQUIRED["INTAKE_PUBLIC_URL"]
        assert settings.status_link_secret == FAKE_SECRETS["INTAKE_STATUS_LINK_SECRET"]
    if name == "evaluation":
        assert settings.public_url == REQUIRED["EVALUATION_PUBLIC_URL"]
        assert settings.rate_limit_storage == "memory://"


@pytest.mark.parametrize("name", list(SERVICES))
def test_service_gets_only_its_own_credentials(compose, name):
    """No superuser, no administrator, no other service's role or user."""
    referenced = referenced_variables(compose["services"][name]["environment"])
    secrets = {var for var in referenced if "PASSWORD" in var}
    assert secrets == set(service_secrets(name))

    env = service_environment(compose, name, resolved_env())
    users = {urlsplit(url).username for key, url in env.items() if key.endswith("_URL") and "@" in url}
    assert users == {f"qs_{name}", f"qs_{name}_app"}
    others = {f"qs_{other}" for other in SERVICES if other != name}
    assert not users & (others | {f"{o}_app" for o in others} | {"postgres", "quality", "guest"})


# --- the console (工作台) ----------------------------------------------------------------------


def test_console_is_built_from_the_one_image_and_runs_its_module(compose):
    console = compose["services"]["console"]
    assert (
        console["build"]
        == compose["services"]["intake"]["build"]
        == {
            "context": ".",
            "dockerfile": "deploy/Dockerfile",
        }
    )
    assert console["command"] == ["python", "-m", "services.console"]
    assert (ROOT / "services" / "console" / "__main__.py").is_file()
    assert console["restart"] == "unless-stopped"
    assert console["networks"] == ["backend"]
    assert "container_name" not in console, "a fixed container name prevents scaling out"
    assert console["ports"] == [f"127.0.0.1::{CONSOLE_PORT}"], "loopback only, an ephemeral host port (like the others)"


def test_console_starts_once_the_five_services_are_healthy(compose):
    console = compose["services"]["console"]
    assert console["depends_on"] == {name: {"condition": "service_healthy"} for name in SERVICES}
    for name in SERVICES:
        assert compose["services"][name]["healthcheck"]["test"], f"{name} has no healthcheck to wait for"


def test_console_healthcheck_asks_readyz_on_its_port(compose):
    healthcheck = compose["services"]["console"]["healthcheck"]
    test = healthcheck["test"]
    assert test[:3] == ["CMD", "python", "-c"]
    compile(test[3], "<console healthcheck>", "exec")
    assert "urllib.request.urlopen" in test[3]
    assert f"http://127.0.0.1:{CONSOLE_PORT}/readyz" in test[3]
    assert healthcheck.get("start_period") and healthcheck.get("interval")


async def test_console_answers_readyz_and_metrics():
    """What the healthcheck and Prometheus ask of it, in process."""
    from services.console.app import create_app
    from services.console.settings import Settings

    app = create_app(Settings())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://console") as client:
        ready = await client.get("/readyz")
        assert ready.status_code == 200
        assert ready.json()["status"] == "ready"
        scraped = await client.get("/metrics")
    assert scraped.status_code == 200
    assert scraped.headers["content-type"].startswith("text/plain")
    # The same HTTP histogram as the services (the 5xx alert and the latency panels take it by job).
    assert 'qs_http_request_seconds_count{method="GET",route="/readyz",status="200"} 1.0' in scraped.text
    assert "process_resident_memory_bytes" in scraped.text or sys.platform != "linux"


def test_console_environment_configures_its_settings(compose, monkeypatch):
    """Every variable is a real setting (extra="ignore" would hide a typo); production starts with them."""
    from services.console.settings import Settings

    env = service_environment(compose, "console", resolved_env())
    assert Settings.model_config["env_prefix"] == "CONSOLE_"
    for key in env:
        assert key.startswith("CONSOLE_"), f"console: {key} lacks the CONSOLE_ prefix"
        assert key.removeprefix("CONSOLE_").lower() in Settings.model_fields, f"console: {key} is no setting"
    assert "CONSOLE_NODE_MODULES" not in env, "the image says where it put htmx (deploy/Dockerfile)"

    for key in [k for k in os.environ if k.startswith("CONSOLE_")]:
        monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings = Settings()
    assert settings.service_name == "console"
    assert settings.production
    assert settings.http_host == "0.0.0.0"
    assert settings.http_port == CONSOLE_PORT

    # The five services by their compose names, on the ports they are told to listen on.
    for name, port in SERVICES.items():
        assert name in compose["services"]
        assert service_environment(compose, name, resolved_env())[f"{name.upper()}_HTTP_PORT"] == str(port)
        assert settings.service_url(name) == f"http://{name}:{port}"

    # Sign-in at the identity provider whose access tokens the services verify, nothing minted by the console.
    assert settings.oidc_configured
    assert str(settings.oidc_issuer).rstrip("/") == REQUIRED["AUTH_ISSUER"]
    assert settings.oidc_client_id == REQUIRED["CONSOLE_OIDC_CLIENT_ID"]
    assert settings.oidc_client_secret == FAKE_SECRETS["CONSOLE_OIDC_CLIENT_SECRET"]
    assert "openid" in settings.oidc_scope.split()
    service = service_environment(compose, "intake", resolved_env())
    assert settings.auth_issuer == service["INTAKE_AUTH_ISSUER"] == REQUIRED["AUTH_ISSUER"]
    assert settings.auth_audience == service["INTAKE_AUTH_AUDIENCE"]
    assert str(settings.public_url).rstrip("/") == REQUIRED["CONSOLE_PUBLIC_URL"]
    assert settings.session_secret == FAKE_SECRETS["CONSOLE_SESSION_SECRET"]

    # Production refuses the development session secret and a short one: so the variable is what lets it start.
    monkeypatch.delenv("CONSOLE_SESSION_SECRET")
    with pytest.raises(ValidationError, match="development session secret"):
        Settings()
    monkeypatch.setenv("CONSOLE_SESSION_SECRET", "too-short-for-production")
    with pytest.raises(ValidationError, match="at least 32 characters"):
        Settings()


def test_console_secrets_are_required_and_it_gets_no_service_credentials(compose):
    environment = compose["services"]["console"]["environment"]
    for secret in CONSOLE_SECRETS:
        assert re.fullmatch(rf"\$\{{{secret}:\?[^}}]+\}}", environment[secret]), f"{secret} = {environment[secret]!r}"
    referenced = referenced_variables(environment)
    assert {var for var in referenced if "SECRET" in var or "PASSWORD" in var} == set(CONSOLE_SECRETS)
    env = service_environment(compose, "console", resolved_env())
    assert not any("@" in value for value in env.values()), "no database or broker URL with credentials"
    assert not any(secret in env.values() for name, secret in FAKE_SECRETS.items() if name not in CONSOLE_SECRETS)


FAKE_PSQL = """#!{python}
import json, os, sys
with open(os.environ["PSQL_LOG"], "a", encoding="utf-8") as log:
    log.write(json.dumps({{"argv": sys.argv[1:], "sql": sys.stdin.read()}}) + "\\n")
"""


def run_postgres_init(tmp_path: Path, env: dict[str, str]) -> tuple[subprocess.CompletedProcess, list[dict]]:
    """The init script with a stand-in psql that records its arguments and the SQL it is given."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    psql = bin_dir / "psql"
    psql.write_text(FAKE_PSQL.format(python=sys.executable), encoding="utf-8")
    psql.chmod(0o755)
    log = tmp_path / "psql.log"
    log.unlink(missing_ok=True)
    run_env = {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "PSQL_LOG": str(log), **env}
    done = subprocess.run(
        ["bash", str(POSTGRES_INIT)], env=run_env, capture_output=True, text=True, timeout=60, check=False
    )
    calls = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()] if log.exists() else []
    return done, calls


def psql_variables(argv: list[str]) -> dict[str, str]:
    return dict(argv[i + 1].split("=", 1) for i, arg in enumerate(argv) if arg == "-v")


def test_postgres_init_script_creates_an_owner_and_an_app_role_per_service(tmp_path):
    env = {"POSTGRES_USER": "quality", **FAKE_SECRETS}
    done, calls = run_postgres_init(tmp_path, env)
    assert done.returncode == 0, done.stderr

    assert [psql_variables(c["argv"])["db"] for c in calls] == [f"qs_{name}" for name in SERVICES]
    for name, call in zip(SERVICES, calls, strict=True):
        variables = psql_variables(call["argv"])
        owner_env, app_env, _ = service_secrets(name)
        assert variables == {
            "ON_ERROR_STOP": "1",
            "db": f"qs_{name}",
            "owner": f"qs_{name}",
            "app": f"qs_{name}_app",
            "owner_env": owner_env,
            "app_env": app_env,
        }
        assert call["argv"][call["argv"].index("--username") + 1] == "quality"
        # Passwords come from the environment inside psql, never over the command line.
        assert not any(secret in " ".join(call["argv"]) for secret in FAKE_SECRETS.values())
        statements = [line.strip() for line in call["sql"].splitlines() if not line.strip().startswith("--")]
        sql = "\n".join(statements)
        assert "\\getenv owner_password :owner_env" in statements and "\\getenv app_password :app_env" in statements

        # Both roles log in, and neither is a superuser, creates roles or databases, or bypasses RLS.
        altered = re.findall(r"ALTER ROLE %I ([A-Z ]+) PASSWORD %L',\s*:'(\w+)', :'(\w+)'\)", sql)
        assert {(role, password) for _attrs, role, password in altered} == {
            ("owner", "owner_password"),
            ("app", "app_password"),
        }
        for attributes, _role, _password in altered:
            assert {"LOGIN", "NOSUPERUSER", "NOCREATEDB", "NOCREATEROLE", "NOBYPASSRLS"} <= set(attributes.split())
        assert re.search(r"CREATE DATABASE %I OWNER %I', :'db', :'owner'", sql)
        assert 'ALTER DATABASE :"db" OWNER TO :"owner";' in statements
        assert 'REVOKE ALL ON DATABASE :"db" FROM PUBLIC;' in statements, "other services must not connect"
        assert not re.search(r"(?<!NO)(SUPERUSER|BYPASSRLS|CREATEROLE)", sql)


@pytest.mark.parametrize("missing", ["INTAKE_DB_OWNER_PASSWORD", "ARCHIVE_DB_APP_PASSWORD"])
def test_postgres_init_script_refuses_a_missing_password(tmp_path, missing):
    env = {"POSTGRES_USER": "quality", **{k: v for k, v in FAKE_SECRETS.items() if k != missing}}
    done, calls = run_postgres_init(tmp_path, env)
    assert done.returncode != 0
    assert missing in done.stderr
    assert all(psql_variables(c["argv"])["db"] != f"qs_{missing.split('_')[0].lower()}" for c in calls)


def test_postgres_runs_the_init_script_with_the_role_passwords(compose):
    postgres = compose["services"]["postgres"]
    mounts = postgres["volumes"]
    assert "./deploy/postgres/init-databases.sh:/docker-entrypoint-initdb.d/10-init-databases.sh:ro" in mounts
    assert any(m.split(":")[1] == "/var/lib/postgresql/data" for m in mounts), "the database needs a volume"
    assert POSTGRES_INIT.stat().st_mode & stat.S_IXUSR, "executable, so the entrypoint runs it rather than sources it"
    env = service_environment(compose, "postgres", resolved_env())
    for name in SERVICES:
        owner_env, app_env, _ = service_secrets(name)
        assert env[owner_env] == FAKE_SECRETS[owner_env]
        assert env[app_env] == FAKE_SECRETS[app_env]
    assert env["POSTGRES_PASSWORD"] == FAKE_SECRETS["POSTGRES_PASSWORD"]


# --- RabbitMQ: one user per service ----------------------------------------------------------


def other_services_queues(name: str) -> list[str]:
    queues = [queue_name(other, event) for other in SERVICES if other != name for event in EVENT_TYPES.values()]
    return queues + [dead_letter_queue_name(q) for q in queues]


@pytest.mark.parametrize("name", list(SERVICES))
def test_rabbitmq_permissions_cover_the_services_own_queues_and_nothing_else(name):
    setup = rabbitmq_setup_module()
    assert tuple(SERVICES) == setup.SERVICES
    permissions = setup.permissions(name)
    assert set(permissions) == {"configure", "write", "read"}
    own = [queue_name(name, event) for event in EVENT_TYPES.values()]
    own += [dead_letter_queue_name(q) for q in own]
    assert f"{name}.demand.submitted" in own and f"{name}.demand.submitted.dlq" in own
    # the queues of following a case (issue 9) are the service's own by the same pattern, nothing listed by hand
    assert f"{name}.demand.followed_up" in own and f"{name}.demand.supervision_answered.dlq" in own
    for kind, pattern in permissions.items():
        regex = re.compile(pattern)  # RabbitMQ matches with PCRE; these constructs mean the same in Python
        for resource in (EXCHANGE, DEAD_LETTER_EXCHANGE, *own):
            assert regex.search(resource), f"{name} may not {kind} {resource}"
        for resource in (*other_services_queues(name), "amq.topic", "amq.default", "", f"x{name}.demand.rated"):
            assert not regex.search(resource), f"{name} may {kind} {resource!r}"
    if name == "intake":
        assert not re.search(permissions["read"], "tracking.demand.rated")


class StubManagementApi(http.server.BaseHTTPRequestHandler):
    """Records what the setup script asks of the RabbitMQ management API."""

    requests: list[dict] = []

    def _record(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length)) if length else None
        self.requests.append(
            {"method": self.command, "path": self.path, "auth": self.headers.get("Authorization"), "body": body}
        )
        self.send_response(200 if self.command == "GET" else 201)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    do_GET = do_PUT = _record

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def management_api():
    StubManagementApi.requests = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), StubManagementApi)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", StubManagementApi.requests
    server.shutdown()
    server.server_close()


def run_rabbitmq_setup(compose: dict, api_url: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    """The script with the environment compose gives rabbitmq-setup, against the stand-in API."""
    setup = compose["services"]["rabbitmq-setup"]
    assert setup["entrypoint"] == ["python3", "/setup/setup-users.py"]
    container_env = service_environment(compose, "rabbitmq-setup", env)
    container_env.update(RABBITMQ_API_URL=api_url, RABBITMQ_SETUP_TIMEOUT="5", PATH=os.environ["PATH"])
    return subprocess.run(
        [sys.executable, str(RABBITMQ_SETUP)],
        env=container_env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_rabbitmq_setup_creates_each_service_user_from_the_environment(compose, management_api):
    api_url, requests = management_api
    setup = rabbitmq_setup_module()
    done = run_rabbitmq_setup(compose, api_url, resolved_env())
    assert done.returncode == 0, done.stderr
    assert not any(secret in done.stdout + done.stderr for secret in FAKE_SECRETS.values()), "passwords printed"

    admin = base64.b64encode(f"quality:{FAKE_SECRETS['RABBITMQ_ADMIN_PASSWORD']}".encode()).decode()
    assert {r["auth"] for r in requests} == {f"Basic {admin}"}
    puts = {unquote(r["path"]): r["body"] for r in requests if r["method"] == "PUT"}
    expected = {}
    for name in SERVICES:
        user = f"qs_{name}"
        expected[f"/api/users/{user}"] = {"password": FAKE_SECRETS[service_secrets(name)[2]], "tags": ""}
        expected[f"/api/permissions///{user}"] = setup.permissions(name)
    assert puts == expected


def test_rabbitmq_setup_fails_without_a_service_password(compose, management_api):
    api_url, requests = management_api
    setup_service = compose["services"]["rabbitmq-setup"]
    env = {**resolved_env()}
    environment = interpolate(setup_service["environment"], env)
    environment.pop("TRACKING_RABBITMQ_PASSWORD")
    done = subprocess.run(
        [sys.executable, str(RABBITMQ_SETUP)],
        env={**environment, "RABBITMQ_API_URL": api_url, "PATH": os.environ["PATH"]},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    assert "TRACKING_RABBITMQ_PASSWORD" in done.stderr
    assert requests == [], "nothing is changed before every password is known"


def test_rabbitmq_setup_is_a_one_shot_before_the_services(compose):
    setup = compose["services"]["rabbitmq-setup"]
    rabbitmq = compose["services"]["rabbitmq"]
    assert setup["restart"] == "no"
    assert setup["image"] == rabbitmq["image"] and setup["image"].endswith("-management"), "python3 is in it"
    assert setup["depends_on"]["rabbitmq"]["condition"] == "service_healthy"
    assert "./deploy/rabbitmq/setup-users.py:/setup/setup-users.py:ro" in setup["volumes"]
    assert setup.get("user") not in (None, "root", "0")
    env = service_environment(compose, "rabbitmq-setup", resolved_env())
    assert urlsplit(env["RABBITMQ_API_URL"]).hostname == "rabbitmq"
    broker = service_environment(compose, "rabbitmq", resolved_env())
    assert env["RABBITMQ_ADMIN_USER"] == broker["RABBITMQ_DEFAULT_USER"]
    assert env["RABBITMQ_ADMIN_PASSWORD"] == FAKE_SECRETS["RABBITMQ_ADMIN_PASSWORD"]


def test_rabbitmq_enables_management_and_prometheus_plugins(compose):
    assert RABBITMQ_PLUGINS.read_text(encoding="utf-8").strip() == "[rabbitmq_management,rabbitmq_prometheus]."
    rabbitmq = compose["services"]["rabbitmq"]
    assert rabbitmq["image"].startswith("rabbitmq:3.13")
    mounts = rabbitmq["volumes"]
    assert "./deploy/rabbitmq/enabled_plugins:/etc/rabbitmq/enabled_plugins:ro" in mounts
    assert any(m.split(":")[1] == "/var/lib/rabbitmq" for m in mounts), "the broker needs a volume"
    assert rabbitmq.get("hostname"), "the node name (and so its data directory) must survive re-creation"


# --- (c) Prometheus and Grafana ----------------------------------------------------------------


def test_prometheus_scrapes_every_service_and_the_broker(compose, prometheus):
    jobs = scrape_targets(prometheus)
    names = [job["job_name"] for job in prometheus["scrape_configs"]]
    assert len(names) == len(set(names)), "job names must be unique"
    every_target = set().union(*jobs.values())

    for name, port in {**SERVICES, "console": CONSOLE_PORT}.items():
        assert f"{name}:{port}" in jobs[name], f"no scrape target for {name}"
        job = next(j for j in prometheus["scrape_configs"] if j["job_name"] == name)
        assert job.get("metrics_path", "/metrics") == "/metrics"
    assert "rabbitmq:15692" in jobs["rabbitmq"]

    # Every long-running service of the compose file that serves metrics has a target.
    without_metrics = {"postgres", "grafana", "prometheus"}
    long_running = {name for name, service in compose["services"].items() if not one_shot(service)}
    for name in long_running - without_metrics:
        assert any(target.split(":")[0] == name for target in every_target), f"{name} is not scraped"

    prom = compose["services"]["prometheus"]
    assert prom["image"].startswith("prom/prometheus")
    assert "./deploy/prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro" in prom["volumes"]


def test_grafana_is_provisioned_with_the_prometheus_datasource(compose):
    datasources = load_yaml(GRAFANA_DATASOURCE)["datasources"]
    (prometheus,) = [d for d in datasources if d["type"] == "prometheus"]
    assert prometheus["url"] == "http://prometheus:9090"
    grafana = compose["services"]["grafana"]
    assert grafana["image"].startswith("grafana/grafana")
    assert "./deploy/grafana/provisioning:/etc/grafana/provisioning:ro" in grafana["volumes"]


# --- (d) secrets --------------------------------------------------------------------------------


def test_compose_file_holds_no_plaintext_credentials(compose):
    text = COMPOSE.read_text(encoding="utf-8")
    assert "guest" not in text.lower()
    assert "postgres:postgres" not in text
    # Every credential in a URL is an interpolated, required variable.
    part = r"(\$\{[^}]*\}|[^:/@\s$]+)"
    userinfo = re.findall(rf"\w+://{part}:{part}@", text)
    assert userinfo, "the services' URLs carry credentials from the environment"
    for _user, password in userinfo:
        assert re.fullmatch(r"\$\{[A-Z_]+:\?[^}]*\}", password), f"password {password!r} is not ${{VAR:?...}}"
    # Every *PASS* / *PASSWORD* / *SECRET* variable the containers get is a required interpolation.
    for name, service in compose["services"].items():
        for key, value in (service.get("environment") or {}).items():
            if "PASS" in key or "SECRET" in key:
                assert re.fullmatch(r"\$\{[A-Z_]+:\?[^}]*\}", str(value)), f"{name}.{key} = {value!r}"


def test_compose_refuses_to_start_without_each_secret(compose):
    env = resolved_env()
    interpolate(compose, env)  # complete: fine
    for secret in (*SECRETS, *REQUIRED):
        for missing in ({k: v for k, v in env.items() if k != secret}, {**env, secret: ""}):
            with pytest.raises(MissingVariable, match=secret):
                interpolate(compose, missing)


def test_the_required_variables_are_the_secrets_and_the_deployment_specific_addresses(compose):
    required = {
        m["braced"] for text in strings(compose) for m in _INTERPOLATION.finditer(text) if m["op"] in ("?", ":?")
    }
    assert required == set(SECRETS) | set(REQUIRED)
    assert len(set(FAKE_SECRETS.values())) == len(SECRETS)


def test_env_example_lists_every_variable_and_no_secret_value(compose):
    example = env_example()
    used = referenced_variables(compose)
    assert set(SECRETS) <= used
    assert used - set(example) == set(), "variables missing from deploy/.env.example"
    for secret in (*SECRETS, *REQUIRED):
        assert example[secret] == "", f"{secret} must be left for operations to set"


def test_dockerfile_runs_unprivileged_without_secrets():
    text = DOCKERFILE.read_text(encoding="utf-8")
    instructions = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    froms = [line for line in instructions if line.upper().startswith("FROM ")]
    assert froms and "python:3.11-slim" in text
    last_stage = "\n".join(instructions[instructions.index(froms[-1]) :])
    users = re.findall(r"^USER\s+(\S+)", last_stage, re.M)
    assert users and users[-1].split(":")[0] not in ("root", "0"), "the image must run as a non-root user"
    assert re.search(r"PYTHONUNBUFFERED=1", last_stage)
    assert re.search(r"pip install[^\n]*\s\.(\s|$)", text), "the project is installed with `pip install .`"
    assert re.search(r'^CMD \["python", "-m", "services\.\w+"\]', last_stage, re.M)
    for line in instructions:
        if re.match(r"(ENV|ARG)\s", line, re.I):
            assert not re.search(r"PASS|SECRET|TOKEN|KEY", line, re.I), line
    copies = [line for line in instructions if line.upper().startswith(("COPY ", "ADD "))]
    assert not any(".env" in line for line in copies), copies


def test_dockerignore_keeps_the_context_small_and_secret_free():
    patterns = {line.strip() for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()}
    for needed in ("**/.venv", "**/.git", "**/__pycache__", "**/.pytest_cache", "**/.env", "**/node_modules"):
        assert needed in patterns, needed
    for kept_out in (
        ".env",
        "deploy/.env",
        ".npmrc",
        ".venv/bin/python",
        "node_modules/htmx.org/dist/htmx.min.js",
        "services/console/node_modules/x.js",
        "tests/unit/test_deploy_files.py",
        "services/console/__pycache__/app.cpython-311.pyc",
    ):
        assert dockerignored(kept_out), f"{kept_out} would enter the build context"
    assert not dockerignored("deploy/.env.example")


def test_what_the_dockerfile_copies_from_the_context_is_in_it():
    sources = [
        source
        for stage in dockerfile_stages()
        for line in stage.lines("COPY")
        for flags, paths, _dest in [copy_arguments(line)]
        if "from" not in flags
        for source in paths
    ]
    assert {"pyproject.toml", "shared", "services", "package.json", "package-lock.json"} <= set(sources)
    for source in sources:
        assert (ROOT / source).exists(), source
        assert not dockerignored(source), f"{source} is excluded by .dockerignore"
    assert not dockerignored("services/console/templates/base.html")
    assert not dockerignored("services/console/static/console.css")


def test_dockerfile_installs_the_consoles_htmx_from_the_lock_file_in_a_node_stage():
    from services.console.app import HTMX

    stages = dockerfile_stages()
    (frontend,) = [s for s in stages if s.image.split(":")[0] == "node"]  # the official Node image
    assert frontend.name and frontend is not stages[-1]
    assert "package.json package-lock.json ./" in frontend.lines("COPY")
    runs = " ".join(frontend.lines("RUN"))
    assert re.search(r"\bnpm ci\b", runs), "exactly what the lock file pins (npm install could change it)"
    assert "--omit=dev" in runs and "--ignore-scripts" in runs
    assert "npm install" not in runs
    (workdir,) = frontend.lines("WORKDIR")

    runtime = stages[-1]
    assert runtime.image.startswith("python:")
    node_modules = PurePosixPath(runtime.env()["CONSOLE_NODE_MODULES"])
    assert node_modules.is_absolute()
    copied = {}
    for line in runtime.lines("COPY"):
        flags, paths, dest = copy_arguments(line)
        if flags.get("from") == frontend.name:
            (source,) = paths
            copied[PurePosixPath(source)] = PurePosixPath(dest)
    served = node_modules / HTMX  # where the console looks for htmx (services/console/app.py)
    assert copied.get(PurePosixPath(workdir) / "node_modules" / HTMX) == served, copied
    for source, dest in copied.items():
        assert source.is_relative_to(PurePosixPath(workdir) / "node_modules" / "htmx.org"), "only what it serves"
        assert dest == node_modules / source.relative_to(PurePosixPath(workdir) / "node_modules")
    assert str(CONSOLE_PORT) in " ".join(runtime.lines("EXPOSE")).split()

    # The lock file pins what package.json asks for, and it is only htmx.
    package, lock = json.loads(PACKAGE_JSON.read_text("utf-8")), json.loads(PACKAGE_LOCK.read_text("utf-8"))
    assert set(package["dependencies"]) == {"htmx.org"} and "devDependencies" not in package
    assert lock["packages"][""]["dependencies"] == package["dependencies"]
    assert lock["packages"]["node_modules/htmx.org"]["integrity"].startswith("sha512-")


def test_dockerfile_checks_the_installed_console_templates_and_static_files(tmp_path):
    """The image's `python -I -c` checks, run against setuptools' build of the packages (what `pip install .`
    puts in site-packages), then against a build whose package-data forgot static/*: the check must fail."""
    (build,) = [s for s in dockerfile_stages() if any(line.startswith("pip install .") for line in s.lines("RUN"))]
    (install,) = [line for line in build.lines("RUN") if line.startswith("pip install .")]
    checks = [re.fullmatch(r'python -I -c "(.*)"', step.strip()) for step in install.split(" && ")[1:]]
    assert len(checks) == 2 and all(checks), install
    console_check = checks[1][1]
    assert "services.console" in console_check and "templates/" in console_check and "static/" in console_check

    def build_and_check(pyproject: str, name: str) -> subprocess.CompletedProcess:
        src, site = tmp_path / name / "src", tmp_path / name / "site"
        src.mkdir(parents=True)
        (src / "pyproject.toml").write_text(pyproject, encoding="utf-8")
        for package in ("shared", "services"):
            shutil.copytree(ROOT / package, src / package, ignore=shutil.ignore_patterns("__pycache__"))
        built = subprocess.run(
            [sys.executable, "-W", "ignore", "-c", "from setuptools import setup; setup()", "-q", "build_py"]
            + ["-d", str(site)],
            cwd=src,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert built.returncode == 0, built.stderr
        # -I as in the image; the built packages go first on the path, where site-packages would be.
        prelude = f"import sys; sys.path.insert(0, {str(site)!r}); "
        return subprocess.run(
            [sys.executable, "-I", "-c", prelude + console_check],
            cwd=src,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    shipped = build_and_check(pyproject, "shipped")
    assert shipped.returncode == 0, shipped.stderr
    assert (tmp_path / "shipped" / "site" / "services" / "console" / "templates" / "base.html").is_file()

    forgot_static = pyproject.replace(', "static/*"', "")
    assert forgot_static != pyproject
    missing = build_and_check(forgot_static, "forgot-static")
    assert missing.returncode != 0
    assert "static/console.css" in missing.stderr
