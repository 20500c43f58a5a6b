"""The console's session rules, without a clock or a server: the encrypted cookie, the idle timeout, the token's
end, CSRF, flashes, and who one may sign in as in development."""

from dataclasses import replace

import pytest

from services.console import people
from services.console import session as s
from services.console.forms import Pager, assignment_body, demand_body, place_errors
from services.console.pages.queue import default_kind
from services.console.web import local_path
from shared.auth import Role

NOW = 1_800_000_000.0
IDLE = 30 * 60
CLERK = s.Person(subject="clerk-x", name="张晓燕", role="clerk", station="210100/210112/hunnan-01", scope_name="浑南站")


def signed_in(now: float = NOW, expires_in: float = 12 * 3600) -> s.Session:
    return s.sign_in(s.new_session(now), CLERK, "a.jwt.token", now + expires_in, now)


# --- the cookie ---


def test_a_session_survives_the_cookie_round_trip_and_the_cookie_reveals_nothing():
    codec = s.SessionCodec("secret-one")
    session = s.flash(signed_in(), "ok", "需求已登记", "http://x/public/status/abc", "查询链接")
    cookie = codec.dumps(session, NOW)
    assert codec.loads(cookie) == session
    assert "张晓燕" not in cookie and "a.jwt.token" not in cookie and session.csrf not in cookie  # encrypted
    assert len(cookie) < s.MAX_COOKIE


@pytest.mark.parametrize("tamper", ["flip", "other secret", "garbage", "empty", "none"])
def test_an_altered_or_foreign_cookie_is_no_session(tamper):
    codec = s.SessionCodec("secret-one")
    cookie = codec.dumps(signed_in(), NOW)
    value = {
        "flip": cookie[:-6] + ("A" if cookie[-6] != "A" else "B") + cookie[-5:],
        "other secret": s.SessionCodec("secret-two").dumps(signed_in(), NOW),
        "garbage": "not-a-fernet-token-ä",
        "empty": "",
        "none": None,
    }[tamper]
    assert codec.loads(value) is None


def test_a_session_too_big_for_a_cookie_drops_its_flashes_not_the_sign_in():
    codec = s.SessionCodec("k")
    session = signed_in()
    for n in range(40):
        session = s.flash(session, "info", "很长的消息" * 20 + str(n))
    loaded = codec.loads(codec.dumps(session, NOW))
    assert loaded is not None and loaded.signed_in and loaded.flashes == ()


# --- idle timeout and the token's end ---


def test_the_idle_timeout_counts_from_the_last_page():
    session = signed_in()
    assert s.ended(session, NOW + IDLE - 1, IDLE) is None
    assert s.ended(session, NOW + IDLE, IDLE) == s.IDLE
    later = replace(session, seen_at=NOW + IDLE - 1)  # a page shortly before: 30 more minutes
    assert s.ended(later, NOW + 2 * IDLE - 2, IDLE) is None


def test_the_session_ends_with_its_token_whatever_the_activity():
    session = signed_in(expires_in=600)
    assert s.ended(replace(session, seen_at=NOW + 599), NOW + 600, IDLE) == s.EXPIRED


def test_an_anonymous_session_never_ends_as_a_sign_in():
    assert s.ended(s.new_session(NOW), NOW + 10 * IDLE, IDLE) is None


def test_loading_an_ended_session_gives_a_fresh_one_that_says_why():
    codec = s.SessionCodec("k")
    cookie = codec.dumps(signed_in(), NOW)
    kept = s.load(codec, cookie, NOW + 60, IDLE)
    assert kept.session.signed_in and not kept.cleared and not kept.dirty
    gone = s.load(codec, cookie, NOW + IDLE + 1, IDLE)
    assert not gone.session.signed_in and gone.cleared and gone.dirty
    assert gone.session.csrf != kept.session.csrf
    assert [f.text for f in gone.session.flashes] == [s.ENDED_MESSAGES[s.IDLE]]
    fresh = s.load(codec, None, NOW, IDLE)
    assert fresh.dirty and not fresh.session.signed_in and fresh.session.flashes == ()


def test_an_old_anonymous_session_gets_a_new_csrf_token():
    codec = s.SessionCodec("k")
    anonymous = s.new_session(NOW)
    cookie = codec.dumps(anonymous, NOW)
    assert s.load(codec, cookie, NOW + 60, IDLE).session.csrf == anonymous.csrf
    assert s.load(codec, cookie, NOW + IDLE, IDLE).session.csrf != anonymous.csrf


