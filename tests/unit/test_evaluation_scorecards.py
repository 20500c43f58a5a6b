"""Evaluation's breakdown facts and scorecard rules, pure: the form's categories in any order of submission and
corrections, who may ask for which rows, and a row's figures on the national scale with 满意率 by the setting."""

from datetime import timedelta
from itertools import permutations

import pytest

from services.evaluation import domain
from services.evaluation.kpis import Definition
from services.evaluation.scorecards.domain import By, Figures, check_dimension
from shared.auth import Role
from shared.contracts import CategoryRef, NationalLevel, Overall
from shared.errors import Forbidden
from tests.support import events

TESTING = CategoryRef(code="testing", label="检验检测")
STANDARDIZATION = CategoryRef(code="standardization", label="标准化")


def fold(sequence):
    form = None
    for event in sequence:
        form = (domain.on_submitted if event.routing_key == "demand.submitted" else domain.on_corrected)(form, event)
    return form


def test_the_latest_correction_names_the_categories_whatever_the_order():
    s = events.submitted().model_copy(update={"first_responder_id": "clerk-zhang"})
    first = events.corrected(s, categories=[TESTING], changed=["categories"])
    later = events.corrected(
        s, at=first.corrected_at + timedelta(minutes=5), categories=[STANDARDIZATION], changed=["categories"]
    )
    for order in permutations((s, first, later)):
        form = fold(order)
        assert form.categories == [{"code": "standardization", "label": "标准化"}], order
        assert (form.first_responder, form.first_responder_id) == ("张晓燕", "clerk-zhang")
        assert (form.corrected_at, form.correction_id) == (later.corrected_at, later.event_id)
    assert fold([s]).categories == [{"code": "metrology", "label": "计量"}]
    assert fold([s, s]) == fold([s])  # a redelivery changes nothing


@pytest.mark.parametrize("by", list(By))
def test_an_organization_reads_only_by_organization(by):
    for role in (Role.clerk, Role.head, Role.supervisor):
        check_dimension(role, by)
    if by is By.organization:
        check_dimension(Role.org, by)
    else:
        with pytest.raises(Forbidden):
            check_dimension(Role.org, by)


def test_a_rows_figures_on_the_national_scale_and_its_satisfaction_rate():
    f = Figures({Overall.very_satisfied: 2, Overall.satisfied: 1, Overall.average: 1, Overall.dissatisfied: 4}, 3, 1)
    assert f.ratings == 8
    assert f.national == {
        NationalLevel.very_satisfied: 2,
        NationalLevel.satisfied: 1,
        NationalLevel.basically_satisfied: 1,
        NationalLevel.dissatisfied: 4,
        NationalLevel.very_dissatisfied: 0,
    }
    assert (f.satisfied_count(Definition()), f.satisfaction_rate(Definition())) == (3, 3 / 8)
    strict = Definition((Overall.very_satisfied,))
    assert (f.satisfied_count(strict), f.satisfaction_rate(strict)) == (2, 2 / 8)
    assert Figures(voided=2).satisfaction_rate(Definition()) is None  # all voided: no rate, not 0
