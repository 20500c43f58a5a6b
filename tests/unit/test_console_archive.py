"""The archive pages' pure parts: the search as the archive takes it, the week picker (China dates), the dossier's
sections, whether the weekly report names each row's station, and the access logs' labels."""

import ast
from datetime import UTC, datetime
from pathlib import Path

from services.console.pages.archive import (
    book_query,
    by_station,
    dossier_search,
    last_week,
    named_enterprise,
    sections,
    shift_week,
    value_text,
    week_input,
)
from services.console.pages.archive_admin import ACTIONS, READS
from services.intake.access_log.domain import PURPOSES

# Monday 2026-11-23 00:30 in China is still Sunday 22 November in UTC: the week is China's.
MONDAY_EARLY = datetime(2026, 11, 22, 16, 30, tzinfo=UTC)


def test_the_search_is_sent_as_typed_and_empty_fields_are_not():
    typed = {"q": "  2026-000123 ", "sealed_from": "", "sealed_to": "2026-11-30", "page": "2", "other": "x"}
    assert dossier_search(typed) == {"q": "2026-000123", "sealed_to": "2026-11-30"}
    assert dossier_search({}) == {}


def test_the_enterprise_is_named_only_for_its_whole_credit_code():
    rows = [{"enterprise_name": "沈阳新松精密机械有限公司", "credit_code": "91210112MA0U00001J"}]
    assert named_enterprise("91210112ma0u00001j ", rows) == "沈阳新松精密机械有限公司"
    assert named_enterprise("MA0U00001J", rows) is None  # a part of a code names no one enterprise
    assert named_enterprise("91210112MA0U00002J", rows) is None
    assert named_enterprise("91210112MA0U00001J", [{"archive_no": "DA-1"}]) is None  # rows without the name


def test_the_weekly_report_names_stations_for_a_subtree_or_more_than_one_station():
    one = {"visits": {"by_station": [{"station_id": "a"}]}, "special_tasks": {"open": [{"station_id": "a"}]}}
    assert not by_station({"subtree": False, "figures": one})
    assert by_station({"subtree": True, "figures": one})
    two = {**one, "special_tasks": {"open": [{"station_id": "a"}], "reports": [{"station_id": "a/p1"}]}}
    assert by_station({"subtree": False, "figures": two})
    assert not by_station({"subtree": False, "figures": {"visits": None, "special_tasks": None}})


def test_last_week_is_the_week_before_todays_in_china():
    assert last_week(MONDAY_EARLY) == "2026-W47"  # China's Monday of W48, though UTC is still in W47
    assert last_week(datetime(2026, 1, 5, 4, tzinfo=UTC)) == "2026-W01"
    assert last_week(datetime(2026, 1, 1, 4, tzinfo=UTC)) == "2025-W52"


def test_the_week_picker_takes_iso_weeks_and_falls_back_to_last_week():
    assert week_input("2026-W05", MONDAY_EARLY) == "2026-W05"
    assert week_input("2026-w5", MONDAY_EARLY) == "2026-W05"
    assert week_input("2026-W54", MONDAY_EARLY) == "2026-W47"  # no such week
    assert week_input("next", MONDAY_EARLY) == "2026-W47"
    assert week_input(None, MONDAY_EARLY) == "2026-W47"
    assert shift_week("2026-W01", -1) == "2025-W52"
    assert shift_week("2020-W53", 1) == "2021-W01"


def test_sections_follow_the_case_in_chinese_and_skip_the_empty():
    content = {
        "demand": {"description": "x"},
        "events": [{"a": 1}],
        "ratings": [
            {"answers": {"overall": "satisfied"}, "event_id": "e1", "occurred_at": "2026-11-20T02:00:00+00:00"}
        ],
        "assignments": [{"assignee_name": "市计量测试院", "assignee_kind": "organization"}],
        "returns": [],
        "new_section": [{"x": "y"}],
    }
    out = sections(content)
    assert [s["key"] for s in out] == ["assignments", "ratings", "new_section"]
    assert out[0]["title"] == "派单、改派与转办"
    assert ("承办方类型", "服务机构") in out[0]["entries"][0]
    rating = dict(out[1]["entries"][0])
    assert "event_id" not in rating and rating["时间"] == "2026-11-20 10:00"
    assert sections(None) == []