# --- CSRF ---


def test_the_csrf_token_must_equal_the_sessions():
    session = s.new_session(NOW)
    assert s.csrf_ok(session, session.csrf)
    for wrong in (None, "", session.csrf[:-1], session.csrf + "x", "伪造", s.new_session(NOW).csrf):
        assert not s.csrf_ok(session, wrong)


def test_signing_in_makes_a_new_csrf_token_and_keeps_the_flashes():
    before = s.flash(s.new_session(NOW), "info", "请登录")
    after = s.sign_in(before, CLERK, "t", NOW + 60, NOW)
    assert after.csrf != before.csrf and after.signed_in
    assert after.flashes == before.flashes


def test_flashes_are_shown_once():
    session, shown = s.take_flashes(s.flash(s.new_session(NOW), "ok", "已派单"))
    assert [f.text for f in shown] == ["已派单"] and session.flashes == ()


# --- where to go after signing in ---


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/ledger?list=mine", "/ledger?list=mine"),
        ("//evil.example/x", "/"),
        ("https://evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("ledger", "/"),
        ("", "/"),
        (None, "/"),
    ],
)
def test_after_sign_in_only_a_path_of_this_site(target, expected):
    assert local_path(target) == expected


# --- the development directory ---

STATIONS = [
    {"station_id": "210100/shenyang", "name": "沈阳市一站式质量服务中心"},
    {"station_id": "210100/210112/hunnan-01", "name": "沈阳市浑南区一站式质量服务站"},
    {"station_id": "210100/210112/hunnan-xinsong", "name": "新松机器人重点企业质量服务站"},
    {"station_id": "440100/440113/panyu-01", "name": "广州市番禺区工业园区质量服务工作站"},
]
ORGS = [{"org_id": "org-01", "name": "市计量测试院", "status_label": "已准入"}]


def test_the_directory_has_staff_per_station_supervisors_per_city_and_district_organizations_and_admin():
    groups = people.directory(STATIONS, ORGS)
    keys = [c.key for g in groups for c in g.choices]
    for sid in (x["station_id"] for x in STATIONS):
        assert f"clerk:{sid}" in keys and f"head:{sid}" in keys
    assert {k for k in keys if k.startswith("supervisor:")} == {
        "supervisor:210100",
        "supervisor:210100/210112",
        "supervisor:440100",
        "supervisor:440100/440113",
    }
    assert "org:org-01" in keys and "admin" in keys
    names = {c.key: c.person.name for g in groups for c in g.choices}
    assert names["supervisor:210100"] == "沈阳市市场监督管理局"
    assert names["supervisor:210100/210112"] == "沈阳市浑南区市场监督管理局"
    assert names["supervisor:440100/440113"] == "广州市番禺区市场监督管理局"


def test_a_key_the_directory_does_not_offer_finds_nobody():
    groups = people.directory(STATIONS, ORGS)
    head = people.find(groups, "head:210100/210112/hunnan-01")
    assert head is not None and head.role == Role.head and head.station == "210100/210112/hunnan-01"
    supervisor = people.find(groups, "supervisor:210100")
    assert supervisor is not None and supervisor.station == "210100" and supervisor.role == Role.supervisor
    for forged in ("head:210100/210112/nowhere", "supervisor:999999", "org:org-99", "root", ""):
        assert people.find(groups, forged) is None


def test_a_city_without_a_named_station_still_gets_a_supervisor():
    groups = people.directory([{"station_id": "130100/x-01", "name": "某服务站"}], [])
    supervisor = people.find(groups, "supervisor:130100")
    assert supervisor is not None and "130100" in supervisor.name


# --- forms to request bodies, errors back to fields ---


class Form(dict):
    """What request.form() gives: several values per name."""

    def get(self, key, default=None):
        values = super().get(key)
        return values[0] if values else default

    def getlist(self, key):
        return list(super().get(key, []))


