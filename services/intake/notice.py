"""The acceptance notice (受理通知书, 002 §7.3.2): everything the enterprise needs to know, once (一次告知).

Rendered as printable HTML and as a PDF with embedded Chinese glyphs. Pure: takes a
`Notice`, returns text or bytes; no database, no HTTP.
"""

import hashlib
import io
import os
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from xml.sax.saxutils import escape

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.pdfmetrics import registerFontFamily
from reportlab.pdfbase.ttfonts import TTFError, TTFont
from reportlab.platypus import KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle


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
    tracking_no: str
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


# ---------------------------------------------------------------------------
# Shared view: every sentence of the notice, as plain (unescaped) text.
# Both renderers take their wording from here, so the HTML and the PDF say the
# same thing; each escapes for its own markup.
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
            f"贵单位于 {accepted} 通过{notice.channel_label}提出的服务需求，本站已受理，"
            "现将有关事项一次性告知如下："
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
        "first_responder_line": f"本站实行首问负责制，受理人{notice.first_responder}为本需求的首位工作人员（首问负责人）。",
        "closing": CLOSING,
    }


# ---------------------------------------------------------------------------
# HTML
# ---------------------------------------------------------------------------

_TEMPLATES = Path(__file__).parent / "templates"
_env = Environment(
    loader=FileSystemLoader(_TEMPLATES),
    autoescape=True,  # every value is escaped, whatever the file name
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)


def render_html(notice: Notice) -> str:
    """A standalone, printable (A4) HTML5 page; all text from `notice` is HTML-escaped."""
    return _env.get_template("notice.html").render(v=_view(notice))


# ---------------------------------------------------------------------------
# Fonts
# ---------------------------------------------------------------------------

DEFAULT_FONT = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"

# TrueType-outline fonts first: reportlab cannot embed CFF/PostScript outlines, which is
# what Noto CJK ships as, so those are only a last resort (render_pdf reports the failure).
FONT_CANDIDATES: tuple[str, ...] = (
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
    "/usr/share/fonts/truetype/arphic/ukai.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
)


def find_font(preferred: str | None = None) -> str:
    """The first existing font file of `preferred`, DEFAULT_FONT and FONT_CANDIDATES."""
    candidates = ([preferred] if preferred else []) + [DEFAULT_FONT, *FONT_CANDIDATES]
    for path in candidates:
        if os.path.isfile(path):
            return path
    raise RuntimeError(
        "No CJK font found for the acceptance notice PDF; tried: "
        + ", ".join(candidates)
        + ". Install one, e.g. `apt-get install fonts-wqy-microhei`, or pass a .ttf/.ttc path."
    )


def _register_font(font_path: str) -> str:
    """Register the font with reportlab once per path; returns its registered name."""
    name = "NoticeCJK-" + hashlib.sha1(os.path.abspath(font_path).encode()).hexdigest()[:10]
    if name in pdfmetrics.getRegisteredFontNames():
        return name
    try:
        if font_path.lower().endswith((".ttc", ".otc")):
            font = TTFont(name, font_path, subfontIndex=0)
        else:
            font = TTFont(name, font_path)
    except (TTFError, OSError) as exc:
        raise RuntimeError(
            f"Cannot use font {font_path!r} for the PDF ({exc}). reportlab needs a TrueType-outline "
            "CJK font, e.g. apt-get install fonts-wqy-microhei"
        ) from exc
    pdfmetrics.registerFont(font)
    # The CJK face has no bold/italic cut: map them to itself so <b> in markup works.
    registerFontFamily(name, normal=name, bold=name, italic=name, boldItalic=name)
    return name


# ---------------------------------------------------------------------------
# PDF
# ---------------------------------------------------------------------------

_INK = colors.HexColor("#1a1a1a")
_MUTED = colors.HexColor("#555555")
_RULE = colors.HexColor("#8c8c8c")
_HEAD_BG = colors.HexColor("#eef1f5")


def _esc(text: object) -> str:
    """Escape user text for reportlab Paragraph markup; keep line breaks."""
    return escape(str(text)).replace("\r\n", "\n").replace("\n", "<br/>")


