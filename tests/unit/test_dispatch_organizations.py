"""The service-organization registry's rules (pure) and use cases on a fake unit of work."""

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from services.dispatch.organizations import domain, usecases
from services.dispatch.organizations.domain import (
    Agreement,
    Contact,
    Organization,
    Qualification,
    Record,
    Status,
)
from services.dispatch.organizations.store import snapshot
from shared.auth import Principal, Role, in_scope
from shared.contracts import Overall
from shared.errors import DomainError, Forbidden, Invalid, NotFound
from tests.support.fake_uow import FakeUnitOfWork
from tests.unit import factories as f

TODAY = date(2026, 9, 30)
DUE = date(2026, 10, 20)
CITY = "210100"
STATION = f.STATION  # 210100/210112/hunnan-01
OTHER_CITY_STATION = "440100/440113/panyu-01"


def qualification(**fields) -> Qualification:
    q = dict(
        kind="法定计量检定机构授权证书",
        certificate_no="(辽)法计(2024)01001号",
        issuer="辽宁省市场监督管理局",
        scope="压力、长度、温度计量器具检定",
        valid_from=date(2024, 1, 1),
        valid_until=date(2027, 12, 31),
    )
    return Qualification(**{**q, **fields})


def organization(**fields) -> Organization:
    org = dict(
        org_id="org-01",
        name="市计量测试院",
        credit_code="12210100MB0000001P",
        contacts=(Contact(name="李工", phone="+8613800000000", role="业务联系人"),),
        categories=("metrology", "testing"),
        items=(),
        qualifications=(qualification(),),
        agreement=Agreement(party="沈阳市市场监督管理局", number="SY-2026-001", valid_until=date(2027, 6, 30)),
        areas=(CITY,),
    )
    return Organization(**{**org, **fields})


def check(org: Organization, *, serves=True, categories=("metrology",), items=(), due=DUE, today=TODAY) -> None:
    domain.check_assignable(
        org, serves_station=serves, categories=list(categories), item_codes=list(items), due_on=due, today=today
    )


def refused(org: Organization, **kw) -> DomainError:
    with pytest.raises(DomainError) as caught:
        check(org, **kw)
    assert caught.value.status == 409 and caught.value.code == "organization_not_assignable"
    assert caught.value.zh and caught.value.en
    return caught.value


# --- who may be assigned ------------------------------------------------------------------------------


def test_an_admitted_qualified_organization_serving_the_station_may_be_assigned():
    check(organization(), categories=["metrology"], items=["metrology.calibration"])


def test_a_suspended_organization_is_refused_with_its_end_date_and_reason():
    org = organization(status=Status.suspended, status_reason="投诉核查中", suspended_until=date(2026, 10, 15))
    error = refused(org)
    assert "已暂停" in error.zh and "2026-10-15" in error.zh and "投诉核查中" in error.zh
    assert "suspended" in error.en


def test_a_suspension_ends_by_itself_after_its_last_day():
    org = organization(status=Status.suspended, status_reason="整改", suspended_until=TODAY)
    refused(org, today=TODAY)  # the last day of the suspension is still suspended
    check(org, today=TODAY + timedelta(days=1))
    assert org.status_on(TODAY + timedelta(days=1)) is Status.admitted


def test_a_suspension_without_an_end_lasts_until_reinstated():
    org = organization(status=Status.suspended, status_reason="整改", suspended_until=None)
    refused(org, today=date(2030, 1, 1))


def test_an_exited_organization_is_refused():
    error = refused(organization(status=Status.exited, status_reason="评价不合格，淘汰退出"))
    assert "已退出" in error.zh and "exited" in error.en


def test_an_organization_serving_another_area_is_refused():
    error = refused(organization(), serves=False)
    assert "服务区域" in error.zh and "does not serve this station" in error.en


def test_an_organization_not_covering_a_category_is_refused_naming_it():
    error = refused(organization(), categories=["metrology", "special_equipment"])
    assert "特种设备" in error.zh and "special_equipment" in error.en


