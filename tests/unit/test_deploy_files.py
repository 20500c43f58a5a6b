"""The deployment files, checked offline (no Docker engine runs on the development machines).

docker-compose.yml is validated against the Compose specification schema vendored by
check-jsonschema (no network), and cross-checked against the services' own settings,
deploy/prometheus/prometheus.yml, the PostgreSQL init script and deploy/Dockerfile.
"""

import copy
import importlib
import importlib.resources
import json
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "deploy" / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
PROMETHEUS = ROOT / "deploy" / "prometheus" / "prometheus.yml"
GRAFANA_DATASOURCE = ROOT / "deploy" / "grafana" / "provisioning" / "datasources" / "prometheus.yml"
RABBITMQ_PLUGINS = ROOT / "deploy" / "rabbitmq" / "enabled_plugins"
POSTGRES_INIT = ROOT / "deploy" / "postgres" / "init-databases.sql"
ENV_EXAMPLE = ROOT / "deploy" / ".env.example"

SERVICES = {"intake": 8001, "dispatch": 8002, "tracking": 8003, "evaluation": 8004, "archive": 8005}
SECRETS = ("POSTGRES_PASSWORD", "RABBITMQ_PASSWORD", "GRAFANA_ADMIN_PASSWORD")
FAKE_SECRETS = {name: f"fake-{name.lower().replace('_', '-')}-x1" for name in SECRETS}


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
    return {**env_example(), **FAKE_SECRETS}


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
    settings = settings_class()
    assert settings.service_name == name
    assert settings.environment == "production"
    assert settings.http_host == "0.0.0.0"
    assert settings.http_port == SERVICES[name]

    db = urlsplit(settings.database_url)
    assert (db.scheme, db.hostname, db.port, db.path) == ("postgresql", "postgres", 5432, f"/qs_{name}")
    assert db.password == FAKE_SECRETS["POSTGRES_PASSWORD"]
    assert db.path == urlsplit(settings_class.model_fields["database_url"].default).path

    amqp = urlsplit(settings.amqp_url)
    assert (amqp.scheme, amqp.hostname, amqp.port) == ("amqp", "rabbitmq", 5672)
    assert amqp.password == FAKE_SECRETS["RABBITMQ_PASSWORD"]
    assert amqp.username != "guest"


def test_postgres_init_script_creates_one_database_per_service(compose):
    created = set(re.findall(r"CREATE DATABASE\s+\"?(\w+)\"?", POSTGRES_INIT.read_text(encoding="utf-8"), re.I))
    assert created == {f"qs_{name}" for name in SERVICES}
    mounts = compose["services"]["postgres"]["volumes"]
    assert any(
        m.startswith("./deploy/postgres/init-databases.sql:/docker-entrypoint-initdb.d/") for m in mounts
    ), mounts
    assert any(m.split(":")[1] == "/var/lib/postgresql/data" for m in mounts), "the database needs a volume"


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

    for name, port in SERVICES.items():
        assert f"{name}:{port}" in jobs[name], f"no scrape target for {name}"
        job = next(j for j in prometheus["scrape_configs"] if j["job_name"] == name)
        assert job.get("metrics_path", "/metrics") == "/metrics"
    assert "rabbitmq:15692" in jobs["rabbitmq"]

    # Every long-running service of the compose file that serves metrics has a target.
    without_metrics = {"postgres", "grafana", "prometheus"}
    for name in set(compose["services"]) - without_metrics:
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
    # Every *PASS* / *PASSWORD* variable the containers get is a required interpolation.
    for name, service in compose["services"].items():
        for key, value in (service.get("environment") or {}).items():
            if "PASS" in key:
                assert re.fullmatch(r"\$\{[A-Z_]+:\?[^}]*\}", str(value)), f"{name}.{key} = {value!r}"


def test_compose_refuses_to_start_without_each_secret(compose):
    env = resolved_env()
    interpolate(compose, env)  # complete: fine
    for secret in SECRETS:
        for missing in ({k: v for k, v in env.items() if k != secret}, {**env, secret: ""}):
            with pytest.raises(MissingVariable, match=secret):
                interpolate(compose, missing)


def test_env_example_lists_every_variable_and_no_secret_value(compose):
    example = env_example()
    used = referenced_variables(compose)
    assert set(SECRETS) <= used
    assert used - set(example) == set(), "variables missing from deploy/.env.example"
    for secret in SECRETS:
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
    for needed in ("**/.venv", "**/.git", "**/__pycache__", "**/.pytest_cache", "**/.env"):
        assert needed in patterns, needed
