"""The exports as documents: one template per document (HTML and the same page as PDF), books also as XLSX.

Templates in `templates/` (shared.documents: autoescaped, strict, printed by WeasyPrint with the system's Chinese
font): `record.html` (服务记录表), `dossier.html` (the whole dossier), `book.html` (a book: cover, summary, catalogue,
every dossier — the dossier's own layout, included). Values come from exports/domain.py as plain text. Pure apart from
reading the templates: no database, no HTTP.
"""

import io

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter

from shared.documents import Documents

_documents = Documents("services.archive.exports")


def record_html(view: dict) -> str:
    return _documents.html("record.html", v=view)


def record_pdf(view: dict) -> bytes:
    return _documents.pdf("record.html", v=view)


def dossier_html(view: dict) -> str:
    return _documents.html("dossier.html", v=view)


def dossier_pdf(view: dict) -> bytes:
    return _documents.pdf("dossier.html", v=view)


def book_html(view: dict) -> str:
    return _documents.html("book.html", v=view)


def book_pdf(view: dict) -> bytes:
    return _documents.pdf("book.html", v=view)


# --------------------------------------------------------------------------- XLSX

CATALOGUE_COLUMNS = (
    ("序号", "no", 6),
    ("档案号", "archive_no", 14),
    ("跟踪单号", "tracking_no", 22),
    ("服务站", "station_name", 20),
    ("企业名称", "enterprise_name", 28),
    ("统一社会信用代码", "credit_code", 22),
    ("产业链", "chain", 12),
    ("链主企业", "chain_leader", 8),
    ("专业镇", "town", 14),
    ("园区", "park_name", 14),
    ("服务类别", "categories", 16),
    ("服务项目", "items", 28),
    ("受理渠道", "channel", 10),
    ("受理时间", "accepted", 17),
    ("派单时间", "dispatched", 17),
    ("办结时间", "ended", 17),
    ("评价时间", "rated", 17),
    ("归档时间", "archived", 17),
    ("办理结果", "outcome", 18),
    ("总体评价", "overall", 10),
    ("办理轮次", "rounds", 8),
    ("收费（元）", "fee_yuan", 10),
)


def _cell(value):
    """Text a spreadsheet would run as a formula (=, +, -, @, tab, CR) is kept as text (formula injection)."""
    if isinstance(value, bool):
        return "是" if value else ""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _append(sheet, values, bold: bool = False) -> None:
    sheet.append([_cell(v) for v in values])
    for cell in sheet[sheet.max_row]:
        if isinstance(cell.value, str):
            cell.data_type = "s"  # never a formula, whatever the text
        if bold:
            cell.font = Font(bold=True)


def book_xlsx(view: dict) -> bytes:
    """Three sheets: 汇总 (the summary tables), 档案目录 (a row per dossier), 档案内容 (every entry of each)."""
    book = Workbook()
    summary = book.active
    summary.title = "汇总"
    s = view["summary"]
    _append(summary, [view["title"]])
    summary["A1"].font = Font(bold=True, size=14)
    for label, value in (
        ("档案类型", view["kind"]),
        (view["key_label"], view["key"]),
        ("范围", view["scope"]),
        ("期间（受理日期）", view["period"]),
        ("生成时间", view["printed_at"]),
    ):
        _append(summary, [label, value])
    _append(summary, [])
    _append(summary, ["指标", "数值"], bold=True)
    for label, value in (
        ("需求数", s["demands"]),
        ("企业数", s["enterprises"]),
        ("有效评价数", s["rated"]),
        ("满意数（按评价服务的满意等级设置）", s["satisfied"]),
        ("满意率", s["rate_text"]),
        ("作废评价数", s["voided"]),
        ("重办需求数", s["rehandled"]),
        ("收费合计（元）", s["fees_yuan"]),
    ):
        _append(summary, [label, value])
    for title, rows in (("服务类别", s["by_category"]), ("办理结果", s["by_outcome"]), ("总体评价", s["by_overall"])):
        _append(summary, [])
        _append(summary, [title, "需求数"], bold=True)
        for row in rows:
            _append(summary, [row["label"], row["count"]])
    if view["by_enterprise"]:
        _append(summary, [])
        _append(summary, ["企业", "统一社会信用代码", "链主企业", "需求数"], bold=True)
        for e in s["by_enterprise"]:
            _append(summary, [e["name"], e["credit_code"], e["chain_leader"], e["demands"]])
    summary.column_dimensions["A"].width = 30
    summary.column_dimensions["B"].width = 30

    catalogue = book.create_sheet("档案目录")
    _append(catalogue, [c[0] for c in CATALOGUE_COLUMNS], bold=True)
    for n, row in enumerate(view["catalogue"], start=1):
        _append(catalogue, [n if key == "no" else row[key] for _, key, _ in CATALOGUE_COLUMNS])
    for i, (_, _, width) in enumerate(CATALOGUE_COLUMNS, start=1):
        catalogue.column_dimensions[get_column_letter(i)].width = width
    catalogue.freeze_panes = "B2"

    entries = book.create_sheet("档案内容")
    _append(entries, ["档案号", "部分", "时间", "轮次", "内容"], bold=True)
    for d in view["dossiers"]:
        for label, value in d["form"]:
            _append(entries, [d["archive_no"], "需求登记", "", "", f"{label}：{value}"])
        for section in d["sections"]:
            for e in section["entries"]:
                text = "；".join(f"{k}：{v}" for k, v in e["rows"])
                _append(entries, [d["archive_no"], section["title"], e["at"], e["round"] or "", text])
        for label, value in d["outcome"]:
            _append(entries, [d["archive_no"], "办理结果", "", "", f"{label}：{value}"])
        for s_ in d["supplements"]:
            for e in s_["entries"]:
                text = "；".join(f"{k}：{v}" for k, v in e["rows"])
                _append(entries, [d["archive_no"], f"补充归档 {s_['no']}", e["at"], "", text])
    for column, width in zip("ABCDE", (14, 16, 17, 6, 100), strict=True):
        entries.column_dimensions[column].width = width
    for row in entries.iter_rows(min_row=2):
        row[4].alignment = Alignment(wrap_text=True, vertical="top")
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
