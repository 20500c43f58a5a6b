"""The console's status page, the parts it adds to enterprise.py (services/console/pages/public.py): each step with
the moment intake gives it, and the 去评价 link to the console's own rating page when intake offers a rating link."""

from services.console.enterprise import needed
from services.console.pages import public

TOKEN = "Abc_def-0123456789ABCDEFGHIJKLMNOPQRSTUVWXY"
MOMENTS = [
    {"key": "submitted", "label": "受理", "at": "2027-01-01T00:30:00+08:00"},
    {"key": "assigned", "label": "派单", "at": "2027-01-02T09:05:00+08:00"},
    {"key": "resolved", "label": "办结", "at": "2027-01-05T16:30:00+00:00"},  # 6 January in China
    {"key": "rated", "label": "评价", "at": None},
    {"key": "archived", "label": "归档", "at": None},
]
RESOLVED = {
    "progress": "resolved",
    "submitted_at": "2026-12-31T16:30:00+00:00",
    "steps": MOMENTS,
    "rating_url": f"http://127.0.0.1:8004/public/ratings/{TOKEN}",
    "rating_expires_at": "2027-02-05T00:30:00+08:00",
}


def test_each_step_shows_its_moment_in_china_time():
    dated = public.dated_steps(RESOLVED)
    assert [d.step.label for d in dated] == ["受理", "办理中", "办结", "评价", "归档"]
    assert [d.step.state for d in dated] == ["done", "done", "done", "current", "todo"]
    assert [d.at for d in dated] == [
        "2027年1月1日 00:30",
        "2027年1月2日 09:05",
        "2027年1月6日 00:30",  # the China date, not UTC's 5 January
        "",
        "",
    ]
    assert dated[2].at_iso == "2027-01-05T16:30:00+00:00"
    assert dated[0].step.note == ""  # the 受理 moment is shown once, not again as its note
    assert dated[3].step.note == "待评价"


def test_without_moments_the_steps_are_as_before():
    status = {k: v for k, v in RESOLVED.items() if k != "steps"}
    dated = public.dated_steps(status)
    assert [d.at for d in dated] == [""] * 5
    assert dated[0].step.note.startswith("受理时间 2027年1月1日")


def test_the_rating_button_opens_the_console_s_own_rating_page():
    assert public.rating_path(RESOLVED) == f"/public/ratings/{TOKEN}"
    elsewhere = RESOLVED | {"rating_url": f"https://pj.example.gov.cn/qs/public/ratings/{TOKEN}"}
    assert public.rating_path(elsewhere) == f"/public/ratings/{TOKEN}"  # the path under the console, whatever host
    for url in (None, "", f"https://x/public/status/{TOKEN}", "https://x/public/ratings/short", 42):
        assert public.rating_path(RESOLVED | {"rating_url": url}) is None, url


def test_what_is_needed_points_at_the_button_when_there_is_one():
    [sent_link] = needed(RESOLVED)
    assert "服务站发送给您的一次性评价链接评价" in sent_link and "去评价" not in sent_link
    [here] = needed(RESOLVED, rate_here=True)
    assert "点击下方“去评价”" in here
