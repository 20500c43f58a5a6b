"""The Prometheus rules in deploy/prometheus, checked by promtool itself (Debian's `prometheus` package, installed by
scripts/ensure-infra.sh): the config with the rule files it names, the rules, and their unit tests
(deploy/prometheus/tests, run by `promtool test rules`), which must cover every alert and recording rule.
"""

import re
import shutil
import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS_DIR = ROOT / "deploy" / "prometheus"
CONFIG = PROMETHEUS_DIR / "prometheus.yml"
RULE_FILES = sorted((PROMETHEUS_DIR / "rules").glob("*.yml"))
TEST_FILES = sorted((PROMETHEUS_DIR / "tests").glob("*.yml"))
COMPOSE = ROOT / "docker-compose.yml"


def promtool(*args: str | Path) -> str:
    """Runs promtool from the repository root; fails with its output unless it exits 0."""
    path = shutil.which("promtool")
    assert path, "promtool is missing: run scripts/ensure-infra.sh (it installs Debian's prometheus package)"
    done = subprocess.run([path, *map(str, args)], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"promtool {' '.join(map(str, args))} exited {done.returncode}:\n{output}"
    return output


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def rules(kind: str) -> list[dict]:
    return [rule for path in RULE_FILES for group in load(path)["groups"] for rule in group["rules"] if kind in rule]


def test_promtool_checks_the_config_and_the_rule_files_it_names():
    output = promtool("check", "config", CONFIG.relative_to(ROOT))
    # rule_files resolve relative to the config file: every rule file is found and checked with it.
    for path in RULE_FILES:
        assert f"Checking {path.relative_to(ROOT)}" in output, output


def test_promtool_checks_the_rules():
    assert RULE_FILES, "no rule file in deploy/prometheus/rules"
    promtool("check", "rules", *(p.relative_to(ROOT) for p in RULE_FILES))


def test_promtool_unit_tests_of_the_rules_pass():
    assert TEST_FILES, "no promtool test in deploy/prometheus/tests"
    output = promtool("test", "rules", *(p.relative_to(ROOT) for p in TEST_FILES))
    assert output.count("SUCCESS") == len(TEST_FILES), output


def test_every_alert_and_recording_rule_has_a_unit_test():
    cases = [case for path in TEST_FILES for case in load(path)["tests"]]
    alert_checks = [check for case in cases for check in case.get("alert_rule_test", [])]
    queried = {check["expr"].strip() for case in cases for check in case.get("promql_expr_test", [])}

    for rule in rules("record"):
        assert rule["record"] in queried, f"recording rule {rule['record']} has no promql_expr_test"
    for rule in rules("alert"):
        checks = [check for check in alert_checks if check["alertname"] == rule["alert"]]
        assert any(check.get("exp_alerts") for check in checks), f"{rule['alert']} is never tested firing"
        assert any(not check.get("exp_alerts") for check in checks), f"{rule['alert']} is never tested silent"


def test_every_alert_has_a_severity_a_bilingual_summary_and_a_runbook_line():
    alerts = rules("alert")
    assert {a["alert"] for a in alerts} >= {
        "QsOverdueRising",
        "QsDeadLetters",
        "QsQueueWithoutConsumer",
        "QsOutboxStuck",
        "QsServiceDown",
        "QsHttp5xx",
    }
    for alert in alerts:
        assert alert["labels"]["severity"] in ("warning", "critical"), alert["alert"]
        assert alert.get("for"), f"{alert['alert']} must hold a while before it fires"
        summary, runbook = alert["annotations"]["summary"], alert["annotations"]["runbook"]
        chinese, _, english = summary.partition(" / ")
        assert re.search(r"[\u4e00-\u9fff]", chinese) and re.search(r"[A-Za-z]{3}", english), summary
        assert runbook.strip() and "\n" not in runbook, f"{alert['alert']}: runbook must be one line"


def test_compose_mounts_the_rules_where_the_config_looks_for_them():
    assert load(CONFIG)["rule_files"] == ["rules/*.yml"]
    prometheus = load(COMPOSE)["services"]["prometheus"]
    assert "--config.file=/etc/prometheus/prometheus.yml" in prometheus["command"]
    assert "./deploy/prometheus/rules:/etc/prometheus/rules:ro" in prometheus["volumes"]
