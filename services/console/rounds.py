"""Who sees which form on a demand's page after resolution: 办结, 评价 (link and paper), 核实, 申诉复核. Pure.

A form is shown only to a role the service lets act and only while the service would take it, so nobody meets a
button that can only fail. The services still decide: a forged or stale post gets their refusal (403, 409), shown in
Chinese on the page.
"""

from collections.abc import Mapping

from shared.auth import STAFF, Role
from shared.contracts import Finding, RatingSource

from .session import Person

FINDINGS = {f.value: f.label for f in Finding}
OUTCOMES = {"met": "需求已满足", "not_met": "无法满足，已向企业说明原因"}
SURVEY_STATUS = {
    "waiting": "待办结后评价",
    "open": "待企业评价",
    "rated": "已评价",
    "closed": "需求已终止，无需评价",
}
SOURCES = {RatingSource.online.value: "企业在线评价", RatingSource.paper.value: "纸质评价表录入"}
STARS = {5: "★★★★★ 5", 4: "★★★★☆ 4", 3: "★★★☆☆ 3", 2: "★★☆☆☆ 2", 1: "★☆☆☆☆ 1"}
RESOLVABLE = ("assigned", "referred")  # tracking: only a case being handled is resolved


def may_resolve(case: Mapping, role: Role) -> bool:
    """办结: the station's staff or the organization handling it (tracking finds the case in their scope), while the
    case is being handled."""
    return (role in STAFF or role is Role.org) and case.get("status") in RESOLVABLE


def may_verify(case: Mapping, person: Person) -> bool:
    """核实 of a 不满意 rating (待核实): the station's head, or the clerk who is the case's first responder.

    Tracking knows the first responder by account (`first_responder_id`); while its sheet does not show that id,
    the name it shows stands in (a clerk of the same name would see the form and get tracking's 403)."""
    if not case.get("awaiting_verification"):
        return False
    role = Role(person.role)
    if role is Role.head:
        return True
    if role is not Role.clerk:
        return False
    if "first_responder_id" in case:
        return bool(case["first_responder_id"]) and case["first_responder_id"] == person.subject
    return bool(case.get("first_responder")) and case["first_responder"] == person.name


def may_rate(survey: Mapping | None, role: Role) -> bool:
    """A rating link or a paper rating: the station's staff, while the round is open for rating."""
    return survey is not None and role in STAFF and survey.get("status") == "open"


def may_void(rating: Mapping, role: Role, survey: Mapping | None = None) -> bool:
    """申诉复核: a supervisor (evaluation checks that their area covers the station), a rating not voided yet, of the
    survey's current round (a founded 核实 that reopened the demand settles the older round's rating for good)."""
    current = survey is None or survey.get("round", rating["round"]) <= rating["round"]
    return role is Role.supervisor and not rating.get("voided") and current


def awaiting_sync(case: Mapping, survey: Mapping | None) -> bool:
    """The services hear of each other through events: right after a resolution the survey has not opened yet, right
    after a rating the tracking sheet does not show it yet. The page then refreshes itself for a moment."""
    if survey is None:
        return False
    if survey.get("round", 0) < case.get("round", 0):  # reopened (重办): the survey moves to the round after
        return True
    if survey.get("round") != case.get("round"):
        return False
    resolved_not_open = bool(case.get("resolved_at")) and survey.get("status") == "waiting"
    rated_not_tracked = survey.get("status") == "rated" and not case.get("rated_at")
    return resolved_not_open or rated_not_tracked
