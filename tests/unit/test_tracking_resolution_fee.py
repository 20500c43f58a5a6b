"""办结 with the fee charged, the deliverables and the staff involved (issue 11): checked, and carried on Resolved for
the sealed record; the tracking sheet lists them."""

import pytest
from pydantic import ValidationError

from services.tracking import domain as cases
from services.tracking.api import ResolutionIn
from shared.contracts import Deliverable, Fee, Outcome
from shared.errors import Invalid
from tests.unit import factories as f


def assigned_case():
    s = f.submitted()
    return cases.apply(cases.apply(None, s), f.assigned(s))


def resolve(**extras):
    return cases.resolve(
        assigned_case(), outcome=Outcome.met, summary="已出具证书", resolved_by="市计量测试院", now=f.at(12), **extras
    )


def test_the_fee_deliverables_and_staff_travel_on_the_resolution():
    event = resolve(
        fee=Fee(free_service=False, amount_yuan=1800.5, payer="企业"),
        deliverables=(Deliverable(title="检定证书", reference="JD-2026-0012"),),
        staff_involved=("李工", "王工", "李工"),
    )
    assert event.fee == Fee(free_service=False, amount_yuan=1800.5, payer="企业")
    assert [d.reference for d in event.deliverables] == ["JD-2026-0012"]
    assert event.staff_involved == ["李工", "王工"]  # each named once, in order
    text = cases.timeline_text(event)
    assert "收费 1800.50 元，付费方：企业" in text and "检定证书（JD-2026-0012）" in text and "李工、王工" in text
    assert cases.timeline_text(resolve(fee=Fee(free_service=True))).endswith("免费服务")
    plain = resolve()
    assert (plain.fee, plain.deliverables, plain.staff_involved) == (None, [], [])
    assert "收费" not in cases.timeline_text(plain)


@pytest.mark.parametrize(
    ("fee", "zh"),
    [
        (Fee(free_service=True, amount_yuan=10), "免费服务的收费金额应为 0"),
        (Fee(free_service=False, amount_yuan=10.005), "收费金额最多保留两位小数（元、角、分）"),
    ],
)
def test_a_fee_that_contradicts_itself_is_refused_naming_the_field(fee, zh):
    with pytest.raises(Invalid) as refused:
        resolve(fee=fee)
    assert (refused.value.field, refused.value.zh) == ("fee.amount_yuan", zh)
    assert refused.value.en


def test_the_request_refuses_a_negative_amount_an_empty_reference_and_too_many_people():
    with pytest.raises(ValidationError) as refused:
        ResolutionIn.model_validate(
            {
                "outcome": "met",
                "summary": "已出具证书",
                "fee": {"free_service": False, "amount_yuan": -1},
                "deliverables": [{"title": "检定证书", "reference": ""}],
                "staff_involved": ["李工"] * 51,
            }
        )
    fields = {e["loc"] for e in refused.value.errors()}
    assert fields == {("fee", "amount_yuan"), ("deliverables", 0, "reference"), ("staff_involved",)}
    ok = ResolutionIn.model_validate({"outcome": "met", "summary": "已出具证书", "fee": {"free_service": True}})
    assert ok.fee.amount_yuan == 0 and ok.deliverables == [] and ok.staff_involved == []