def test_an_item_outside_the_listed_items_of_its_category_is_refused():
    org = organization(items=("metrology.calibration",))
    check(org, items=["metrology.calibration"])
    check(org, categories=["testing"], items=["testing.product_testing"])  # testing is served whole
    error = refused(org, items=["metrology.type_approval"])
    assert "metrology.type_approval" in error.zh and "metrology.type_approval" in error.en


def test_an_item_of_a_category_it_does_not_serve_is_refused_as_the_category():
    error = refused(organization(), categories=[], items=["ip.trademark"])
    assert "知识产权" in error.zh


def test_a_qualification_valid_through_the_due_date_itself_is_enough():
    check(organization(qualifications=(qualification(valid_until=DUE),)))


def test_a_qualification_ending_the_day_before_the_due_date_is_refused():
    error = refused(organization(qualifications=(qualification(valid_until=DUE - timedelta(days=1)),)))
    assert str(DUE - timedelta(days=1)) in error.zh and str(DUE) in error.zh
    assert "expires" in error.en


def test_no_valid_qualification_for_a_category_is_refused():
    expired = qualification(valid_until=TODAY - timedelta(days=1))
    not_yet = qualification(valid_from=TODAY + timedelta(days=1))
    for quals in ((), (expired,), (not_yet,)):
        error = refused(organization(qualifications=quals))
        assert "有效资质" in error.zh and "no valid qualification" in error.en


def test_a_qualification_backs_only_its_categories():
    org = organization(qualifications=(qualification(categories=("testing",)),))
    check(org, categories=["testing"])
    error = refused(org, categories=["metrology"])
    assert "计量" in error.zh


def test_the_longest_valid_qualification_of_a_category_counts():
    org = organization(qualifications=(qualification(valid_until=TODAY), qualification(certificate_no="B")))
    check(org)


def test_an_agreement_ending_before_the_due_date_is_refused_and_on_it_is_enough():
    refused_ = refused(organization(agreement=Agreement("沈阳市市场监督管理局", "SY-1", DUE - timedelta(days=1))))
    assert "服务协议" in refused_.zh and "SY-1" in refused_.zh and "agreement" in refused_.en
    check(organization(agreement=Agreement("沈阳市市场监督管理局", "SY-1", DUE)))


# --- admission, edits and status -------------------------------------------------------------------------


def test_a_profile_must_name_known_categories_and_items_within_them():
    with pytest.raises(Invalid) as caught:
        domain.check_profile(organization(categories=("metrolgy",)))
    assert caught.value.field == "categories.0"
    with pytest.raises(Invalid) as caught:
        domain.check_profile(organization(items=("ip.trademark",)))
    assert caught.value.field == "items.0"
    with pytest.raises(Invalid) as caught:
        domain.check_profile(organization(qualifications=(qualification(categories=("ip",)),)))
    assert caught.value.field == "qualifications.0.categories"
    with pytest.raises(Invalid) as caught:
        domain.check_profile(organization(qualifications=(qualification(valid_until=date(2023, 1, 1)),)))
    assert caught.value.field == "qualifications.0.valid_until"


def test_an_edit_keeps_the_status_and_an_exited_organization_cannot_be_edited():
    suspended = organization(status=Status.suspended, status_reason="整改", suspended_until=DUE)
    edited = domain.admit_or_edit(suspended, organization(name="沈阳市计量测试院", status=Status.admitted))
    assert edited.name == "沈阳市计量测试院" and edited.status is Status.suspended and edited.suspended_until == DUE
    assert domain.admit_or_edit(None, suspended).status is Status.admitted  # admission admits
    with pytest.raises(DomainError) as caught:
        domain.admit_or_edit(organization(status=Status.exited, status_reason="淘汰"), organization())
    assert caught.value.status == 409


