"""The acceptance notice (受理通知书): one template gives the HTML page and the PDF.

The HTML escapes user text; the PDF (WeasyPrint over the same HTML) is A4 with extractable
Chinese text. PDFs take a fraction of a second each, so each distinct notice is rendered once.
"""

import io
from dataclasses import replace
from datetime import UTC, date, datetime
from functools import cache

import pytest
from jinja2 import DictLoader
from pypdf import PdfReader

from services.intake import notice as notice_module
from services.intake.notice import Notice, NoticeItem, format_datetime, render_html, render_pdf

EVIL = "<script>alert(1)</script>"


def make_notice(**overrides) -> Notice:
    fields = dict(
        station_name="浑南区一站式质量服务站",
        station_address="沈阳市浑南区创新路 188 号",
        station_phone="024-2378 6600",
        tracking_no="hunnan-01-2026-000137",
        enterprise_name="沈阳华信精密仪器有限公司",
        credit_code="91210112MA0TXXXX1K",
        contact_name="李明",
        submitted_at=datetime(2026, 9, 30, 9, 5),
        first_responder="王晓燕",
        channel_label="窗口",
        items=(
            NoticeItem(
                "计量器具检定/校准", "计量", 3, ("压力表 12 只", "上一周期检定证书复印件"), remarks="可预约上门取送"
            ),
            NoticeItem("企业标准自我声明公开指导", "标准", 2, ()),
        ),
        time_limit_days=3,
        expected_on=date(2026, 10, 10),  # Saturday make-up workday after National Day
        status_url="https://zlfw.example.gov.cn/track/hunnan-01-2026-000137",
        complaint_channels=("向本站站长反映", "12315 热线"),
    )
    fields.update(overrides)
    return Notice(**fields)


def pdf_text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def flat(text: str) -> str:
    """Extracted text without line breaks and spaces: table cells and long lines wrap."""
    return "".join(text.split())


@cache
def sample_pdf() -> bytes:
    return render_pdf(make_notice())


# --- HTML -------------------------------------------------------------------


def test_html_is_a_complete_chinese_page():
    html = render_html(make_notice())
    assert html.lstrip().startswith("<!DOCTYPE html>")
    assert '<html lang="zh-CN">' in html
    assert '<meta charset="utf-8">' in html
    assert "@media print" in html and "size: A4" in html
    assert "<title>受理通知书 hunnan-01-2026-000137</title>" in html
    assert html.rstrip().endswith("</html>")


def test_html_shows_the_facts():
    html = render_html(make_notice())
    for text in (
        "hunnan-01-2026-000137",
        "浑南区一站式质量服务站",
        "沈阳华信精密仪器有限公司",
        "91210112MA0TXXXX1K",
        "李明",
        "王晓燕",
        "窗口",
        "2026年09月30日 09:05",
        "3 个工作日",
        "预计办结日期",
        "2026年10月10日（星期六）",
        "按工作日计算，已扣除法定节假日并计入调休上班日",
        "向本站站长反映",
        "12315 热线",
        "沈阳市浑南区创新路 188 号",
        "024-2378 6600",
        "一次性告知",
        'href="https://zlfw.example.gov.cn/track/hunnan-01-2026-000137"',
    ):
        assert text in html, text


def test_html_lists_materials_or_none():
    html = render_html(make_notice())
    assert "<li>压力表 12 只</li>" in html
    assert "<li>上一周期检定证书复印件</li>" in html
    assert "备注：可预约上门取送" in html
    assert "无" in html  # the second item needs nothing more
    for header in ("服务项目", "类别", "承诺时限", "尚需提交的材料"):
        assert header in html


def test_html_escapes_user_text():
    html = render_html(
        make_notice(
            enterprise_name=EVIL,
            contact_name='"><img src=x onerror=alert(1)>',
            items=(NoticeItem(EVIL, "计量", 3, (EVIL,), remarks=EVIL),),
            complaint_channels=(EVIL,),
            green_channel_reason=EVIL,
            station_address="A & B",
        )
    )
    assert "<script" not in html.lower()
    assert "<img" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "A &amp; B" in html