def _styles(font: str) -> dict[str, ParagraphStyle]:
    base = ParagraphStyle("body", fontName=font, fontSize=10.5, leading=15, textColor=_INK, wordWrap="CJK")
    return {
        "body": base,
        "issuer": ParagraphStyle("issuer", parent=base, fontSize=13, leading=18, alignment=TA_CENTER),
        "title": ParagraphStyle(
            "title", parent=base, fontSize=22, leading=27, alignment=TA_CENTER, spaceBefore=1, spaceAfter=2
        ),
        "tracking": ParagraphStyle("tracking", parent=base, fontSize=14, leading=20, alignment=TA_CENTER),
        "h2": ParagraphStyle("h2", parent=base, fontSize=12, leading=16, spaceBefore=6, spaceAfter=3),
        "cell": ParagraphStyle("cell", parent=base, fontSize=9.5, leading=13.5),
        "cellc": ParagraphStyle("cellc", parent=base, fontSize=9.5, leading=13.5, alignment=TA_CENTER),
        "key": ParagraphStyle("key", parent=base, fontSize=9.5, leading=13.5, textColor=_MUTED),
        "small": ParagraphStyle("small", parent=base, fontSize=9, leading=13, textColor=_MUTED),
        "note": ParagraphStyle("note", parent=base, fontSize=9.5, leading=14, textColor=_MUTED),
        "sign": ParagraphStyle("sign", parent=base, alignment=TA_RIGHT),
    }


def _grid(data, col_widths, *, header: bool = False, key_cols: tuple[int, ...] = ()) -> Table:
    table = Table(data, colWidths=col_widths, repeatRows=1 if header else 0)
    style = [
        ("GRID", (0, 0), (-1, -1), 0.6, _RULE),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("TOPPADDING", (0, 0), (-1, -1), 3),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 4),
        ("LEFTPADDING", (0, 0), (-1, -1), 5),
        ("RIGHTPADDING", (0, 0), (-1, -1), 5),
    ]
    if header:
        style.append(("BACKGROUND", (0, 0), (-1, 0), _HEAD_BG))
    for c in key_cols:
        style.append(("BACKGROUND", (c, 0), (c, -1), _HEAD_BG))
    table.setStyle(TableStyle(style))
    return table