def test_the_registration_form_becomes_intakes_body_with_the_clerks_station():
    form = Form(
        {
            "enterprise.name": [" 沈阳精密 "],
            "enterprise.credit_code": ["91210112MA0U000010"],
            "contact.name": ["王建国"],
            "contact.phone": [""],
            "items": ["metrology.calibration", "testing.product_testing", "metrology.calibration"],
            "materials.metrology.calibration": ["营业执照复印件"],
            "description": ["检定"],
            "channel": ["window"],
            "green_channel": [""],
            "green_channel_reason": ["不该送出"],
            "station_id": ["440100/440113/panyu-01"],  # a forged station is ignored
        }
    )
    body = demand_body(form, "210100/210112/hunnan-01")
    assert body == {
        "station_id": "210100/210112/hunnan-01",
        "enterprise": {"name": "沈阳精密", "credit_code": "91210112MA0U000010"},
        "contact": {"name": "王建国"},  # empty: left out, so intake answers 必填项缺失 for contact.phone
        "items": [
            {"code": "metrology.calibration", "materials_received": ["营业执照复印件"]},
            {"code": "testing.product_testing", "materials_received": []},
        ],
        "description": "检定",
        "channel": "window",
    }


def test_the_assignment_form_sends_only_the_chosen_kinds_fields():
    both = {"assignee_id": ["org-01"], "department_id": ["metrology"], "responsible_id": ["u1"], "note": [""]}
    org = assignment_body(Form({"assignee_kind": ["organization"], **both}))
    assert org == {"assignee_kind": "organization", "assignee_id": "org-01"}
    staff = assignment_body(Form({"assignee_kind": ["staff"], "handling_mode": ["joint"], **both}))
    assert staff == {
        "assignee_kind": "staff",
        "department_id": "metrology",
        "responsible_id": "u1",
        "handling_mode": "joint",
    }
    assert assignment_body(Form({"assignee_kind": ["first_responder"], **both})) == {"assignee_kind": "first_responder"}


def test_api_errors_land_on_the_fields_that_caused_them():
    shown = ("enterprise.name", "enterprise.credit_code", "contact.phone", "items", "description")
    errors = place_errors(
        {
            "contact.phone": "电话号码无效",
            "items.0.code": "未知的服务项目",
            "enterprise": "必填项缺失",
            "received_at": "时间格式应为 ISO 8601",
            "": "幂等键已用于另一项请求",
        },
        shown,
        "请求数据有误",
    )
    assert errors.fields == {
        "contact.phone": "电话号码无效",
        "items": "未知的服务项目",
        "enterprise.name": "必填项缺失",
    }
    assert errors.general == ["received_at：时间格式应为 ISO 8601", "幂等键已用于另一项请求"]
    only_message = place_errors({}, shown, "该需求已派单")
    assert only_message.general == ["该需求已派单"] and not only_message.fields


def test_pages_ask_one_row_more_to_know_of_a_next_page():
    pager = Pager.of("3", size=20)
    assert pager.params == {"limit": 21, "offset": 40}
    assert pager.cut(list(range(21))) == (list(range(20)), True)
    assert pager.cut(list(range(20))) == (list(range(20)), False)
    for raw in (None, "", "0", "-4", "abc"):
        assert Pager.of(raw).page == 1
    assert Pager.of("99999999").page == 10_000


def test_a_page_link_keeps_the_lists_query_and_puts_the_page_last():
    pager = Pager.of("2")
    assert pager.link("/archive", {"q": "沈阳 精密"}, 3) == "/archive?q=%E6%B2%88%E9%98%B3+%E7%B2%BE%E5%AF%86&page=3"
    assert pager.link("/complaints", {"stage": None, "subject": "staff"}, 1) == "/complaints?subject=staff&page=1"
    assert pager.link("/extensions", {"status": ""}, 2) == "/extensions?status=&page=2"  # "" is 全部 there: kept
    assert pager.link("/visits", None, 2) == "/visits?page=2"


def test_the_assignment_form_offers_first_the_catalogues_usual_handler_if_dispatch_lists_one():
    org, dept = [{"org_id": "org-01"}], [{"department_id": "metrology", "staff": []}]
    assert default_kind({"suggested_route": "organization", "candidates": org, "departments": dept}) == "organization"
    assert default_kind({"suggested_route": "station", "candidates": org, "departments": dept}) == "staff"
    assert default_kind({"suggested_route": "station", "candidates": org, "departments": []}) == "organization"
    assert default_kind({"suggested_route": "organization", "candidates": [], "departments": dept}) == "staff"
    assert default_kind({"suggested_route": None, "candidates": [], "departments": []}) == "first_responder"