def test_html_does_not_link_a_non_web_status_url():
    html = render_html(make_notice(status_url="javascript:alert(1)"))
    assert "href=" not in html
    assert "javascript:alert(1)" in html  # still shown, as text


def test_a_notice_issued_again_after_a_correction_says_so():
    assert "重新出具" not in render_html(make_notice())
    html = render_html(make_notice(reissued_at=datetime(2026, 10, 2, 2, 30, tzinfo=UTC)))
    assert "本通知书已按更正后的登记内容于 2026年10月02日 10:30 重新出具，原通知书作废。" in html
    text = flat(pdf_text(render_pdf(make_notice(reissued_at=datetime(2026, 10, 2, 2, 30, tzinfo=UTC)))))
    assert "重新出具" in text and "原通知书作废" in text


def test_html_progress_falls_back_to_phone_and_tracking_number():
    html = render_html(make_notice(status_url=None))
    assert "致电本站 024-2378 6600" in html
    assert "凭跟踪单号 hunnan-01-2026-000137" in html
    html = render_html(make_notice(status_url=None, station_phone=None))
    assert "到本站窗口，凭跟踪单号 hunnan-01-2026-000137" in html
    assert "电话：" not in html


def test_html_green_channel_only_when_granted():
    assert "绿色通道" not in render_html(make_notice())
    assert "绿色通道" in render_html(make_notice(green_channel_reason="重大投资项目"))
    assert "重大投资项目" in render_html(make_notice(green_channel_reason="重大投资项目"))


def test_accepted_time_is_shown_in_china_time():
    assert format_datetime(datetime(2026, 9, 30, 1, 5, tzinfo=UTC)) == "2026年09月30日 09:05"
    assert format_datetime(datetime(2026, 9, 30, 9, 5)) == "2026年09月30日 09:05"
    html = render_html(make_notice(submitted_at=datetime(2026, 9, 30, 1, 5, tzinfo=UTC)))
    assert "2026年09月30日 09:05" in html


# --- PDF: the same page, printed ----------------------------------------------

A4 = (595.28, 841.89)  # points


def test_pdf_is_one_a4_page_with_the_notice_metadata():
    pdf = sample_pdf()
    assert pdf.startswith(b"%PDF")
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == 1
    box = reader.pages[0].mediabox
    assert (float(box.width), float(box.height)) == pytest.approx(A4, abs=0.5)
    assert reader.metadata.title == "受理通知书 hunnan-01-2026-000137"
    assert reader.metadata.author == "浑南区一站式质量服务站"


def test_pdf_embeds_a_chinese_font():
    reader = PdfReader(io.BytesIO(sample_pdf()))
    fonts = reader.pages[0]["/Resources"]["/Font"]
    names = [str(font.get_object()["/BaseFont"]) for font in fonts.values()]
    assert any("WenQuanYi" in name for name in names), names
    for font in fonts.values():
        descendant = font.get_object()["/DescendantFonts"][0].get_object()
        assert "/FontFile2" in descendant["/FontDescriptor"].get_object()  # embedded, not referenced


def test_pdf_says_everything_the_notice_says():
    text = pdf_text(sample_pdf())
    for searchable in ("受理通知书", "跟踪单号：hunnan-01-2026-000137", "沈阳华信精密仪器有限公司", "2026年10月10日"):
        assert searchable in text, searchable  # as extracted, not only once spaces are removed
    compact = flat(text)
    for fact in (
        "受理通知书",
        "浑南区一站式质量服务站",
        "跟踪单号：hunnan-01-2026-000137",
        "沈阳华信精密仪器有限公司",
        "91210112MA0TXXXX1K",
        "李明",
        "王晓燕",
        "2026年09月30日09:05",
        # the items, their categories and the materials still needed
        "计量器具检定/校准",
        "备注：可预约上门取送",
        "企业标准自我声明公开指导",
        "尚需提交的材料",
        "压力表12只",
        "上一周期检定证书复印件",
        # the time limit and the due date
        "承诺办结时限：3个工作日",
        "预计办结日期：2026年10月10日（星期六）",
        "已扣除法定节假日并计入调休上班日",
        # progress, complaints, first responder, closing
        "https://zlfw.example.gov.cn/track/hunnan-01-2026-000137",
        "向本站站长反映",
        "12315热线",
        "首问负责人",
        "以上事项一次性告知",
        # the page footer: address, phone, tracking number and page number
        "地址：沈阳市浑南区创新路188号",
        "电话：024-23786600",
        "第1页/共1页",
    ):
        assert fact in compact, fact
    assert "绿色通道" not in compact
    assert compact.count("地址：") == 1  # in the page margin only, not again after the text


