"""What the head's, the clerk's, the organization's and the supervisor's casework pages share: who may take which
decision on a case (pure, from the tracking sheet and the person), the request bodies the forms become (pure), and
the one way a form is submitted (a service call; its refusal back on the form at its field; a message when done).

A form is shown only to a role the service lets act, while the service would take it, so nobody meets a button that
can only fail. The services still decide: a forged or stale post gets their refusal (403, 409) in Chinese.
"""

import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from fastapi import Request
from fastapi.responses import Response

from shared.auth import STAFF, Role

from ..client import ServiceError
from ..forms import FormData, pick, place_errors, text
from ..session import Person
from ..web import flash, is_htmx, redirect
from .demands import FormState, blank

Done = tuple[str, str | None, str | None]  # the message, and a link with its label
View = Callable[[dict[str, FormState], int], Awaitable[Response]]

# Tracking's statuses: the case is open (dispatch still takes decisions on it), and being handled (its clock runs).
OPEN = ("submitted", "reopened", "returned", "assigned", "referred")
HANDLED = ("assigned", "referred")
ASSIGNED_TO_STAFF = ("first_responder", "staff")


# --- who may (pure) ---


def may_return(case: Mapping, person: Person) -> bool:
    """退单: the current assignee — the organization holding it, the staff member responsible (or the first
    responder keeping it) — or the head on behalf of a department, a referral or the station's staff. An
    organization's assignment is returned by the organization itself (the head rematches it instead)."""
    if case.get("status") not in HANDLED:
        return False
    kind, who, role = case.get("assignee_kind"), case.get("assignee_id"), Role(person.role)
    if role is Role.org:
        return kind == "organization" and bool(person.org) and who == person.org
    if role is Role.clerk:
        return kind in ASSIGNED_TO_STAFF and bool(who) and who == person.subject
    return role is Role.head and kind != "organization"


def may_rematch(case: Mapping, role: Role) -> bool:
    """改派 while being handled (the assignment form takes a demand already assigned); a waiting one is 派单."""
    return role is Role.head and case.get("status") in HANDLED


def may_refer(case: Mapping, role: Role) -> bool:
    return role is Role.head and case.get("status") in OPEN


def may_close(case: Mapping, role: Role) -> bool:
    """否定备案 and 并单: the head, on an open demand in its first round (a re-handling answers a founded 不满意 and is
    resolved, never refused or merged)."""
    return role is Role.head and case.get("status") in OPEN and int(case.get("round") or 1) == 1


def may_handle_clock(case: Mapping, role: Role) -> bool:
    """挂起, 恢复计时 and 延期申请: the station's staff or the organization handling it (tracking finds the case in
    their scope), while it is being handled."""
    return (role in STAFF or role is Role.org) and case.get("status") in HANDLED and bool(case.get("handling_due_on"))


def may_ask_extension(case: Mapping, clock: Mapping, role: Role) -> bool:
    """延期申请: before the deadline, not while paused, one at a time."""
    if not may_handle_clock(case, role) or clock.get("paused_since"):
        return False
    if any(e.get("status") == "pending" for e in clock.get("extensions") or []):
        return False
    due, today = clock.get("handling_due_on"), clock.get("today")
    return not (due and today and str(today) > str(due))


def pending_extensions(clock: Mapping, role: Role) -> list[dict]:
    """Requests the head decides (only those of the assignment in force; tracking refuses the others with 409)."""
    if role is not Role.head:
        return []
    return [e for e in clock.get("extensions") or [] if e.get("status") == "pending"]


def may_supervise(case: Mapping, role: Role) -> bool:
    """督办 by a supervisor (tracking checks that its area covers the station), on a case still open."""
    return role is Role.supervisor and case.get("status") in OPEN


def open_replies(clock: Mapping) -> list[dict]:
    """督办 of the case still waiting for the station's answer (their reply deadlines)."""
    return [
        d for d in clock.get("deadlines") or [] if d.get("kind") == "reply" and d.get("status") in ("open", "overdue")
    ]


# --- the forms' request bodies (pure) ---


