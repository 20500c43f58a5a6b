"""The Grafana dashboards (deploy/grafana/dashboards/*.json) and their provisioning, checked offline for real:

- every file is a provisionable dashboard: JSON with uid, title and panels, only the `prometheus` data source, unique
  panel ids and a grid position on every panel; the provisioning file points where docker-compose.yml mounts them;
- every panel query keeps to the query rules (tests/support/dashboards.py): only the variables city, district and
  station_id, as regex matchers on their own label, and only the macros $__rate_interval and $__range, as durations;
- every query parses: promtool (Debian's `prometheus` package, installed by scripts/ensure-infra.sh) checks them all
  as recording rules;
- every metric name a query reads exists: a recording rule in deploy/prometheus/rules, a metric the services define
  (a StoreCounter or a prometheus_client metric in services/ or shared/), or one of the few names Prometheus and
  RabbitMQ's prometheus plugin export (EXTERNAL).

The Prometheus integration test runs the same queries (tests.support.dashboards.panel_queries) against real data.
"""

import itertools
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.support import dashboards as dash

ROOT = dash.ROOT
COMPOSE = ROOT / "docker-compose.yml"
RULE_FILES = sorted((ROOT / "deploy" / "prometheus" / "rules").glob("*.yml"))
SOURCE_DIRS = (ROOT / "services", ROOT / "shared")
DASHBOARD_UIDS = {"qs-city": "市局总览", "qs-station": "区县与站点", "qs-operations": "运维 Operations"}
CHINESE = re.compile(r"[\u4e00-\u9fff]")

# Names exported by something other than our code: Prometheus' own `up`, the client libraries' process collector,
# RabbitMQ's rabbitmq_prometheus plugin (/metrics/per-object). Listed one by one so that a typo fails here too.
EXTERNAL = {
    "up",
    "process_resident_memory_bytes",
    "rabbitmq_queue_consumers",
    "rabbitmq_queue_messages_ready",
    "rabbitmq_queue_messages_unacked",
    "rabbitmq_process_resident_memory_bytes",
}

# A metric defined in the source: StoreCounter("name", ...), or a prometheus_client metric / metric family.
_DEFINITION = re.compile(
    r"\b(?P<kind>StoreCounter|Counter|Gauge|Histogram|Summary|CounterMetricFamily|GaugeMetricFamily"
    r"|HistogramMetricFamily|SummaryMetricFamily)\(\s*\"(?P<name>[A-Za-z_:][\w:]*)\""
)


def promtool(*args: str | Path) -> subprocess.CompletedProcess:
    """Runs promtool; fails (never skips) when it is missing."""
    path = shutil.which("promtool")
    assert path, "promtool is missing: run scripts/ensure-infra.sh (it installs Debian's prometheus package)"
    return subprocess.run([path, *map(str, args)], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)


def exposed_names(kind: str, name: str) -> set[str]:
    """The sample names a metric of this kind is exposed under (what PromQL can read)."""
    base = name.removesuffix("_total")
    if kind in ("Counter", "CounterMetricFamily"):
        return {f"{base}_total", f"{base}_created"}
    if kind in ("Histogram", "HistogramMetricFamily"):
        return {f"{name}_bucket", f"{name}_count", f"{name}_sum", f"{name}_created"}
    if kind in ("Summary", "SummaryMetricFamily"):
        return {name, f"{name}_count", f"{name}_sum", f"{name}_created"}
    if kind == "StoreCounter":  # a gauge keeps its name; a counter is exposed with _total
        return {name, f"{base}_total"}
    return {name}


def source_metrics() -> dict[str, str]:
    """Every sample name the services' code defines -> the kind that defines it."""
    names = {}
    for directory in SOURCE_DIRS:
        for path in directory.rglob("*.py"):
            for m in _DEFINITION.finditer(path.read_text(encoding="utf-8")):
                for exposed in exposed_names(m["kind"], m["name"]):
                    names[exposed] = m["kind"]
    return names


def recording_rules() -> set[str]:
    records = set()
    for path in RULE_FILES:
        for group in yaml.safe_load(path.read_text(encoding="utf-8"))["groups"]:
            records.update(rule["record"] for rule in group["rules"] if "record" in rule)
    return records