def render_pdf(notice: Notice, font_path: str) -> bytes:
    """The notice as an A4 PDF with the CJK font at `font_path` embedded (text stays extractable)."""
    font = _register_font(font_path)
    s = _styles(font)
    v = _view(notice)
    buf = io.BytesIO()
    margin = 18 * mm
    doc = SimpleDocTemplate(
        buf,
        pagesize=A4,
        leftMargin=margin,
        rightMargin=margin,
        topMargin=14 * mm,
        bottomMargin=18 * mm,
        title=f"{TITLE} {notice.tracking_no}",
        author=notice.station_name,
        subject=f"{notice.enterprise_name} 服务需求受理通知",
        creator="quality-stations intake",
        lang="zh-CN",
    )
    width = doc.width
    P = Paragraph

    story: list = [
        P(_esc(v["station_name"]), s["issuer"]),
        P(TITLE, s["title"]),
        P(f'跟踪单号：<font size="17" color="#a61b1b">{_esc(v["tracking_no"])}</font>', s["tracking"]),
        Spacer(1, 3 * mm),
        P(f"{_esc(v['enterprise_name'])}：", s["body"]),
        P(_esc(v["intro"]), ParagraphStyle("intro", parent=s["body"], firstLineIndent=21)),
        Spacer(1, 2 * mm),
    ]

    k, val = s["key"], s["cell"]
    kw, vw = 32 * mm, width / 2 - 32 * mm
    info = [
        [P("企业名称", k), P(_esc(v["enterprise_name"]), val), "", ""],
        [P("统一社会信用代码", k), P(_esc(v["credit_code"]), val), P("联系人", k), P(_esc(v["contact_name"]), val)],
        [P("受理时间", k), P(_esc(v["accepted"]), val), P("受理渠道", k), P(_esc(v["channel"]), val)],
        [P("受理人", k), P(_esc(v["first_responder"]), val), P("跟踪单号", k),
         P(_esc(v["tracking_no"]), val)],
    ]
    info_table = _grid(info, [kw, vw, kw, vw], key_cols=(0, 2))
    info_table.setStyle(TableStyle([("SPAN", (1, 0), (3, 0)), ("BACKGROUND", (2, 0), (2, 0), colors.white)]))
    story.append(info_table)

    story.append(P("一、受理事项", s["h2"]))
    c, cc = s["cell"], s["cellc"]
    rows = [[P("序号", cc), P("服务项目", cc), P("类别", cc), P("承诺时限<br/>（工作日）", cc), P("尚需提交的材料", cc)]]
    for it in v["items"]:
        label = _esc(it["label"])
        if it["remarks"]:
            label += f'<br/><font size="8.5" color="#555555">备注：{_esc(it["remarks"])}</font>'
        if it["materials"]:
            materials = "<br/>".join(f"{n}. {_esc(m)}" for n, m in enumerate(it["materials"], start=1))
        else:
            materials = "无"
        rows.append([P(str(it["no"]), cc), P(label, c), P(_esc(it["category"]), cc), P(str(it["days"]), cc),
                     P(materials, c)])
    if not v["items"]:
        rows.append([P("—", cc), P("—", c), P("—", cc), P("—", cc), P("无", c)])
    story.append(_grid(rows, [11 * mm, 56 * mm, 20 * mm, 20 * mm, width - 107 * mm], header=True))

    story.append(P("二、办理时限", s["h2"]))
    story.append(P(f"承诺办结时限：<b>{_esc(v['time_limit'])}</b>", s["body"]))
    story.append(P(f"预计办结日期：<b>{_esc(v['expected_full'])}</b>", s["body"]))
    story.append(P(_esc(v["workday_note"]), s["note"]))
    if v["green_channel"]:
        story.append(P(f'<font color="#a61b1b">{_esc(v["green_channel"])}</font>', s["body"]))

    story.append(P("三、进度查询", s["h2"]))
    if v["status_url"]:
        href = escape(v["status_url"], {'"': "&quot;"})
        story.append(P(
            f'访问 <a href="{href}" color="#1f4e99">{_esc(v["status_url"])}</a> ，'
            f"凭跟踪单号 {_esc(v['tracking_no'])} 查询办理进度。",
            s["body"],
        ))
    else:
        story.append(P(_esc(v["progress"]), s["body"]))

    story.append(P("四、意见与投诉", s["h2"]))
    story.append(P("如对服务有意见或建议，可通过以下方式反映：", s["body"]))
    for n, ch in enumerate(v["complaints"], start=1):
        story.append(P(f"{n}. {_esc(ch)}", ParagraphStyle(f"li{n}", parent=s["body"], leftIndent=12)))

    story.append(KeepTogether([  # the closing never sits alone on a page
        Spacer(1, 2 * mm),
        P(_esc(v["first_responder_line"]), s["body"]),
        P(_esc(v["closing"]), s["body"]),
        Spacer(1, 4 * mm),
        P(_esc(v["station_name"]), s["sign"]),
        P(_esc(v["accepted_date"]), s["sign"]),
    ]))

    footer_bits = [f"地址：{v['station_address']}"]
    if v["station_phone"]:
        footer_bits.append(f"电话：{v['station_phone']}")
    footer = "　".join(footer_bits)

    def on_page(canvas, doc_) -> None:
        canvas.saveState()
        canvas.setStrokeColor(_RULE)
        canvas.setLineWidth(0.5)
        y = 13 * mm
        canvas.line(margin, y + 4 * mm, A4[0] - margin, y + 4 * mm)
        canvas.setFont(font, 8.5)
        canvas.setFillColor(_MUTED)
        canvas.drawString(margin, y, _fit(canvas, footer, font, 8.5, A4[0] - 2 * margin - 40 * mm))
        canvas.drawRightString(A4[0] - margin, y, f"{notice.tracking_no}　第 {doc_.page} 页")
        canvas.restoreState()

    doc.build(story, onFirstPage=on_page, onLaterPages=on_page)
    return buf.getvalue()


def _fit(canvas, text: str, font: str, size: float, width: float) -> str:
    """Shorten a single-line string to `width` points with an ellipsis."""
    if canvas.stringWidth(text, font, size) <= width:
        return text
    while text and canvas.stringWidth(text + "…", font, size) > width:
        text = text[:-1]
    return text + "…"
