"""The station pages' forms -> the services' request bodies (pure): 走访, 一企一册 and the roster."""

from starlette.datastructures import FormData

from services.console.pages.enterprises import dossier_body, dossier_values
from services.console.pages.staff import department_body, member_body
from services.console.pages.visits import visit_body


def test_a_visit_names_each_staff_member_once_and_leaves_out_what_was_not_filled():
    form = FormData([("credit_code", " 91210112MA0U00001 "), ("staff", "张晓燕、李明, 王五；"), ("findings", "")])
    assert visit_body(form) == {"credit_code": "91210112MA0U00001", "staff": ["张晓燕", "李明", "王五"]}
    assert visit_body(FormData([]))["staff"] == []  # intake says 必填项缺失 at staff


def test_an_edited_dossier_keeps_what_the_form_does_not_show():
    current = {
        "credit_code": "91210112MA0U00001",
        "name": "沈阳精密仪器有限公司",
        "employees": 35,
        "in_park": True,
        "park_name": "浑南高新区",
        "chain_leader": True,
        "labs_cover_own_testing": False,
        "contacts": [{"name": "王建国", "phone": "+8613804001234", "email": None}, {"name": "李会计", "title": None}],
        "products": [{"name": "压力表", "standard_no": None, "disclosed": True}],
        "instruments": [],
        "special_equipment": [{"kind": "锅炉", "quantity": 1, "next_inspection_on": None}],
        "operator_exams": [],
    }
    values = dossier_values(current)
    assert (values["employees"], values["in_park"], values["labs_cover_own_testing"]) == ("35", "true", "false")
    assert values["chain_leader"] == "true" and values["contacts.0.phone"] == "+8613804001234"

    form = FormData(
        [
            ("name", "沈阳精密仪器有限公司"),
            ("employees", "4o"),  # a typo goes on as typed, for intake to refuse at its field
            ("in_park", ""),
            ("chain", "高端装备产业链"),
            ("contacts.0.name", "王建国"),
        ]
    )
    body = dossier_body(form, current)
    assert body["employees"] == "4o" and "in_park" not in body and "park_name" not in body
    assert body["chain"] == "高端装备产业链" and body["chain_leader"] is False  # unticked
    assert body["contacts"] == [{"name": "王建国"}, {"name": "李会计"}]
    assert body["products"] == [{"name": "压力表", "disclosed": True}]
    assert body["special_equipment"] == [{"kind": "锅炉", "quantity": 1}]
    assert "credit_code" not in body  # the code is the address, never the body


def test_roster_bodies_carry_the_chosen_categories_once_and_active_only_when_ticked():
    form = FormData([("name", "计量科"), ("categories", "metrology"), ("categories", "metrology"), ("active", "true")])
    assert department_body(form) == {"name": "计量科", "categories": ["metrology"], "active": True}
    member = member_body(FormData([("name", "李计量"), ("department_id", ""), ("phone", "")]))
    assert member == {"name": "李计量", "categories": [], "active": False}
