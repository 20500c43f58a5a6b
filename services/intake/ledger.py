"""The intake ledger (台账, 004 附录B) as CSV and XLSX, with the seed's columns. Pure."""

import csv
import io

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font

from shared.calendar import CHINA

from .demands.domain import Demand

COLUMNS = ("序号", "日期", "企业名称", "企业联系人", "联系电话", "企业需求类型", "企业需求", "首位工作人员", "跟踪单号")


def _cell(value: str | int) -> str | int:
    """Text a spreadsheet would run as a formula (=, +, -, @, tab, CR) is kept as text (CSV/formula injection)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def rows(demands: list[Demand]) -> list[list[str | int]]:
    ordered = sorted(demands, key=lambda d: (d.submitted_at, d.tracking_no))
    return [
        [
            _cell(value)
            for value in (
                n,
                d.submitted_at.astimezone(CHINA).date().isoformat(),
                d.enterprise_name,
                d.contact_name,
                d.contact_phone,
                "、".join(c.label for c in d.categories),
                "；".join([*(i.label for i in d.items), d.description]),
                d.first_responder,
                d.printed_tracking_no,  # as on the notice: the station's code first, unique across the city
            )
        ]
        for n, d in enumerate(ordered, start=1)
    ]


def to_csv(table: list[list[str | int]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    writer.writerows(table)
    return out.getvalue().encode("utf-8-sig")  # the BOM lets Excel open Chinese text correctly


def to_xlsx(table: list[list[str | int]], title: str) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.title = "需求台账"
    sheet.append([title])
    sheet["A1"].font = Font(bold=True, size=14)
    sheet.append(list(COLUMNS))
    for cell in sheet[2]:
        cell.font = Font(bold=True)
    for row in table:
        sheet.append(row)
        for cell in sheet[sheet.max_row]:
            if isinstance(cell.value, str):
                cell.data_type = "s"  # never a formula, whatever the text
    for column, width in zip("ABCDEFGHI", (6, 12, 28, 12, 16, 18, 48, 12, 26), strict=True):
        sheet.column_dimensions[column].width = width
    for row in sheet.iter_rows(min_row=3):
        row[6].alignment = Alignment(wrap_text=True, vertical="top")
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
