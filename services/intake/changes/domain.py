"""Correction and withdrawal rules: when they are allowed, what they change, what the others learn. Pure.

A correction (更正) fixes the form before dispatch: the clerk's new contact, items, description or
detail tables replace the old ones under the same rules as at registration, the commitment is
counted again from the day of submission, and the audit keeps the changed fields before and after.
A withdrawal (撤回, by the station or by the enterprise through its status link) ends a demand
that is not yet resolved.
"""

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime
from uuid import UUID

from shared.contracts import CategoryRef, Contact, DemandCorrected, DemandWithdrawn
from shared.errors import DomainError, InvalidTransition

from ..demands import domain as demands
from ..demands.domain import Correction, Demand, DemandItem

# The form's fields a correction may change, and what follows from the items: a reader replaces them all.
FORM_FIELDS = ("contact", "items", "description", "details", "categories", "time_limit_days", "expected_on")


class Unchanged(DomainError):
    status = 409
    code = "unchanged"


@dataclass(frozen=True)
class Amendment:
    """What a correction asks for; None keeps the field as it is."""

    contact: tuple[str, str] | None = None  # (name, phone)
    items: tuple[DemandItem, ...] | None = None  # resolved against the catalogue in force
    description: str | None = None
    details: dict | None = None  # the detail tables, empty ones left out


def form_view(d: Demand) -> dict:
    """The correctable part of the form as plain JSON values, to compare and to audit."""
    return {
        "contact": {"name": d.contact_name, "phone": d.contact_phone},
        "items": [
            {
                "code": i.item_code,
                "version": i.item_version,
                "label": i.label,
                "category": i.category,
                "time_limit_days": i.time_limit_days,
                "materials": list(i.materials),
                "materials_received": list(i.materials_received),
                "remarks": i.remarks,
            }
            for i in d.items
        ],
        "description": d.description,
        "details": d.details,
        "categories": [{"code": c.code, "label": c.label} for c in d.categories],
        "time_limit_days": d.time_limit_days,
        "expected_on": d.expected_on.isoformat() if d.expected_on else None,
    }


def check_correctable(d: Demand) -> None:
    if d.status != "open" or d.closure is not None:
        raise InvalidTransition("需求已终止，不能再更正", "the demand has ended; its form can no longer be corrected")
    if d.progress != "submitted" or d.handling.count > 0:
        raise InvalidTransition(
            "需求已派单，登记内容只能在派单前更正", "the demand has been dispatched; its form is corrected only before"
        )


def correct(
    d: Demand,
    amendment: Amendment,
    *,
    reason: str,
    by: str,
    by_id: str,
    at: datetime,
    correction_id: UUID,
    category_labels: Mapping[str, str],
    workday_overrides: Mapping[date, bool],
) -> tuple[Demand, Correction]:
    """The corrected demand and its audit row; 409 once dispatched or ended, or when nothing would change."""
    check_correctable(d)
    new = d
    if amendment.contact is not None:
        new = replace(new, contact_name=amendment.contact[0], contact_phone=amendment.contact[1])
    if amendment.description is not None:
        new = replace(new, description=amendment.description)
    if amendment.details is not None:
        new = replace(new, details=amendment.details)
    if amendment.items is not None:
        new = replace(new, items=amendment.items, categories=demands.categories_of(amendment.items, category_labels))
    if new.items:
        # Counted again as at submission, with the calendar as it now stands.
        time_limit = max(i.time_limit_days for i in new.items)
        new = replace(
            new,
            time_limit_days=time_limit,
            expected_on=demands.expected_on(d.submitted_at, time_limit, workday_overrides),
        )
    demands.check_details(new.details, new.items)
    before, after = form_view(d), form_view(new)
    changed = tuple(f for f in FORM_FIELDS if before[f] != after[f])
    if not changed:
        raise Unchanged("更正内容与现登记内容相同，无需更正", "the correction changes nothing")
    correction = Correction(
        correction_id=correction_id,
        corrected_by=by,
        corrected_by_id=by_id,
        corrected_at=at,
        reason=reason,
        changed=changed,
        before={f: before[f] for f in changed},
        after={f: after[f] for f in changed},
    )
    return replace(new, corrected_at=at), correction


def corrected_event(d: Demand, c: Correction) -> DemandCorrected:
    """The corrected form whole, so a reader replaces what it keeps; `changed` names what differs."""
    return d.origin.caused(
        DemandCorrected,
        corrected_by=c.corrected_by[:200],
        corrected_at=c.corrected_at,
        reason=c.reason,
        changed=list(c.changed),
        contact=Contact(name=d.contact_name, phone=d.contact_phone),
        categories=[CategoryRef(code=cat.code, label=cat.label) for cat in d.categories],
        items=[demands.item_ref(i) for i in d.items],
        description=d.description,
        time_limit_days=d.time_limit_days,
        expected_on=d.expected_on,
        address=d.address,
        details=d.details,
    )


def check_withdrawable(d: Demand) -> None:
    if demands.withdrawable(d):
        return
    if d.closure is not None and d.closure.kind == "withdrawn":
        raise InvalidTransition("需求已撤回", "the demand has already been withdrawn")
    if d.closure is not None or d.status != "open":
        raise InvalidTransition("需求已终止，不能撤回", "the demand has already ended")
    raise InvalidTransition("需求已办结，不能撤回", "a resolved demand cannot be withdrawn")


def withdraw(d: Demand, *, reason: str, by: str, at: datetime, by_enterprise: bool) -> tuple[Demand, DemandWithdrawn]:
    """The demand withdrawn, and the event that ends it everywhere. `assignment_count` is every assignment intake
    has seen, so the archive knows which history it waits for. The demand keeps the event's id, so a closing made
    meanwhile elsewhere (a refusal, a merge) is weighed against it as every service weighs it (Closing.precedes)."""
    check_withdrawable(d)
    event = d.origin.caused(
        DemandWithdrawn,
        round=d.handling.round,
        assignment_count=d.handling.count,
        reason=reason,
        closed_by=by[:200],
        closed_at=at,
        by_enterprise=by_enterprise,
    )
    return demands.close(d, event), event
