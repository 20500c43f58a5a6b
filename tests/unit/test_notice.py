"""The acceptance notice (受理通知书): HTML escapes user text, PDF embeds extractable Chinese text."""

import io
import os
from dataclasses import replace
from datetime import UTC, date, datetime

import pytest
from pypdf import PdfReader

from services.intake import notice as notice_module
from services.intake.notice import (
    DEFAULT_FONT,
    Notice,
    NoticeItem,
    find_font,
    format_datetime,
    render_html,
    render_pdf,
)

EVIL = "<script>alert(1)</script>"


def make_notice(**overrides) -> Notice:
    fields = dict(
        station_name="浑南区一站式质量服务站",
        station_address="沈阳市浑南区创新路 188 号",
        station_phone="024-2378 6600",
        tracking_no="2026-000137",
        enterprise_name="沈阳华信精密仪器有限公司",
        credit_code="91210112MA0TXXXX1K",
        contact_name="李明",
        submitted_at=datetime(2026, 9, 30, 9, 5),
        first_responder="王晓燕",
        channel_label="窗口",
        items=(
            NoticeItem("计量器具检定/校准", "计量", 3, ("压力表 12 只", "上一周期检定证书复印件"), remarks="可预约上门取送"),
            NoticeItem("企业标准自我声明公开指导", "标准", 2, ()),
        ),
        time_limit_days=3,
        expected_on=date(2026, 10, 10),  # Saturday make-up workday after National Day
        status_url="https://zlfw.example.gov.cn/track/2026-000137",
        complaint_channels=("向本站站长反映", "12315 热线"),
    )
    fields.update(overrides)
    return Notice(**fields)


def pdf_text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


@pytest.fixture(scope="module")
def font() -> str:
    try:
        return find_font()
    except RuntimeError as exc:
        pytest.skip(str(exc))


# --- HTML -------------------------------------------------------------------


def test_html_is_a_complete_chinese_page():
    html = render_html(make_notice())
    assert html.lstrip().startswith("<!DOCTYPE html>")
    assert '<html lang="zh-CN">' in html
    assert '<meta charset="utf-8">' in html
    assert "@media print" in html and "size: A4" in html
    assert "<title>受理通知书 2026-000137</title>" in html
    assert html.rstrip().endswith("</html>")


def test_html_shows_the_facts():
    html = render_html(make_notice())
    for text in (
        "2026-000137",
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
        'href="https://zlfw.example.gov.cn/track/2026-000137"',
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


def test_html_progress_falls_back_to_phone_and_tracking_number():
    html = render_html(make_notice(status_url=None))
    assert "致电本站 024-2378 6600" in html
    assert "凭跟踪单号 2026-000137" in html
    html = render_html(make_notice(status_url=None, station_phone=None))
    assert "到本站窗口，凭跟踪单号 2026-000137" in html
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


# --- PDF --------------------------------------------------------------------


def test_pdf_has_extractable_chinese_text(font):
    pdf = render_pdf(make_notice(), font)
    assert pdf.startswith(b"%PDF")
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) <= 2
    first = reader.pages[0].extract_text()
    for text in ("2026-000137", "受理通知书", "沈阳华信精密仪器有限公司", "预计办结日期", "2026年10月10日"):
        assert text in first, text
    assert reader.metadata.title == "受理通知书 2026-000137"
    assert reader.metadata.author == "浑南区一站式质量服务站"


def test_pdf_shows_materials_and_escapes_markup(font):
    evil = replace(
        make_notice(),
        enterprise_name="华信 & <b>精密</b> " + EVIL,
        items=(NoticeItem("检定 <i>x</i>", "计量", 3, ("A & B",)),),
        green_channel_reason="<font size=40>重大</font>",
    )
    text = pdf_text(render_pdf(evil, font))
    assert "华信 & <b>精密</b> <script>alert(1)</script>" in text  # literally, not as markup
    assert "A & B" in text
    assert "<font size=40>重大</font>" in text
    text = pdf_text(render_pdf(make_notice(), font))
    assert "压力表 12 只" in text and "上一周期检定证书复印件" in text
    assert "无" in text


def test_pdf_with_many_items_stays_within_two_pages(font):
    items = tuple(
        NoticeItem(f"服务项目{i}", "检验检测", 5, tuple(f"材料{i}-{j}" for j in range(3))) for i in range(8)
    )
    pdf = render_pdf(make_notice(items=items, status_url=None, green_channel_reason="新设立科技型企业"), font)
    reader = PdfReader(io.BytesIO(pdf))
    assert 1 <= len(reader.pages) <= 2
    assert "2026-000137" in reader.pages[0].extract_text()


def test_pdf_with_an_unusable_font_says_so(tmp_path):
    bogus = tmp_path / "broken.ttf"
    bogus.write_bytes(b"not a font")
    with pytest.raises(RuntimeError, match="fonts-wqy-microhei"):
        render_pdf(make_notice(), str(bogus))


# --- fonts ------------------------------------------------------------------


def test_find_font_skips_a_missing_preferred_path(tmp_path):
    if not os.path.isfile(DEFAULT_FONT):
        pytest.skip("fonts-wqy-microhei not installed")
    assert find_font(str(tmp_path / "missing.ttc")) == DEFAULT_FONT
    assert find_font() == DEFAULT_FONT


def test_find_font_prefers_an_existing_preferred_path(tmp_path):
    mine = tmp_path / "mine.ttf"
    mine.write_bytes(b"")
    assert find_font(str(mine)) == str(mine)


def test_find_font_falls_back_to_other_candidates(tmp_path, monkeypatch):
    other = tmp_path / "uming.ttc"
    other.write_bytes(b"")
    monkeypatch.setattr(notice_module, "DEFAULT_FONT", str(tmp_path / "absent.ttc"))
    monkeypatch.setattr(notice_module, "FONT_CANDIDATES", (str(tmp_path / "nope.ttc"), str(other)))
    assert find_font(str(tmp_path / "missing.ttc")) == str(other)


def test_find_font_raises_when_nothing_exists(tmp_path, monkeypatch):
    monkeypatch.setattr(notice_module, "DEFAULT_FONT", str(tmp_path / "absent.ttc"))
    monkeypatch.setattr(notice_module, "FONT_CANDIDATES", (str(tmp_path / "nope.ttc"),))
    with pytest.raises(RuntimeError, match="fonts-wqy-microhei"):
        find_font(str(tmp_path / "missing.ttc"))
