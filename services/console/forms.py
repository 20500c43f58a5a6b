"""HTML forms <-> the services' request bodies, and the services' field errors back onto the form. Pure, but for
`categories` (the catalogue's labels a form offers, asked of intake).

Form fields are named after the API's dotted fields (`enterprise.credit_code`, `contact.phone`), so an error the
API names (`{"field": "contact.phone", "message": "电话号码无效…"}`) lands next to the field that caused it. An error
on a field the form does not show (or with no field) is shown above the form.

Every page's form reads its fields with `text`, `pick` and `put` here, refuses a field the console checks itself
with `invalid`, and offers service categories with `categories`: one definition each.
"""

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol
from urllib.parse import urlencode

from .client import ServiceError

if TYPE_CHECKING:
    from .client import Services


class FormData(Protocol):
    def get(self, key: str, default: str | None = None) -> str | None: ...
    def getlist(self, key: str) -> list[str]: ...


def text(form: FormData, name: str) -> str | None:
    """A field as typed, trimmed; left empty is None: not sent, so the API says 必填项缺失 rather than "too short"."""
    value = form.get(name)
    if not isinstance(value, str):
        return None
    return value.strip() or None


def pick(form: FormData, names: Iterable[str]) -> dict:
    """The named fields that were filled in, as the API takes them (flat)."""
    return {n: v for n in names if (v := text(form, n)) is not None}


def put(body: dict, dotted: str, value: object) -> None:
    """`value` at the dotted field of `body` (`contact.phone` -> body["contact"]["phone"]); None: not sent."""
    if value is None:
        return
    *parents, last = dotted.split(".")
    for p in parents:
        body = body.setdefault(p, {})
    body[last] = value


def invalid(name: str, message: str) -> ServiceError:
    """A field the console refuses before asking a service (an id that would be read as another address, one that
    is taken), in the services' own 422 shape, so the form shows it at the field like theirs."""
    return ServiceError(422, message, message, code="invalid", errors=[{"field": name, "message": message}])


async def categories(api: "Services", keep: Iterable[str] = ()) -> dict[str, str]:
    """The catalogue's service categories {code: label} a form offers. `keep`: the codes the record (or the form as
    posted) holds, offered too under their code when the catalogue does not list them (or intake is away), so saving
    the form never drops one."""
    try:
        found = {c["code"]: c["label"] for c in await api.categories()}
    except ServiceError:
        found = {}  # intake away: the codes the record holds are still shown and kept
    for code in keep:
        found.setdefault(code, code)
    return found


DEMAND_FIELDS = (
    "enterprise.name",
    "enterprise.credit_code",
    "contact.name",
    "contact.phone",
    "items",
    "description",
    "channel",
    "green_channel",
    "green_channel_reason",
)


def demand_body(form: FormData, station_id: str) -> dict:
    """一表登记 as intake's POST /demands takes it; the station is the signed-in clerk's, never the form's."""
    body: dict = {"station_id": station_id}
    for name in ("enterprise.name", "enterprise.credit_code", "contact.name", "contact.phone"):
        put(body, name, text(form, name))
    codes = list(dict.fromkeys(c for c in form.getlist("items") if c))
    body["items"] = [
        {"code": code, "materials_received": [m for m in form.getlist(f"materials.{code}") if m]} for code in codes
    ]
    for name in ("description", "channel", "green_channel", "green_channel_reason", "visit_id"):
        put(body, name, text(form, name))
    if "green_channel" not in body:
        body.pop("green_channel_reason", None)  # a reason without a green channel asks for nothing
    return body


ASSIGN_FIELDS = ("assignee_kind", "assignee_id", "department_id", "responsible_id", "handling_mode", "due_on", "note")


def assignment_body(form: FormData) -> dict:
    """派单 as dispatch's POST /demands/{id}/assignments takes it: only the fields of the chosen kind."""
    kind = text(form, "assignee_kind")
    body: dict = {}
    put(body, "assignee_kind", kind)
    if kind == "organization":
        put(body, "assignee_id", text(form, "assignee_id"))
    elif kind == "staff":
        put(body, "department_id", text(form, "department_id"))
        put(body, "responsible_id", text(form, "responsible_id"))
    for name in ("handling_mode", "due_on", "note"):
        put(body, name, text(form, name))
    return body


RESOLVE_FIELDS = (
    "outcome",
    "summary",
    "round",
    "fee.free_service",
    "fee.amount_yuan",
    "fee.payer",
    "fee.note",
    "deliverables",
    "staff_involved",
)
_SEPARATORS = re.compile(r"[、，,;；\n]+")


def resolution_body(form: FormData) -> dict:
    """办结 as tracking's POST /demands/{id}/resolution takes it, with the round the page showed (a page left open
    since the round before cannot resolve the round after it), and the fee, deliverables and staff for the record."""
    body: dict = {}
    for name in ("outcome", "summary"):
        put(body, name, text(form, name))
    round_ = text(form, "round")
    if round_ is not None and round_.isdigit():
        body["round"] = int(round_)
    free = text(form, "fee.free_service")
    if free in ("true", "false"):
        fee: dict = {"free_service": free == "true"}
        amount = text(form, "fee.amount_yuan")
        if amount is not None:
            try:
                fee["amount_yuan"] = float(amount)
            except ValueError:
                fee["amount_yuan"] = amount  # sent as typed: the API answers 422 on fee.amount_yuan
        for name in ("payer", "note"):
            put(fee, name, text(form, f"fee.{name}"))
        body["fee"] = fee
    lines = (text(form, "deliverables") or "").splitlines()
    deliverables = []
    for line in (x.strip() for x in lines):
        if line:
            title, _, reference = line.replace("|", "｜").partition("｜")
            deliverables.append({"title": title.strip(), "reference": reference.strip() or title.strip()})
    if deliverables:
        body["deliverables"] = deliverables
    staff = [s.strip() for s in _SEPARATORS.split(text(form, "staff_involved") or "") if s.strip()]
    if staff:
        body["staff_involved"] = staff
    return body