def walk(value, key=None):
    """Every (key, value) pair of a parsed JSON document, at any depth."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield k, v
            yield from walk(v, k)
    elif isinstance(value, list):
        for v in value:
            yield from walk(v, key)


@pytest.fixture(scope="module")
def all_queries() -> list[dash.Query]:
    found = dash.queries()
    assert found, "no panel query found in deploy/grafana/dashboards"
    return found


# --- the files ----------------------------------------------------------------------------------


def test_the_three_dashboards_are_there():
    found = {d["uid"]: d["title"] for d in dash.dashboards()}
    assert found == DASHBOARD_UIDS
    assert len(dash.dashboard_files()) == len(DASHBOARD_UIDS), "one dashboard per file, uids unique"


@pytest.mark.parametrize("path", dash.dashboard_files(), ids=lambda p: p.name)
def test_dashboard_is_valid_json_with_uid_title_panels_and_only_the_prometheus_datasource(path):
    dashboard = json.loads(path.read_text(encoding="utf-8"))
    assert isinstance(dashboard["uid"], str) and re.fullmatch(r"[a-z0-9-]{1,40}", dashboard["uid"])
    assert dashboard["title"].strip()
    assert dashboard["panels"], "no panel"
    assert dashboard["editable"] is False, "provisioned from files: edits belong in the JSON"
    assert 36 <= dashboard["schemaVersion"] <= 41, "Grafana 11's dashboard model"
    assert "__inputs" not in dashboard, "an exported dashboard with ${DS_...} inputs cannot be provisioned"

    sources = [value for key, value in walk(dashboard) if key == "datasource"]
    assert sources, "no data source named"
    assert all(source == dash.DATASOURCE for source in sources), {json.dumps(s) for s in sources}
    for panel in dash.panels(dashboard):
        targets = panel.get("targets", [])
        if panel["type"] in ("row", "text"):
            assert not targets, f"{panel['title']}: a {panel['type']} panel has no query"
            continue
        assert targets, f"{panel['title']}: no query"
        assert panel["datasource"] == dash.DATASOURCE, panel["title"]
        ref_ids = [t["refId"] for t in targets]
        assert len(ref_ids) == len(set(ref_ids)), f"{panel['title']}: refIds repeat"
        for t in targets:
            assert t["datasource"] == dash.DATASOURCE and t["expr"].strip(), f"{panel['title']} [{t['refId']}]"
            assert not t.get("hide"), f"{panel['title']} [{t['refId']}] is hidden: remove it instead"


@pytest.mark.parametrize("path", dash.dashboard_files(), ids=lambda p: p.name)
def test_panel_ids_are_unique_and_every_panel_has_a_grid_position(path):
    panels = list(dash.panels(dash.load(path)))
    ids = [p["id"] for p in panels]
    assert all(isinstance(i, int) for i in ids) and len(ids) == len(set(ids)), ids
    for p in panels:
        pos = p["gridPos"]
        assert all(isinstance(pos[k], int) for k in ("x", "y", "w", "h")), p["title"]
        assert pos["w"] >= 1 and pos["h"] >= 1 and pos["x"] >= 0 and pos["x"] + pos["w"] <= 24, p["title"]
    for a, b in itertools.combinations(panels, 2):
        pa, pb = a["gridPos"], b["gridPos"]
        apart = (
            pa["x"] + pa["w"] <= pb["x"]
            or pb["x"] + pb["w"] <= pa["x"]
            or pa["y"] + pa["h"] <= pb["y"]
            or pb["y"] + pb["h"] <= pa["y"]
        )
        assert apart, f"{a['title']!r} and {b['title']!r} overlap"


def test_city_and_station_dashboards_speak_chinese():
    for dashboard in dash.dashboards():
        if dashboard["uid"] == "qs-operations":
            continue
        for text in [dashboard["title"], *(p["title"] for p in dash.panels(dashboard))]:
            assert CHINESE.search(text), f"{dashboard['title']}: {text!r} has no Chinese"


def test_provisioning_points_at_the_directory_compose_mounts():
    (provider,) = yaml.safe_load(dash.PROVISIONING.read_text(encoding="utf-8"))["providers"]
    assert provider["type"] == "file"
    assert provider["allowUiUpdates"] is False
    grafana = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))["services"]["grafana"]
    mounts = {}
    for volume in grafana["volumes"]:
        source, target, *mode = volume.split(":")
        mounts[target] = (source, mode)
    source, mode = mounts[provider["options"]["path"]]
    assert (ROOT / source).resolve() == dash.DASHBOARD_DIR, source
    assert mode == ["ro"]
    # The provisioning file itself is under the provisioning directory compose mounts.
    source, _ = mounts["/etc/grafana/provisioning"]
    assert dash.PROVISIONING.is_relative_to((ROOT / source).resolve())


# --- the queries --------------------------------------------------------------------------------

_VARIABLE_USE = re.compile(r'(?P<label>\w+)=~"\$(?P<variable>\w+)"')
_MACRO_USE = re.compile(r"\[\$(?P<macro>__\w+)(?::[^\]]*)?\]")


def reference_errors(expr: str, variables=dash.VARIABLES) -> list[str]:
    """What breaks the query rules in one query (or variable query) as written."""
    errors = []
    if "${" in expr or "[[" in expr:
        errors.append("use $name only: no ${...} or [[...]] forms")
    referenced = re.findall(r"\$(\w+)", expr)
    for name in referenced:
        if name not in variables and name not in dash.MACROS:
            errors.append(f"${name} is neither an allowed variable {variables} nor an allowed macro {dash.MACROS}")
    used_variables = [m for m in _VARIABLE_USE.finditer(expr) if m["variable"] in variables]
    for m in used_variables:
        if m["label"] != m["variable"]:
            errors.append(f"${m['variable']} matches the label {m['label']}, not its own")
    if len(used_variables) != sum(name in variables for name in referenced):
        errors.append('a variable is used outside a regex matcher like {city=~"$city"}')
    if len(_MACRO_USE.findall(expr)) != sum(name in dash.MACROS for name in referenced):
        errors.append("a macro is used outside a range or subquery duration like [$__rate_interval]")
    return errors


def test_every_query_uses_only_the_allowed_variables_and_macros(all_queries):
    broken = {q.name: errors for q in all_queries if (errors := reference_errors(q.expr))}
    assert broken == {}
    for name, promql in dash.panel_queries():
        assert "$" not in promql, f"{name}: left after substitution: {promql}"


def test_the_rule_checker_rejects_what_the_rules_forbid():
    assert reference_errors('sum(x{city=~"$city", station_id=~"$station_id"}[$__rate_interval])') == []
    assert reference_errors("increase(x[$__range:])") == []
    assert reference_errors('x{city="$city"}')  # not a regex matcher
    assert reference_errors('x{district=~"$city"}')  # another label
    assert reference_errors('x{job=~"$job"}')  # not an allowed variable
    assert reference_errors("rate(x[$__interval])")  # not an allowed macro
    assert reference_errors('x{city=~"${city}"}')
    assert reference_errors("x * $__range")  # a macro as a value


def test_template_variables_are_city_district_station_chained_on_label_values():
    for dashboard in dash.dashboards():
        variables = dashboard.get("templating", {}).get("list", [])
        names = [v["name"] for v in variables]
        assert names in ([], list(dash.VARIABLES)), f"{dashboard['title']}: {names}"
        for i, variable in enumerate(variables):
            assert variable["type"] == "query" and variable["datasource"] == dash.DATASOURCE
            assert variable["query"]["query"] == variable["definition"]
            m = dash.LABEL_VALUES.match(variable["definition"])
            assert m and m["label"] == variable["name"], variable["definition"]
            # Each one narrows by the ones before it (city -> district -> station_id).
            assert reference_errors(m["selector"], variables=tuple(names[:i])) == [], variable["definition"]
            assert set(re.findall(r"\$(\w+)", m["selector"])) == set(names[:i]), variable["definition"]
    (station,) = [d for d in dash.dashboards() if d["uid"] == "qs-station"]
    assert [v["name"] for v in station["templating"]["list"]] == list(dash.VARIABLES)
    assert any(p.get("repeat") == "station_id" for p in dash.panels(station)), "a row per selected station"


def test_every_query_parses(all_queries, tmp_path):
    """promtool parses PromQL when it checks rules: every query becomes one recording rule."""
    checked = [(q.name, q.promql) for q in all_queries]
    for title, name, definition in dash.variable_queries():
        selector = dash.LABEL_VALUES.match(definition)["selector"]
        checked.append((f"{title} / variable {name}", dash.substitute(selector)))
    rules = [{"record": f"dashboard:query_{i}", "expr": promql} for i, (_, promql) in enumerate(checked)]
    path = tmp_path / "dashboard_queries.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}, allow_unicode=True))
    done = promtool("check", "rules", path)
    output = done.stdout + done.stderr
    # promtool names the rule it could not parse: report that query by dashboard, panel and refId.
    failing = sorted({int(i) for i in re.findall(r'"dashboard:query_(\d+)"', output)})
    assert [checked[i] for i in failing] == [], output
    assert done.returncode == 0, output
    assert f"SUCCESS: {len(rules)} rules found" in output, output


def test_every_metric_a_query_reads_exists(all_queries):
    known = recording_rules() | set(source_metrics()) | EXTERNAL
    assert all(name == "up" or name.startswith(("rabbitmq_", "process_")) for name in EXTERNAL)
    unknown = {}
    for q in all_queries:
        names = dash.metric_names(q.promql)
        assert names, f"{q.name}: reads no metric? {q.promql}"
        if missing := names - known:
            unknown[q.name] = sorted(missing)
    for title, name, definition in dash.variable_queries():
        selector = dash.LABEL_VALUES.match(definition)["selector"]
        if missing := dash.metric_names(dash.substitute(selector)) - known:
            unknown[f"{title} / variable {name}"] = sorted(missing)
    assert unknown == {}


# Gauges each replica sets from what it sees of shared state (its outbox table, the broker's dead-letter queues): the
# same figure on every replica, like the store counters.
SHARED_STATE_GAUGES = {"qs_dead_letter_messages", "qs_outbox_pending"}


def test_store_derived_metrics_are_read_through_max_without_instance(all_queries):
    """Every replica reports the same store figure: `max without (instance)`, never a sum over replicas."""
    defined = source_metrics()
    assert {defined.get(name) for name in SHARED_STATE_GAUGES} == {"Gauge"}, "renamed? update SHARED_STATE_GAUGES"
    store = {name for name, kind in defined.items() if kind == "StoreCounter"} | SHARED_STATE_GAUGES
    for q in all_queries:
        for name in dash.metric_names(q.promql) & store:
            pattern = rf"max without \(instance\) \(\s*{re.escape(name)}\b"
            assert re.search(pattern, q.expr), f"{q.name}: read {name} through max without (instance): {q.expr}"


def test_kpi_rates_are_coloured_from_the_target_setting_not_a_fixed_threshold():
    """The targets are tracking's settings (qs_kpi_target): a panel showing a rate has no threshold of its own; it
    colours a `< bool` comparison with qs_kpi_target instead."""
    for dashboard in dash.dashboards():
        for panel in dash.panels(dashboard):
            exprs = [t["expr"] for t in panel.get("targets", [])]
            if not any(re.search(r"qs:\w*_rate:", e) for e in exprs):
                continue
            steps = panel.get("fieldConfig", {}).get("defaults", {}).get("thresholds", {}).get("steps", [])
            assert [s["value"] for s in steps] in ([], [None]), f"{panel['title']}: a fixed threshold {steps}"
            if panel["type"] in ("stat", "table"):
                assert any("< bool" in e and "qs_kpi_target" in e for e in exprs), panel["title"]


# --- the checker's own parts --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("promql", "names"),
    [
        ('sum by (job) (rate(qs_http_request_seconds_count{status=~"5.."}[1m]))', {"qs_http_request_seconds_count"}),
        (
            'max by (city) (qs:on_time_rate:station{city=~".*"} < bool on() group_left() max(qs_kpi_target{kpi="x"}))',
            {"qs:on_time_rate:station", "qs_kpi_target"},
        ),
        ("histogram_quantile(0.95, sum by (job, le) (rate(a_bucket[1m]))) / 1e3", {"a_bucket"}),
        ('increase((max without (instance) (b_total{x=~"y"}))[1h:]) offset 5m or vector(0)', {"b_total"}),
        ("topk(10, sum without (deadline) (c)) > Inf and d unless e", {"c", "d", "e"}),
    ],
)
def test_metric_names_are_found_in_promql(promql, names):
    assert dash.metric_names(promql) == names


def test_source_metrics_include_the_store_counters_and_the_http_histogram():
    found = source_metrics()
    assert found["qs_demands_open"] == "StoreCounter"
    assert found["qs_demands_submitted_total"] == "StoreCounter"
    assert found["qs_http_request_seconds_bucket"] == "Histogram"
    assert found["qs_outbox_publish_failures_total"] == "Counter"
    assert "qs_demands_opn" not in found
    assert {"qs:demands_open:station", "qs:demands_paused:district", "qs:on_time_rate:district"} <= recording_rules()


def test_panel_queries_name_every_query_once(all_queries):
    pairs = dash.panel_queries()
    assert len(pairs) == len(all_queries)
    assert len({name for name, _ in pairs}) == len(pairs), "two queries share a name"
