"""The acceptance notice (受理通知书, 002 §7.3.2): everything the enterprise needs to know, once (一次告知).

One template, `templates/notice.html`, gives both the printable HTML page and the PDF
(printed from the same HTML by WeasyPrint, see `shared.documents`). Pure: takes a `Notice`,
returns text or bytes; no database, no HTTP.
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

from shared.documents import Documents


@dataclass(frozen=True)
class NoticeItem:
    label: str  # catalogue item, e.g. 计量器具检定/校准
    category_label: str  # e.g. 计量
    time_limit_days: int  # committed working days for this item
    materials_needed: tuple[str, ...]  # what the enterprise still has to bring
    remarks: str | None = None


@dataclass(frozen=True)
class Notice:
    station_name: str
    station_address: str
    station_phone: str | None
    tracking_no: str  # as printed: the station's code first, e.g. hunnan-01-2026-000137 (printed_tracking_no)
    enterprise_name: str
    credit_code: str
    contact_name: str
    submitted_at: datetime  # China time
    first_responder: str
    channel_label: str  # 窗口, 电话, …
    items: tuple[NoticeItem, ...]
    time_limit_days: int  # the longest of the items: the demand's commitment
    expected_on: date  # submitted + time_limit_days working days (statutory holidays, 调休 counted)
    status_url: str | None  # where the enterprise checks progress (may be absent when re-printed)
    complaint_channels: tuple[str, ...]  # how to complain, e.g. ("向本站站长反映", "12315 热线", …)
    green_channel_reason: str | None = None  # 绿色通道, when granted at intake
    reissued_at: datetime | None = None  # the form was corrected before dispatch: the notice is issued again


# ---------------------------------------------------------------------------
# The view: every sentence of the notice, as plain (unescaped) text; the template
# escapes it (Jinja autoescape).
# ---------------------------------------------------------------------------

CHINA_TZ = timezone(timedelta(hours=8), "Asia/Shanghai")  # no DST in China
_WEEKDAYS = "一二三四五六日"

TITLE = "受理通知书"
WORKDAY_NOTE = "按工作日计算，已扣除法定节假日并计入调休上班日。"
CLOSING = "以上事项一次性告知。尚需提交的材料请按清单一次备齐；办理过程中如有疑问，请与受理人联系。请妥善保管本通知书。"


def format_date(d: date) -> str:
    """2026年10月10日"""
    return f"{d.year:04d}年{d.month:02d}月{d.day:02d}日"


def _china(dt: datetime) -> datetime:
    """Aware values are converted to China time; naive ones are taken to be China time already."""
    return dt.astimezone(CHINA_TZ) if dt.tzinfo is not None else dt


def format_datetime(dt: datetime) -> str:
    """2026年09月30日 09:05, in China time."""
    dt = _china(dt)
    return f"{format_date(dt.date())} {dt.hour:02d}:{dt.minute:02d}"


def _weekday(d: date) -> str:
    return "星期" + _WEEKDAYS[d.weekday()]


def _is_web_url(url: str) -> bool:
    return url.lower().startswith(("https://", "http://"))


def _view(notice: Notice) -> dict:
    accepted = format_datetime(notice.submitted_at)
    expected = format_date(notice.expected_on)
    if notice.status_url:
        progress = f"访问 {notice.status_url} ，凭跟踪单号 {notice.tracking_no} 查询办理进度。"
    elif notice.station_phone:
        progress = f"致电本站 {notice.station_phone} ，或到本站窗口，凭跟踪单号 {notice.tracking_no} 查询办理进度。"
    else:
        progress = f"到本站窗口，凭跟踪单号 {notice.tracking_no} 查询办理进度。"
    complaints = list(notice.complaint_channels)
    if not complaints:
        complaints = [f"致电本站 {notice.station_phone}" if notice.station_phone else "到本站窗口当面反映"]
    return {
        "title": TITLE,
        "station_name": notice.station_name,
        "station_address": notice.station_address,
        "station_phone": notice.station_phone or "",
        "tracking_no": notice.tracking_no,
        "enterprise_name": notice.enterprise_name,
        "credit_code": notice.credit_code,
        "contact_name": notice.contact_name,
        "accepted": accepted,
        "accepted_date": format_date(_china(notice.submitted_at).date()),
        "first_responder": notice.first_responder,
        "channel": notice.channel_label,
        "intro": (
            f"贵单位于 {accepted} 通过{notice.channel_label}提出的服务需求，本站已受理，现将有关事项一次性告知如下："
        ),
        "items": [
            {
                "no": i,
                "label": item.label,
                "category": item.category_label,
                "days": item.time_limit_days,
                "materials": list(item.materials_needed),
                "remarks": item.remarks or "",
            }
            for i, item in enumerate(notice.items, start=1)
        ],
        "time_limit": f"{notice.time_limit_days} 个工作日",
        "expected": expected,
        "expected_full": f"{expected}（{_weekday(notice.expected_on)}）",
        "workday_note": WORKDAY_NOTE,
        "green_channel": (
            f"本需求已纳入绿色通道，优先办理。理由：{notice.green_channel_reason}"
            if notice.green_channel_reason
            else ""
        ),
        "progress": progress,
        "status_url": notice.status_url if notice.status_url and _is_web_url(notice.status_url) else "",
        "complaints": complaints,
        "first_responder_line": (
            f"本站实行首问负责制，受理人{notice.first_responder}为本需求的首位工作人员（首问负责人）。"
        ),
        "closing": CLOSING,
        "reissued": (
            f"本通知书已按更正后的登记内容于 {format_datetime(notice.reissued_at)} 重新出具，原通知书作废。"
            if notice.reissued_at
            else ""
        ),
    }


# ---------------------------------------------------------------------------
# One template (templates/notice.html), two outputs
# ---------------------------------------------------------------------------

_documents = Documents(__package__)
TEMPLATE = "notice.html"


def render_html(notice: Notice) -> str:
    """A standalone, printable (A4) HTML5 page; all text from `notice` is HTML-escaped."""
    return _documents.html(TEMPLATE, v=_view(notice))


def render_pdf(notice: Notice) -> bytes:
    """The same page printed to an A4 PDF (WeasyPrint); text stays extractable, with the
    system's Chinese font (fonts-wqy-microhei) embedded."""
    return _documents.pdf(TEMPLATE, v=_view(notice))
