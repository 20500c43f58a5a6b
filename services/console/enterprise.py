"""The enterprise's pages, the pure part: the online form's body, the status page's five steps, China dates, the
QR code of a link. No I/O; pages/public.py does the calls.

The enterprise has no account: the private status link (intake) and the one-time rating link (evaluation) are its
only authority, and each reaches one demand. What it is shown comes from the services' public JSON endpoints as they
answer it (intake's StatusOut, evaluation's PublicSurveyOut); nothing here adds what those leave out.
"""

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import structlog

from shared.calendar import CHINA

from .forms import FormData, put, text

log = structlog.get_logger(__name__)

# The status and rating tokens as the services take them (intake's and evaluation's `Token` path parameter): a
# malformed one names no link, and is answered without calling them.
TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,100}$")
# A station id as intake's registry spells them (GB/T 2260 division codes and the station's code, slash-separated).
STATION = re.compile(r"^[A-Za-z0-9_-]{1,40}(/[A-Za-z0-9_-]{1,40}){0,5}$")

PUBLIC_DEMAND_FIELDS = (
    "enterprise.name",
    "enterprise.credit_code",
    "contact.name",
    "contact.phone",
    "items",
    "description",
)
PUBLIC_TEXT_FIELDS = ("enterprise.name", "enterprise.credit_code", "contact.name", "contact.phone", "description")


def valid_token(token: str) -> bool:
    return bool(TOKEN.fullmatch(token))


def token_of(url: str) -> str | None:
    """The token at the end of a link a service built (`…/public/status/<token>`), if it is one."""
    token = url.rstrip("/").rsplit("/", 1)[-1]
    return token if valid_token(token) else None


def public_demand_body(form: FormData) -> dict:
    """网上申报 as intake's POST /public/stations/{station}/demands takes it. Station, channel (网站) and the first
    responder come from the system, not from the form; no material is marked received (nothing was handed over)."""
    body: dict = {}
    for name in ("enterprise.name", "enterprise.credit_code", "contact.name", "contact.phone"):
        put(body, name, text(form, name))
    codes = list(dict.fromkeys(c for c in form.getlist("items") if c))
    body["items"] = [{"code": code} for code in codes]
    put(body, "description", text(form, "description"))
    return body


COMPLAINT_FIELDS = ("subject", "subject_name", "content", "contact_name", "contact_phone")
COMPLAINT_SUBJECTS = {"station": "服务站", "staff": "工作人员", "organization": "承办的服务机构"}


def complaint_body(form: FormData) -> dict:
    """网上投诉 as intake's POST /public/status/{token}/complaints takes it; the contact left empty is the demand's."""
    body: dict = {}
    for name in COMPLAINT_FIELDS:
        put(body, name, text(form, name))
    return body


# --- the status page: 受理 → 办理中 → 办结 → 评价 → 归档 ---

STEP_LABELS = ("受理", "办理中", "办结", "评价", "归档")
HANDLING = ("assigned", "returned", "rematched", "referred", "reopened")
ENDING_LABELS = {"refused": "未予受理", "merged": "已合并办理", "withdrawn": "已撤回"}


@dataclass(frozen=True)
class Step:
    label: str
    state: str  # done, current, todo, skipped
    note: str = ""


def _reached(progress: str) -> int:
    """How many of the five steps are behind the demand; the next one is where it stands."""
    if progress == "archived":
        return 5
    if progress in ("rated", "verified"):
        return 4
    if progress == "resolved":
        return 3
    return 1  # submitted (waiting for dispatch) or being handled: 办理中 is where it stands


def steps(status: dict) -> list[Step]:
    """The five steps as the enterprise follows them, each with what the status link tells of it."""
    progress = str(status.get("progress") or "submitted")
    if status.get("ending"):  # refused, merged or withdrawn (and archived after that): nothing between
        states = ["done", "skipped", "skipped", "skipped", "done" if progress == "archived" else "skipped"]
    else:
        reached = _reached(progress)
        states = ["done" if i < reached else "current" if i == reached else "todo" for i in range(len(STEP_LABELS))]
    notes = {0: f"受理时间 {cn_moment(status.get('submitted_at'))}"}
    if progress == "submitted":
        notes[1] = "正在安排承办单位"
    elif progress in HANDLING:
        notes[1] = str(status.get("progress_label") or "")
    elif status.get("handled_by") and states[1] == "done":
        notes[1] = f"承办单位：{status['handled_by']}"
    if states[2] in ("current", "todo") and status.get("expected_on"):
        notes[2] = f"预计 {cn_day(status['expected_on'])} 前办结"
    if progress == "resolved":
        notes[3] = "待评价"
    elif progress == "verified" and status.get("verification"):
        notes[3] = str(status["verification"].get("finding_label") or "")
    if status.get("archive_no"):
        notes[4] = f"档案编号 {status['archive_no']}"
    return [
        Step(label, state, notes.get(i, "")) for i, (label, state) in enumerate(zip(STEP_LABELS, states, strict=True))
    ]


def needed(status: dict, rate_here: bool = False) -> list[str]:
    """What is still needed from the enterprise, as the status link tells it (一次告知: the notice lists the
    materials; a pause says what the station waits for). `rate_here`: the page offers its own 去评价 button."""
    progress = str(status.get("progress") or "")
    out = []
    paused = status.get("paused")
    if paused:
        what = str(paused.get("reason_label") or "暂停计时")
        reason = str(paused.get("reason") or "")
        out.append(f"{what}：{reason}（自 {cn_day(paused.get('paused_at'))} 起暂停计时）" if reason else what)
    if progress == "resolved":
        out.append(
            "服务已办结，请点击下方“去评价”评价本次服务；服务站发送给您的一次性评价链接同样可用，评价一次即可。"
            if rate_here
            else "服务已办结，请使用服务站发送给您的一次性评价链接评价本次服务。"
        )
    return out


# --- China dates, as the enterprise reads them ---


def _moment(value: Any) -> datetime | None:
    if not value:
        return None
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.astimezone(CHINA) if moment.tzinfo is not None else moment


def cn_moment(value: Any) -> str:
    """2026年11月26日 14:05, China time."""
    moment = _moment(value)
    return f"{moment.year}年{moment.month}月{moment.day}日 {moment:%H:%M}" if moment else ""


def cn_day(value: Any) -> str:
    """2026年12月3日: a date as the services give it (a China date), or the China date of an instant."""
    if not value:
        return ""
    if isinstance(value, str) and len(value) == 10:
        value = date.fromisoformat(value)
    if isinstance(value, datetime) or (isinstance(value, str) and len(value) > 10):
        value = _moment(value)
    assert isinstance(value, date)
    return f"{value.year}年{value.month}月{value.day}日"


# --- the QR code of a link ---


def qr_data_uri(url: str) -> str | None:
    """The link as a QR code (SVG data URI, shown as an <img>: the pages' CSP allows data: images only).
    segno is pure Python; without it the page shows the link alone, never fails."""
    try:
        import segno
    except ImportError:  # pragma: no cover - the dependency is declared; a machine without it loses the picture only
        log.warning("segno not installed: QR codes are not shown")
        return None
    return segno.make(url, error="m").svg_data_uri(scale=6, border=2)
