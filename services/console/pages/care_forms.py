"""The forms of the aftercare pages <-> the services' request bodies: 跟进记录 (tracking), 回访 (tracking), 投诉 and its
stages (intake), and the period of the KPI and scorecard views. Pure.

As in forms.py, form fields are named after the API's dotted fields (`appointment.on`), so an error the API names
lands next to the field that caused it; a field left empty is not sent, so the API says 必填 rather than "too short".
"""

import re
from datetime import date, datetime, time

from shared.calendar import CHINA
from shared.contracts import ComplaintStage, ComplaintSubject, FollowUpKind, RevisitMethod

from ..forms import FormData, put, text

FOLLOW_UP_KINDS = {k.value: k.label for k in FollowUpKind}
REVISIT_METHODS = {m.value: m.label for m in RevisitMethod}
# Staff record what reached them by these; `online` is the enterprise's own, through its status link.
COMPLAINT_CHANNELS = {"phone": "电话", "letter": "信函", "window": "窗口", "im": "微信/即时通讯"}
COMPLAINT_SUBJECTS = {s.value: s.label for s in ComplaintSubject}
# What the head does at each stage, as the button and the note's label say it (GB/T 19012).
STAGE_ACTIONS = {
    ComplaintStage.acknowledged.value: ("确认受理", "告知投诉人已受理的情况（时间、方式）"),
    ComplaintStage.investigated.value: ("完成调查", "调查经过与查明的事实"),
    ComplaintStage.resolved.value: ("作出处理", "处理意见与整改措施"),
    ComplaintStage.answered.value: ("答复投诉人", "给投诉人的答复（网上投诉的企业可在查询链接看到）"),
    ComplaintStage.closed.value: ("结案", "结案意见"),
}
STAGE_LABELS = {s.value: s.label for s in ComplaintStage}
_PRINTED_NO = re.compile(r"^(?:.+-)?([0-9]{4}-[0-9]{6})$")


def _yes_no(raw: str | None) -> bool | str | None:
    """A yes/no radio as the API takes it; anything else goes on as it came, for the API to refuse at its field."""
    return {"yes": True, "no": False}.get(raw, raw) if raw is not None else None


# tracking's follow-up rule (services/tracking/followups/domain.py): any kind while the case is handled, only an
# explanation (解释说明) once resolved or rated, nothing once it ended or was archived. The form offers just these;
# tracking still decides.
OPEN_STATUSES = ("submitted", "reopened", "returned", "assigned", "referred")
AFTER_RESOLUTION = ("resolved", "rated")


def follow_up_kinds(status: str) -> tuple[str, ...]:
    if status in OPEN_STATUSES:
        return tuple(FOLLOW_UP_KINDS)
    if status in AFTER_RESOLUTION:
        return (FollowUpKind.explanation.value,)
    return ()


FOLLOW_UP_FIELDS = (
    "kind",
    "text",
    "appointment",
    "appointment.on",
    "appointment.at",
    "appointment.place",
    "appointment.attendees",
)


def follow_up_body(form: FormData) -> dict:
    """跟进记录 as tracking's POST /demands/{id}/follow-ups takes it: the appointment only for kind 预约 (the form
    keeps its fields visible; what was typed there for another kind is not sent)."""
    body: dict = {}
    kind = text(form, "kind")
    put(body, "kind", kind)
    put(body, "text", text(form, "text"))
    if kind == FollowUpKind.appointment.value:
        appointment: dict = {}
        for name in ("on", "at", "place", "attendees"):
            put(appointment, name, text(form, f"appointment.{name}"))
        body["appointment"] = appointment
    return body


REVISIT_FIELDS = ("method", "revisited_at", "reached", "contact", "enterprise_said", "need_met")


def china_moment(raw: str | None) -> str | None:
    """A `datetime-local` value (China time, no offset) as the aware ISO time the API takes; else as it came."""
    if raw is None:
        return None
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        return raw
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=CHINA)
    return moment.isoformat()


def local_minute(moment: datetime) -> str:
    """Now as a `datetime-local` field shows it: China time to the minute."""
    return moment.astimezone(CHINA).strftime("%Y-%m-%dT%H:%M")


def revisit_body(form: FormData) -> dict:
    """回访 as tracking's POST /demands/{id}/revisits takes it; not reached: no need_met (the API refuses it)."""
    body: dict = {}
    put(body, "method", text(form, "method"))
    put(body, "revisited_at", china_moment(text(form, "revisited_at")))
    reached = _yes_no(text(form, "reached"))
    put(body, "reached", reached)
    for name in ("contact", "enterprise_said"):
        put(body, name, text(form, name))
    if reached is not False:
        put(body, "need_met", _yes_no(text(form, "need_met")))
    return body


COMPLAINT_FIELDS = (
    "channel",
    "subject",
    "subject_id",
    "subject_name",
    "tracking_no",
    "complainant_name",
    "complainant_contact",
    "enterprise_name",
    "content",
)


def plain_tracking_no(raw: str | None) -> str | None:
    """The tracking number as intake takes it (2026-000012), also when typed as printed (hunnan-01-2026-000012)."""
    if raw is None:
        return None
    found = _PRINTED_NO.match(raw.replace(" ", ""))
    return found.group(1) if found else raw


def complaint_body(form: FormData) -> dict:
    """投诉登记 as intake's POST /complaints takes it (the station is the caller's own)."""
    body: dict = {}
    for name in COMPLAINT_FIELDS:
        put(body, name, text(form, name))
    if "tracking_no" in body:
        body["tracking_no"] = plain_tracking_no(body["tracking_no"])
    if body.get("subject") == ComplaintSubject.station.value:
        body.pop("subject_id", None)  # the station itself: nobody to name
        body.pop("subject_name", None)
    return body


STAGE_FIELDS = ("stage", "note", "founded", "subject", "subject_id", "subject_name")


def stage_body(form: FormData) -> dict:
    """The next stage as intake's POST /complaints/{id}/stages takes it: `founded` at 处理, and a correction of
    what the complaint is about only where the head changed it (the form shows the current values)."""
    body: dict = {}
    stage = text(form, "stage")
    put(body, "stage", stage)
    put(body, "note", text(form, "note"))
    if stage == ComplaintStage.resolved.value:
        put(body, "founded", _yes_no(text(form, "founded")))
    for name in ("subject", "subject_id", "subject_name"):
        value = text(form, name)
        if value is not None and value != text(form, f"was.{name}"):
            body[name] = value
    return body


def period_query(start: str | None, end: str | None) -> dict:
    """`from`/`to` for GET /kpis and /scorecards: a date the browser sent, else nothing (the API's default, this
    month so far in China); a malformed one goes on, for the API to refuse at its field."""
    query = {}
    for name, raw in (("from", start), ("to", end)):
        raw = (raw or "").strip()
        if raw:
            query[name] = raw
    return query


def month_start(today: date) -> date:
    return today.replace(day=1)


def hhmm(value: str | time | None) -> str:
    """An appointment's time as people read it: 09:30."""
    if not value:
        return ""
    return str(value)[:5]