def test_pdf_and_html_come_from_the_same_template(monkeypatch):
    """One layout: a change to notice.html shows in both outputs."""
    env = notice_module._documents.env
    source = env.loader.get_source(env, notice_module.TEMPLATE)[0]
    marked = source.replace("<h2>四、意见与投诉</h2>", "<h2>四、意见与投诉（模板标记 TPL-7731）</h2>")
    assert marked != source
    monkeypatch.setattr(env, "loader", DictLoader({notice_module.TEMPLATE: marked}))
    env.cache.clear()
    try:
        notice = make_notice()
        assert "模板标记 TPL-7731" in render_html(notice)
        assert "模板标记TPL-7731" in flat(pdf_text(render_pdf(notice)))
    finally:
        env.cache.clear()


def test_pdf_shows_user_text_literally():
    evil = replace(
        make_notice(),
        enterprise_name="华信 & <b>精密</b> " + EVIL,
        items=(NoticeItem("检定 <i>x</i>", "计量", 3, ("A & B",)),),
        green_channel_reason="<font size=40>重大</font>",
    )
    compact = flat(pdf_text(render_pdf(evil)))
    assert "华信&<b>精密</b><script>alert(1)</script>" in compact  # as text, not as markup
    assert "检定<i>x</i>" in compact
    assert "A&B" in compact
    assert "本需求已纳入绿色通道" in compact and "<fontsize=40>重大</font>" in compact


def test_pdf_with_many_items_has_every_item_and_a_footer_on_each_page():
    items = tuple(NoticeItem(f"服务项目{i}", "检验检测", 5, tuple(f"材料{i}-{j}" for j in range(3))) for i in range(8))
    pdf = render_pdf(make_notice(items=items, status_url=None, green_channel_reason="新设立科技型企业"))
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == 2
    pages = [flat(page.extract_text()) for page in reader.pages]
    for n, page in enumerate(pages, start=1):
        assert f"第{n}页/共2页" in page
        assert "hunnan-01-2026-000137" in page and "地址：沈阳市浑南区创新路188号" in page
    everything = "".join(pages)
    for i in range(8):
        assert f"服务项目{i}" in everything and f"材料{i}-2" in everything
    assert "致电本站024-23786600" in everything
    assert "新设立科技型企业" in everything
    assert everything.index("服务项目7") < everything.index("以上事项一次性告知")


def test_pdf_wraps_long_values_instead_of_cutting_them():
    long_code = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789" * 2
    pdf = render_pdf(make_notice(items=(NoticeItem("计量器具检定/校准", "计量", 3, (long_code,)),)))
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == 1
    text = pdf_text(pdf)
    assert long_code in flat(text)  # all of it is there …
    assert long_code not in text.replace(" ", "")  # … on more than one line of its cell


def test_the_printed_tracking_number_fits_the_page_footer_on_one_line():
    """The number as printed leads with the station's code: the footer's right box is wide enough for it."""
    pdf = render_pdf(make_notice(tracking_no="hunnan-01-2026-000137"))
    lines: list[tuple[float, str]] = []
    PdfReader(io.BytesIO(pdf)).pages[0].extract_text(
        visitor_text=lambda text, cm, tm, font, size: lines.append((tm[4], text)) if "第 1 页" in text else None
    )
    [(x, line)] = lines
    assert line.startswith("hunnan-01-2026-000137") and line.endswith("第 1 页 / 共 1 页")
    # Right-aligned in its box from 18 + 106 mm (CSS px, as WeasyPrint writes them): a longer line starts left of it.
    assert x >= (18 + 106) / 25.4 * 96