def test_values_read_as_people_read_them():
    assert value_text("approved", True) == "是"
    assert value_text("outcome", "met") == "需求已满足"
    assert value_text("staff", []) == "—"
    assert value_text("fee", {"amount_yuan": 120, "payer": "企业"}) == "金额（元）：120；付费方：企业"


def test_a_books_query_sends_only_what_was_filled_in():
    assert book_query({"key": " 机器人 ", "from": "", "to": "2026-11-01", "kind": "chain"}) == {
        "key": "机器人",
        "to": "2026-11-01",
    }


def test_a_sealed_record_reads_in_chinese_without_machine_fields():
    """What the screenshots showed once: raw keys (counts_as_satisfied, rating_event_id) and codes (window)."""
    content = {
        "ratings": [
            {
                "round": 1,
                "answers": {"overall": "very_satisfied", "station_service": 5, "problem_solved": True},
                "source": "online",
                "rated_at": "2026-11-20T02:00:00+00:00",
                "counts_as_satisfied": True,
                "rating_event_id": "bcffbc1b-efcc-4075-8a45-5690a2317253",
            }
        ],
        "assignments": [{"assignee_id": "org-metrology-01", "handling_mode": "independent", "assignment_no": 1}],
    }
    rows = {s["key"]: dict(s["entries"][0]) for s in sections(content)}
    rating, assignment = rows["ratings"], rows["assignments"]
    assert rating["计为满意"] == "是" and rating["评价时间"] == "2026-11-20 10:00"
    assert rating["评价内容"] == "1. 工作站的服务的满意程度：5；5. 问题是否解决：是；10. 总体评价：非常满意"
    assert assignment == {"办理方式": "独立办理", "派单序号": "1"}
    every_label = [label for s in sections(content) for entry in s["entries"] for label, _ in entry]
    assert all(not label.isascii() for label in every_label), every_label
    assert value_text("channel", "window") == "窗口" and value_text("kind", "resolved") == "办结"


def _archive_actions() -> set[str]:
    """Every `action` the archive writes to its access log, read from its source (a keyword `action=` or `_log`'s
    second argument): the literal codes, and an f-string's fixed start followed by "*" (`export.book_*`)."""

    def codes(node: ast.expr) -> set[str]:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return {node.value}
        if isinstance(node, ast.IfExp):
            return codes(node.body) | codes(node.orelse)
        if isinstance(node, ast.JoinedStr) and isinstance(start := node.values[0], ast.Constant):
            return {f"{start.value}*"}
        return set()

    found: set[str] = set()
    for source in (Path(__file__).resolve().parents[2] / "services" / "archive").rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            found |= {c for k in node.keywords if k.arg == "action" for c in codes(k.value)}
            if isinstance(node.func, ast.Name) and node.func.id == "_log" and len(node.args) > 1:
                found |= codes(node.args[1])
    return {c for c in found if "." in c}  # argparse's action="store_true" is no log line


def test_the_access_logs_label_every_action_and_purpose_the_services_write():
    """The services log codes and the console labels them (and offers them in the 操作 filter): a code either service
    starts writing without a label here would show raw and could not be chosen."""
    actions = _archive_actions()
    assert {"dossier.read", "weekly_report.read", "disposal.confirm"} <= actions  # the reading finds them
    for code in actions:
        if code.endswith("*"):
            assert any(a.startswith(code[:-1]) for a in ACTIONS), code
        else:
            assert code in ACTIONS, code
    assert set(READS) == set(PURPOSES)
    for code, label in READS.items():  # the console's label starts as intake's description does
        assert PURPOSES[code].startswith(label), code