VERIFY_FIELDS = ("finding", "reason", "evidence")


def verification_body(form: FormData) -> dict:
    """核实 as tracking's POST /demands/{id}/verification takes it."""
    body: dict = {}
    for name in VERIFY_FIELDS:
        put(body, name, text(form, name))
    return body


# The satisfaction form (000 附录E): items 1–4 and 6–9 in stars, 5 yes/no, 10 the overall level, 11 comments.
STAR_ITEMS = (
    ("station_service", 1, "您对本次工作站的服务的满意程度"),
    ("station_timeliness", 2, "您对本次工作站的及时性的满意程度"),
    ("station_professionalism", 3, "您对本次工作站的专业性的满意程度"),
    ("station_civility", 4, "您对本次工作站的文明性的满意程度"),
    ("technician_professionalism", 6, "您对本次服务的技术人员的专业性的满意程度"),
    ("technician_timeliness", 7, "您对本次服务的技术人员的及时性的满意程度"),
    ("technician_civility", 8, "您对本次服务的技术人员的文明性的满意程度"),
    ("facilities", 9, "您对本次服务的技术设施的满意程度"),
)
TECHNICIAN_ITEMS = ("technician_professionalism", "technician_timeliness", "technician_civility", "facilities")
RATING_FIELDS = (
    *(f"answers.{name}" for name, _, _ in STAR_ITEMS),
    "answers.problem_solved",
    "answers.overall",
    "answers.comments",
)


def rating_body(form: FormData, technician_items: bool) -> dict:
    """纸质评价表录入 as evaluation's POST /surveys/{id}/rating takes it: only the items filled in (all but item 10
    are optional), items 6–9 only when an organization served (else the API refuses them). A value the form could
    not have sent goes on as it came, for the API to refuse at its field."""
    answers: dict = {}
    for name, _, _ in STAR_ITEMS:
        if name in TECHNICIAN_ITEMS and not technician_items:
            continue
        raw = text(form, f"answers.{name}")
        if raw is not None:
            answers[name] = int(raw) if raw.isdigit() else raw
    solved = text(form, "answers.problem_solved")
    if solved is not None:
        answers["problem_solved"] = {"yes": True, "no": False}.get(solved, solved)
    for name in ("overall", "comments"):
        put(answers, name, text(form, f"answers.{name}"))
    return {"answers": answers}


VOID_FIELDS = ("reason",)


def void_body(form: FormData) -> dict:
    """申诉复核 as evaluation's POST /surveys/{id}/ratings/{round}/void takes it."""
    body: dict = {}
    put(body, "reason", text(form, "reason"))
    return body


@dataclass
class Errors:
    """Field errors as the form shows them: by field name, and those no field shows."""

    fields: dict[str, str] = field(default_factory=dict)
    general: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.fields or self.general)


def place_errors(api_errors: Mapping[str, str], shown: Iterable[str], message: str | None = None) -> Errors:
    """Each API error on the form field it names: `items.0.code` belongs to `items`, `enterprise` (a missing
    object) to its first shown field; what no shown field takes goes above the form, as does `message`
    when no error could be placed."""
    shown = tuple(shown)
    out = Errors()
    for name, text in api_errors.items():
        target = _field_for(name, shown)
        if target is None:
            out.general.append(f"{name}：{text}" if name else text)
        else:
            out.fields.setdefault(target, text)
    if message and not out.fields and not out.general:
        out.general.append(message)
    return out


def _field_for(name: str, shown: tuple[str, ...]) -> str | None:
    if not name:
        return None
    if name in shown:
        return name
    parts = name.split(".")
    for n in range(len(parts) - 1, 0, -1):  # items.0.code -> items.0 -> items
        prefix = ".".join(parts[:n])
        if prefix in shown:
            return prefix
    children = [s for s in shown if s.startswith(name + ".")]
    return children[0] if children else None


@dataclass(frozen=True)
class Pager:
    """Page n of a list the API pages with limit/offset and does not count: one row more than a page is asked
    for, and its presence means there is a next page."""

    page: int
    size: int = 20

    @classmethod
    def of(cls, raw: str | None, size: int = 20) -> "Pager":
        try:
            page = int(raw or 1)
        except ValueError:
            page = 1
        return cls(page=min(max(page, 1), 10_000), size=size)

    @property
    def params(self) -> dict:
        return {"limit": self.size + 1, "offset": (self.page - 1) * self.size}

    def cut(self, rows: list) -> tuple[list, bool]:
        return rows[: self.size], len(rows) > self.size

    def link(self, path: str, params: Mapping[str, object] | None, page: int) -> str:
        """Page `page` of the same list: `path` with the query the list was asked with (a None value left out; an
        empty string kept, where a page tells "all" from "not chosen") and the page last. Templates page through
        `_pager.html`, which calls this."""
        query = {k: v for k, v in (params or {}).items() if v is not None}
        return f"{path}?{urlencode({**query, 'page': page})}"