def test_suspend_reinstate_exit():
    org = organization()
    with pytest.raises(Invalid) as caught:
        domain.change_status(org, Status.suspended, reason=None, until=None, today=TODAY)
    assert caught.value.field == "reason"
    with pytest.raises(Invalid) as caught:
        domain.change_status(org, Status.suspended, reason="整改", until=TODAY - timedelta(days=1), today=TODAY)
    assert caught.value.field == "until"
    with pytest.raises(Invalid):
        domain.change_status(org, Status.exited, reason="淘汰", until=DUE, today=TODAY)
    suspended = domain.change_status(org, Status.suspended, reason="整改", until=DUE, today=TODAY)
    assert (suspended.status, suspended.status_reason, suspended.suspended_until) == (Status.suspended, "整改", DUE)
    again = domain.change_status(suspended, Status.suspended, reason="整改", until=DUE, today=TODAY)
    assert again == suspended  # nothing changed: no audit row
    reinstated = domain.change_status(suspended, Status.admitted, reason=None, until=None, today=TODAY)
    assert reinstated == org
    exited = domain.change_status(org, Status.exited, reason="评价不合格", until=None, today=TODAY)
    for status in Status:
        with pytest.raises(DomainError) as caught:
            domain.change_status(exited, status, reason="再次准入", until=None, today=TODAY)
        assert caught.value.status == 409


# --- the running record ---------------------------------------------------------------------------------


def test_rates_are_smoothed_so_a_new_organization_sits_between_good_and_poor_ones():
    new = Record()
    good = Record(completed=10, on_time=10, rated=10, satisfied=10)
    poor = Record(completed=10, on_time=4, rated=10, satisfied=5)
    assert good.score > new.score > poor.score
    assert new.on_time_rate is None and new.satisfaction_rate is None
    assert good.on_time_rate == 1.0 and poor.satisfaction_rate == 0.5
    one_late = Record(completed=1, on_time=0, rated=1, satisfied=0)
    assert one_late.score > poor.score  # one early miss does not sink a new organization below a poor one
    assert Record(open_load=5).score < new.score  # a busy organization yields to an idle one


def test_rank_breaks_ties_by_experience_then_name():
    a = organization(org_id="org-a", name="B检测")
    b = organization(org_id="org-b", name="A检测")
    seasoned = Record(completed=5, on_time=4)  # 4/5 on time, smoothed: exactly the prior, the same score
    assert seasoned.score == Record().score
    ranked = domain.rank([(a, Record()), (b, Record()), (organization(), seasoned)])
    assert [o.org_id for o, _ in ranked] == ["org-01", "org-b", "org-a"]


def test_the_suggested_route_follows_the_items_normally_handled_by():
    assert domain.suggested_route(["station", "organization"]) == "organization"
    assert domain.suggested_route(["department", "station"]) == "station"
    assert domain.suggested_route(["department"]) == "department"
    assert domain.suggested_route([]) is None


# --- use cases on a fake unit of work ---------------------------------------------------------------------

ADMIN = Principal(subject="ops", name="运维", role=Role.admin)
SUPERVISOR = Principal(subject="sup", name="沈阳市市场监管局", role=Role.supervisor, station=CITY)
DISTRICT = Principal(subject="sup-hn", name="浑南区市场监管局", role=Role.supervisor, station="210100/210112")
HEAD = Principal(subject="head", name="周站长", role=Role.head, station=STATION)
OTHER_HEAD = Principal(subject="head-2", name="梁站长", role=Role.head, station=OTHER_CITY_STATION)


