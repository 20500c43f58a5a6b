"""The registry pages' pure parts: the form <-> dispatch's body, and the 待复核 rendering (reasons in red), which a
fresh system in the browser tests cannot show without months of cases."""

from services.console import web
from services.console.forms import Pager
from services.console.pages.registry import STATUS_LABELS, TABS, profile_body, profile_values, status_body


class Form(dict):
    def get(self, key, default=None):
        value = super().get(key, default)
        return value[0] if isinstance(value, list) else value

    def getlist(self, key):
        value = super().get(key, [])
        return value if isinstance(value, list) else [value]


def test_console_registry_profile_body_keeps_what_the_form_does_not_show():
    current = {
        "contacts": [{"name": "李工", "phone": "13800000001", "role": None}, {"name": "张工", "phone": "13800000002"}],
        "qualifications": [
            {"kind": "CMA", "categories": ["metrology"], "valid_today": True},
            {"kind": "CNAS", "categories": [], "valid_today": False},
        ],
    }
    form = Form(
        {
            "name": " 某机构 ",
            "credit_code": "X",
            "contacts.0.name": "王工",
            "contacts.0.phone": "13800000021",
            "categories": ["metrology", "metrology"],
            "items": "metrology.calibration，metrology.verification",
            "areas": "210100/210112/hunnan-01",
            "qualifications.0.kind": "CMA",
            "agreement.number": "XY-1",
        }
    )
    body = profile_body(form, current)
    assert body["name"] == "某机构"
    assert body["contacts"] == [{"name": "王工", "phone": "13800000021"}, {"name": "张工", "phone": "13800000002"}]
    assert body["categories"] == ["metrology"]
    assert body["items"] == ["metrology.calibration", "metrology.verification"]
    assert body["qualifications"] == [{"kind": "CMA", "categories": ["metrology"]}, {"kind": "CNAS", "categories": []}]
    assert body["agreement"] == {"number": "XY-1"}
    assert profile_values({"org_id": "org-1", "items": ["a.b"], "areas": ["210100"]})["areas"] == "210100"


def test_console_registry_status_body_sends_until_only_with_a_suspension():
    assert status_body(Form({"status": "exited", "reason": "退出", "until": "2030-01-01"})) == {
        "status": "exited",
        "reason": "退出",
    }
    assert status_body(Form({"status": "suspended", "until": "2030-01-01"})) == {
        "status": "suspended",
        "until": "2030-01-01",
    }


def test_console_registry_a_flagged_organization_shows_its_reasons_in_red():
    row = {
        "org_id": "org-01",
        "name": "市计量测试院",
        "category_labels": ["计量"],
        "areas": ["210100"],
        "agreement": {"valid_until": "2030-01-01"},
        "status": "admitted",
        "status_label": "准入",
        "status_today": "admitted",
        "suspended_until": None,
        "review": {"flagged": True, "reasons": ["近12个月满意率 50%（1/2），低于 80%"], "since": "2025-11-27"},
    }
    html = (
        web.templates()
        .env.get_template("registry_list.html")
        .render(
            rows=[row],
            pager=Pager.of("1"),
            more=False,
            tabs=TABS,
            current="flagged",
            status="",
            statuses=STATUS_LABELS,
            may_admit=True,
            nav=[],
            flashes=[],
            path="/organizations",
        )
    )
    assert '<span class="badge danger">待复核</span>' in html
    assert (
        '<ul class="deadline-overdue small" data-testid="review-reasons"><li>近12个月满意率 50%（1/2），低于 80%</li>'
        in html
    )


def test_console_catalogue_override_body_leaves_out_what_keeps_the_items_own():
    from services.console.pages.catalogue_admin import override_body

    assert override_body(Form({"scope": "210100", "time_limit_days": "", "materials": ""})) == {"scope": "210100"}
    assert override_body(Form({"scope": "210100", "time_limit_days": "5", "materials": "营业执照\n\n委托书 "})) == {
        "scope": "210100",
        "time_limit_days": 5,
        "materials": ["营业执照", "委托书"],
    }
    assert override_body(Form({"time_limit_days": "五"})) == {"time_limit_days": "五"}  # intake says what is wrong
