"""The Grafana dashboards in deploy/grafana/dashboards, read for checking: their panels and every panel query, with the
template variables and Grafana macros replaced so that promtool or a real Prometheus can run it.

The rules the queries follow: the only template variables are `city`, `district` and `station_id`, each used only as a
regex matcher on the label of its own name (`{city=~"$city"}`); the only Grafana macros are `$__rate_interval` and
`$__range`, only as a range or subquery duration (`[$__rate_interval]`, `[$__range]`, `[$__range:]`). So replacing
the variables by `.*` and the macros by fixed durations gives plain PromQL over every station.
"""

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD_DIR = ROOT / "deploy" / "grafana" / "dashboards"
PROVISIONING = ROOT / "deploy" / "grafana" / "provisioning" / "dashboards" / "dashboards.yml"
DATASOURCE = {"type": "prometheus", "uid": "prometheus"}

VARIABLES = ("city", "district", "station_id")
MACROS = ("__rate_interval", "__range")
# What each variable or macro becomes: every value of the label; a rate window of four 15 s scrapes; an hour.
SUBSTITUTIONS = {"city": ".*", "district": ".*", "station_id": ".*", "__rate_interval": "1m", "__range": "1h"}

_REFERENCE = re.compile(r"\$(\w+)")
# label_values(<series selector>, <label>): how the template variables find their values.
LABEL_VALUES = re.compile(r"^label_values\((?P<selector>.+),\s*(?P<label>\w+)\s*\)$", re.S)


@dataclass(frozen=True)
class Query:
    dashboard: str
    panel: str
    ref_id: str
    expr: str  # as written in the dashboard, variables and macros included

    @property
    def name(self) -> str:
        return f"{self.dashboard} / {self.panel} [{self.ref_id}]"

    @property
    def promql(self) -> str:
        return substitute(self.expr)


def dashboard_files() -> list[Path]:
    return sorted(DASHBOARD_DIR.glob("*.json"))


def load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def dashboards() -> list[dict]:
    return [load(path) for path in dashboard_files()]


def panels(dashboard: dict) -> Iterator[dict]:
    """Every panel, rows included, and the panels a collapsed row keeps inside it."""
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def queries() -> list[Query]:
    return [
        Query(dashboard["title"], panel["title"], target["refId"], target["expr"])
        for dashboard in dashboards()
        for panel in panels(dashboard)
        for target in panel.get("targets", [])
    ]


def substitute(expr: str) -> str:
    """The query with its variables and macros replaced; an unknown `$name` is left for the checks to find."""
    return _REFERENCE.sub(lambda m: SUBSTITUTIONS.get(m[1], m[0]), expr)


def panel_queries() -> list[tuple[str, str]]:
    """(dashboard title / panel title [refId], PromQL with substitutions done) for every panel query."""
    return [(q.name, q.promql) for q in queries()]


def variable_queries() -> list[tuple[str, str, str]]:
    """(dashboard title, variable name, its label_values(...) query as written) for every template variable."""
    return [
        (dashboard["title"], variable["name"], variable["definition"])
        for dashboard in dashboards()
        for variable in dashboard.get("templating", {}).get("list", [])
    ]


_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_MATCHERS = re.compile(r"\{[^}]*\}")
_RANGES = re.compile(r"\[[^\]]*\]")
_LABEL_LISTS = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_OFFSET = re.compile(r"\boffset\s+-?[\w.]+")
_TOKEN = re.compile(r"(?P<number>\d[\w.]*)|(?P<name>[A-Za-z_:][\w:]*)(?P<call>\s*\()?")
_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless", "offset"}


def metric_names(promql: str) -> set[str]:
    """The metric (and recording-rule) names a PromQL expression reads: what is left once strings, label matchers,
    ranges and label lists are gone, minus function calls, keywords and numbers."""
    text = _STRING.sub('""', promql)
    text = _MATCHERS.sub(" ", text)
    text = _RANGES.sub(" ", text)
    text = _LABEL_LISTS.sub(" ", text)
    text = _OFFSET.sub(" ", text)
    names = set()
    for m in _TOKEN.finditer(text):
        name = m["name"]
        if name and not m["call"] and name not in _KEYWORDS and name.lower() not in ("inf", "nan"):
            names.add(name)
    return names