class FakeStore:
    """OrganizationStore in memory; scope as qs_covers sees it for ids below each other."""

    def __init__(self) -> None:
        self.orgs: dict[str, Organization] = {}
        self.audit: list[dict] = []
        self.locked: list[str] = []

    async def organization(self, org_id, *, for_update=False):
        return self.orgs.get(org_id)

    async def visible_organization(self, org_id, scope, org):
        o = self.orgs.get(org_id)
        if o is None:
            return None
        seen = scope == "*" or (org and o.org_id == org)
        seen = seen or (scope and any(in_scope(a, scope) or in_scope(scope, a) for a in o.areas))
        return o if seen else None

    async def assignable_organization(self, org_id, station_id):
        org = self.orgs.get(org_id)
        return None if org is None else (org, any(in_scope(station_id, a) for a in org.areas))

    async def org_areas_within(self, areas, scope):
        return all(in_scope(a, scope) for a in areas)

    async def lock_credit_code(self, credit_code):
        self.locked.append(credit_code)

    async def credit_code_taken(self, credit_code, org_id):
        return next((o.org_id for o in self.orgs.values() if o.credit_code == credit_code and o.org_id != org_id), None)

    async def save_organization(self, org, at):
        self.orgs[org.org_id] = org

    async def add_organization_audit(self, org_id, action, **row):
        self.audit.append({"org_id": org_id, "action": action, **row})


@pytest.fixture
def uow():
    return FakeUnitOfWork(FakeStore(), consumer="dispatch")


async def assignable(uow, org_id="org-01", station=STATION, **kw):
    args = dict(categories=["metrology"], item_codes=["metrology.calibration"], due_on=DUE, today=TODAY) | kw
    async with uow.begin() as tx:
        return await usecases.check_assignable(tx, org_id=org_id, station_id=station, **args)


async def test_check_assignable_returns_the_registered_organization(uow):
    uow.store.orgs["org-01"] = organization()
    org = await assignable(uow)
    assert org.name == "市计量测试院"  # CORE names the assignee by it


async def test_check_assignable_refuses_an_unknown_organization_on_the_assignee_field(uow):
    with pytest.raises(Invalid) as caught:
        await assignable(uow, org_id="org-nobody")
    assert caught.value.status == 422 and caught.value.field == "assignee_id"


async def test_check_assignable_refuses_an_organization_of_another_city(uow):
    uow.store.orgs["org-01"] = organization()
    with pytest.raises(DomainError) as caught:
        await assignable(uow, station=OTHER_CITY_STATION)
    assert caught.value.status == 409 and "服务区域" in caught.value.zh


async def test_check_assignable_refuses_a_suspended_organization(uow):
    uow.store.orgs["org-01"] = organization()
    await usecases.change_status(uow, ADMIN, "org-01", Status.suspended, reason="投诉核查中", until=None)
    with pytest.raises(DomainError) as caught:
        await assignable(uow)
    assert "已暂停" in caught.value.zh


async def test_admission_edit_and_status_are_audited_once_per_change(uow):
    org, created = await usecases.save_organization(uow, SUPERVISOR, organization())
    assert created and org.status is Status.admitted
    _, created = await usecases.save_organization(uow, SUPERVISOR, organization())  # the same body again
    assert not created
    await usecases.save_organization(uow, ADMIN, organization(name="沈阳市计量测试院"))
    await usecases.change_status(uow, ADMIN, "org-01", Status.suspended, reason="整改", until=None)
    await usecases.change_status(uow, ADMIN, "org-01", Status.suspended, reason="整改", until=None)
    await usecases.change_status(uow, SUPERVISOR, "org-01", Status.admitted, reason="整改完成", until=None)
    audit = uow.store.audit
    assert [a["action"] for a in audit] == ["admitted", "edited", "suspended", "reinstated"]
    assert audit[0]["before"] is None and audit[0]["actor_role"] == "supervisor"
    assert audit[1]["before"]["name"] == "市计量测试院" and audit[1]["after"]["name"] == "沈阳市计量测试院"
    assert audit[2]["reason"] == "整改" and audit[3]["reason"] == "整改完成"
    assert audit[3]["after"] == snapshot(uow.store.orgs["org-01"])