RETURN_FIELDS = ("reason",)
REFER_FIELDS = ("department", "contact_name", "contact_phone", "reason", "due_on")
REFUSE_FIELDS = ("reason", "basis")
MERGE_FIELDS = ("into", "reason")
PAUSE_FIELDS = ("reason_kind", "reason")
RESUME_FIELDS = ("note",)
EXTENSION_FIELDS = ("new_due_on", "reason")
DECISION_FIELDS = ("approved", "comment")
SUPERVISE_FIELDS = ("comment", "reply_due_on")
ANSWER_FIELDS = ("answer",)
CLOCK_FIELDS = (
    "response_days",
    "warn_days",
    "escalate_after_days",
    "reply_days",
    "verify_days",
    "rehandling_days",
    "revisit_days",
    "revisit_sample_rate",
)
LIST_FIELDS = frozenset(("station_ids", "categories"))  # fields of ticked boxes: a list, kept as such on a refusal
ATTACHMENT_ROWS = 3
ATTACHMENT_FIELDS = tuple(f"attachments.{i}.{part}" for i in range(ATTACHMENT_ROWS) for part in ("name", "ref"))
TASK_FIELDS = ("title", "description", "due_on", "station_ids", *ATTACHMENT_FIELDS)
REPORT_FIELDS = ("kind", "text", *ATTACHMENT_FIELDS)


def decision_body(form: FormData) -> dict:
    """延期审批: 同意 / 不同意 as a boolean; a value the form could not have sent goes on for the API to refuse."""
    body = pick(form, ("comment",))
    approved = text(form, "approved")
    if approved is not None:
        body["approved"] = {"yes": True, "no": False}.get(approved, approved)
    return body


def clock_settings_body(form: FormData) -> dict:
    """本站时限设置: every field sent; left empty is null (the service's default)."""
    body: dict[str, Any] = {}
    for name in CLOCK_FIELDS:
        raw = text(form, name)
        if raw is None:
            body[name] = None
        elif name == "revisit_sample_rate":
            body[name] = _percent(raw)
        else:
            body[name] = int(raw) if raw.isdigit() else raw
    return body


def _percent(raw: str) -> Any:
    """The page asks for a percentage (people think 20%, not 0.2); the API takes a share."""
    try:
        return round(float(raw.rstrip("%")) / 100, 4)
    except ValueError:
        return raw


def attachments(form: FormData) -> list[dict]:
    """附件 rows the form shows: a row half filled goes on, for the API to name the missing half."""
    rows = []
    for i in range(ATTACHMENT_ROWS):
        row = {part: v for part in ("name", "ref") if (v := text(form, f"attachments.{i}.{part}")) is not None}
        if row:
            rows.append(row)
    return rows


def task_body(form: FormData) -> dict:
    """下达专项工作: no station ticked is every station of the caller's area (the API's default)."""
    body = pick(form, ("title", "description", "due_on"))
    body["attachments"] = attachments(form)
    stations = [s for s in form.getlist("station_ids") if s]
    if stations:
        body["station_ids"] = list(dict.fromkeys(stations))
    return body


def report_body(form: FormData) -> dict:
    return pick(form, ("kind", "text")) | {"attachments": attachments(form)}


# --- submitting a form ---


def key_of(form: FormData) -> str:
    """The idempotency key made when the form was shown: a double click or a resent form acts once."""
    return str(form.get("idempotency_key") or "") or str(uuid.uuid4())


async def submit(
    request: Request,
    name: str,
    shown: tuple[str, ...],
    act: Callable[[FormData, str], Awaitable[Done]],
    view: View,
    done_url: str | Callable[[], str],
) -> Response:
    """Calls the service; done: a message, and on to `done_url` (a callable: made from what the service answered).
    A refusal (422: a field; 409: the state changed meanwhile) comes back on the page (`view`) with the service's
    message next to its field, what was typed kept."""
    form = await request.form()
    key = key_of(form)
    try:
        message, link, label = await act(form, key)
    except ServiceError as exc:
        if exc.status not in (409, 422):
            raise
        values = {n: str(form.get(n) or "") for n in shown} | {"idempotency_key": key}
        for listed in LIST_FIELDS.intersection(shown):  # ticked boxes: every one ticked
            values[listed] = [s for s in form.getlist(listed) if s]
        if exc.status == 409:  # the state changed meanwhile: this key may not be reused
            values["idempotency_key"] = str(uuid.uuid4())
        state = FormState(values, place_errors(exc.field_errors(), shown, exc.message))
        # htmx swaps only 2xx replies: the page with the form's errors comes back as 200 to it.
        return await view({name: state}, 200 if is_htmx(request) else exc.status)
    flash(request, "ok", message, link, label)
    return redirect(request, done_url() if callable(done_url) else done_url)


def states(
    names: Iterable[str], posted: Mapping[str, FormState] | None, prefill: Mapping[str, dict] | None = None
) -> dict[str, FormState]:
    """Each named form blank (a fresh idempotency key) or prefilled, but the one posted, as it came back."""
    out = {n: blank(**(prefill or {}).get(n, {})) for n in names}
    return out | dict(posted or {})
