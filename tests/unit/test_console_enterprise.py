"""The enterprise's pages, the pure part (services/console/enterprise.py): the online form's body, the five steps
of the status page, what is still needed, China dates, tokens and the QR code."""

import pytest
from starlette.datastructures import FormData

from services.console.enterprise import (
    cn_day,
    cn_moment,
    complaint_body,
    needed,
    public_demand_body,
    qr_data_uri,
    steps,
    token_of,
    valid_token,
)

TOKEN = "Abc_def-0123456789ABCDEFGHIJKLMNOPQRSTUVWXY"


def test_the_online_form_sends_only_what_the_enterprise_may_say():
    form = FormData(
        [
            ("enterprise.name", " 沈阳仪表有限公司 "),
            ("enterprise.credit_code", "91210112MA0U00051X"),
            ("contact.name", "孙八"),
            ("contact.phone", ""),
            ("items", "metrology.calibration"),
            ("items", "metrology.calibration"),
            ("items", "testing.product"),
            ("description", "校准"),
            ("station", "210100/210112/hunnan-01"),
            ("channel", "window"),
            ("green_channel", "major_project"),
        ]
    )
    assert public_demand_body(form) == {
        "enterprise": {"name": "沈阳仪表有限公司", "credit_code": "91210112MA0U00051X"},
        "contact": {"name": "孙八"},  # left empty: not sent, so intake says 必填 at contact.phone
        "items": [{"code": "metrology.calibration"}, {"code": "testing.product"}],
        "description": "校准",
    }


def test_a_complaint_sends_the_contact_only_when_given():
    form = FormData([("subject", "organization"), ("content", "态度差"), ("contact_name", ""), ("contact_phone", "")])
    assert complaint_body(form) == {"subject": "organization", "content": "态度差"}


STATUS = {"submitted_at": "2026-12-31T16:30:00+00:00", "expected_on": "2027-01-15", "progress_label": "办理中"}


@pytest.mark.parametrize(
    ("progress", "states"),
    [
        ("submitted", ["done", "current", "todo", "todo", "todo"]),
        ("assigned", ["done", "current", "todo", "todo", "todo"]),
        ("reopened", ["done", "current", "todo", "todo", "todo"]),
        ("resolved", ["done", "done", "done", "current", "todo"]),
        ("rated", ["done", "done", "done", "done", "current"]),
        ("verified", ["done", "done", "done", "done", "current"]),
        ("archived", ["done", "done", "done", "done", "done"]),
    ],
)
def test_the_five_steps_follow_the_progress(progress, states):
    shown = steps(STATUS | {"progress": progress})
    assert [s.label for s in shown] == ["受理", "办理中", "办结", "评价", "归档"]
    assert [s.state for s in shown] == states


def test_the_steps_say_the_dates_in_china():
    shown = steps(STATUS | {"progress": "assigned"})
    assert shown[0].note == "受理时间 2027年1月1日 00:30"  # 16:30 UTC on New Year's Eve is New Year's Day in China
    assert shown[2].note == "预计 2027年1月15日 前办结"
    archived = steps(STATUS | {"progress": "archived", "archive_no": "A-2027-0001", "handled_by": "本站"})
    assert archived[4].note == "档案编号 A-2027-0001" and archived[1].note == "承办单位：本站"
    assert archived[2].note == ""  # no expected date once it is done


def test_an_ending_skips_the_steps_between():
    ending = {"kind": "withdrawn", "reason": "已自行解决"}
    assert [s.state for s in steps(STATUS | {"progress": "withdrawn", "ending": ending})] == [
        *("done", "skipped", "skipped", "skipped", "skipped"),
    ]
    archived = steps(STATUS | {"progress": "archived", "ending": ending})
    assert [s.state for s in archived][-1] == "done"


def test_what_is_still_needed():
    assert needed(STATUS | {"progress": "assigned"}) == []
    paused = {"reason_label": "等待企业补充材料", "reason": "营业执照复印件", "paused_at": "2027-01-04T02:00:00+00:00"}
    assert needed(STATUS | {"progress": "assigned", "paused": paused}) == [
        "等待企业补充材料：营业执照复印件（自 2027年1月4日 起暂停计时）"
    ]
    assert "一次性评价链接" in needed(STATUS | {"progress": "resolved"})[0]


def test_china_dates():
    assert cn_day("2027-01-15") == "2027年1月15日"
    assert cn_day("2026-12-31T16:30:00+00:00") == "2027年1月1日"
    assert cn_moment("2026-12-31T15:59:00+00:00") == "2026年12月31日 23:59"
    assert cn_day(None) == "" and cn_moment("") == ""


def test_tokens():
    assert valid_token(TOKEN)
    assert not valid_token("short") and not valid_token(TOKEN + "/x") and not valid_token("a" * 101)
    assert token_of(f"http://127.0.0.1:8001/public/status/{TOKEN}") == TOKEN
    assert token_of("http://127.0.0.1:8001/public/status/") is None


def test_the_qr_code_is_an_svg_data_uri():
    pytest.importorskip("segno")
    uri = qr_data_uri(f"https://quality.example.test/public/status/{TOKEN}")
    assert uri is not None and uri.startswith("data:image/svg+xml")