async def test_a_head_keeps_its_own_stations_organizations_and_a_district_its_own(uow):
    own = organization(org_id="org-hn", credit_code="X1", areas=(STATION,))
    await usecases.save_organization(uow, HEAD, own)
    with pytest.raises(Forbidden):  # a city-wide organization is the city's
        await usecases.save_organization(uow, HEAD, organization())
    with pytest.raises(Forbidden):
        await usecases.save_organization(uow, DISTRICT, organization())
    await usecases.save_organization(uow, SUPERVISOR, organization())
    with pytest.raises(Forbidden):  # visible to the head, but not its own
        await usecases.change_status(uow, HEAD, "org-01", Status.suspended, reason="整改", until=None)
    with pytest.raises(NotFound):  # another city's head does not even see it
        await usecases.change_status(uow, OTHER_HEAD, "org-hn", Status.suspended, reason="整改", until=None)
    with pytest.raises(Forbidden):  # nor may a head widen its own organization to the city
        await usecases.save_organization(uow, HEAD, replace(own, areas=(CITY,)))
    await usecases.change_status(uow, HEAD, "org-hn", Status.exited, reason="协议到期不再续签", until=None)
    assert uow.store.orgs["org-hn"].status is Status.exited


async def test_one_credit_code_is_one_organization_and_the_refusal_does_not_name_the_other(uow):
    await usecases.save_organization(uow, ADMIN, organization())
    copy = organization(org_id="org-copy", areas=(OTHER_CITY_STATION,))
    for who in (ADMIN, OTHER_HEAD):  # the other city's head may not even see org-01
        with pytest.raises(DomainError) as caught:
            await usecases.save_organization(uow, who, copy)
        error = caught.value
        assert error.status == 409 and error.code == "duplicate_credit_code"
        assert error.zh == "该统一社会信用代码已登记为另一家机构"
        assert error.en == "this credit code is already registered to another organization"
    assert uow.store.locked == ["12210100MB0000001P"] * 3  # each save waits for any other under its code
    assert set(uow.store.orgs) == {"org-01"}


class OutcomeStore:
    def __init__(self) -> None:
        self.resolutions: list[tuple] = []
        self.ratings: list[tuple] = []

    async def record_resolution_outcome(self, *row) -> None:
        self.resolutions.append(row)

    async def record_rating_outcome(self, *row) -> None:
        self.ratings.append(row)


async def test_a_resolution_late_in_the_evening_in_china_counts_on_its_china_date():
    uow = FakeUnitOfWork(OutcomeStore(), consumer="dispatch")
    cause = f.submitted()
    # 23:30 in China on the due date is still that day (the UTC date is the day before).
    late_evening = datetime(2026, 10, 20, 15, 30, tzinfo=UTC)
    event = f.resolved(cause).model_copy(update={"resolved_at": late_evening, "assignment_no": 1})
    await uow.handle(event, usecases.record_resolution)
    await uow.handle(f.rated(cause), usecases.record_rating)
    (demand_id, round_, station, assignment_no, outcome, _, resolved_on) = uow.store.resolutions[0]
    assert (demand_id, round_, station, assignment_no, outcome, resolved_on) == (
        cause.demand_id,
        1,
        STATION,
        1,
        "met",
        DUE,
    )
    assert uow.store.ratings[0][:4] == (cause.demand_id, 1, STATION, "satisfied")


async def test_whether_a_rating_counts_as_satisfied_is_evaluations_to_say():
    """满意 is evaluation's setting (EVALUATION_SATISFIED_LEVELS): the record keeps what the Rated says of it, e.g. a
    满意 that a city counting only 非常满意 does not count; a Rated from before the flag leaves it to the default."""
    uow = FakeUnitOfWork(OutcomeStore(), consumer="dispatch")
    strict, lenient, older = f.submitted(), f.submitted(), f.submitted()
    await uow.handle(f.rated(strict).model_copy(update={"counts_as_satisfied": False}), usecases.record_rating)
    average = f.rated(lenient, overall=Overall.average).model_copy(update={"counts_as_satisfied": True})
    await uow.handle(average, usecases.record_rating)
    await uow.handle(f.rated(older), usecases.record_rating)
    assert [(r[0], r[3], r[6]) for r in uow.store.ratings] == [
        (strict.demand_id, "satisfied", False),
        (lenient.demand_id, "average", True),
        (older.demand_id, "satisfied", None),  # counted as 非常满意 + 满意 by the record's query
    ]
