"""Field rules: unified social credit codes, mainland phone numbers, and rule() for pydantic."""

from typing import Annotated

import pytest
from pydantic import BaseModel, ValidationError
from stdnum.cn import uscc

from shared.errors import Invalid
from shared.http import _field, _zh, error_body
from shared.validation import china_phone, credit_code, credit_code_flag, rule

BASE = "91210112MA0U00001"
VALID = BASE + uscc.calc_check_digit(BASE)


def _wrong_check(code: str) -> str:
    other = next(c for c in "0123456789ABCDEFGH" if c != code[-1])
    return code[:-1] + other


def test_valid_credit_code_is_accepted():
    assert credit_code(VALID) == VALID


def test_another_valid_credit_code():
    base = "91210100123456789"
    code = base + uscc.calc_check_digit(base)
    assert credit_code(code) == code


def test_credit_code_is_normalized():
    assert credit_code(VALID.lower()) == VALID
    assert credit_code(f"  {VALID.lower()}  ") == VALID


def test_a_legacy_code_with_a_wrong_check_character_is_accepted_but_flagged():
    legacy = _wrong_check(VALID)
    assert credit_code(legacy) == legacy
    assert credit_code_flag(legacy) == "check_failed"
    assert credit_code_flag(VALID) is None


def test_codes_whose_first_character_is_a_letter_are_accepted():
    base = "N2210112MA0U00001"  # registered by an authority coded with a letter
    code = base + uscc.calc_check_digit(base)
    assert credit_code(code) == code and credit_code_flag(code) is None


@pytest.mark.parametrize(
    "value",
    [
        VALID[:-1],  # 17 characters
        VALID + "0",  # 19 characters
        "",
        "9121011IMA0U00001X",  # I is not in the standard's set
        "91210112MA0O00001X",  # O
        "91210112MA0Z00001X",  # Z
        "91210112MA0S00001X",  # S
        "91210112MA0V00001X",  # V
        "9121011AMA0U00001X",  # registration-authority/division part must be digits
    ],
)
def test_wrong_length_or_forbidden_letters_are_refused(value):
    with pytest.raises(Invalid) as info:
        credit_code(value)
    assert "18" in info.value.zh
    assert "校验位" not in info.value.zh


def test_mobile_number_becomes_e164():
    assert china_phone("13800138000") == "+8613800138000"
    assert china_phone("+86 138 0013 8000") == "+8613800138000"


def test_shenyang_landline_is_accepted():
    assert china_phone("024-23456789") == "+862423456789"
    assert china_phone("02423456789") == "+862423456789"


@pytest.mark.parametrize("value", ["12345", "138001380001", "", "not a phone", "+1 212 555 0100"])
def test_invalid_phone_numbers_are_refused(value):
    with pytest.raises(Invalid) as info:
        china_phone(value)
    assert "电话号码无效" in info.value.zh


class Registration(BaseModel):
    credit_code: Annotated[str, rule(credit_code)]
    phone: Annotated[str, rule(china_phone)]


def test_rule_applies_the_check_and_its_normalization():
    model = Registration(credit_code=VALID.lower(), phone="13800138000")
    assert model.credit_code == VALID
    assert model.phone == "+8613800138000"


def test_rule_turns_invalid_into_a_validation_error_with_chinese_context():
    with pytest.raises(ValidationError) as info:
        Registration(credit_code="9121011IMA0U00001X", phone="12345")
    errors = {e["loc"]: e for e in info.value.errors()}
    assert set(errors) == {("credit_code",), ("phone",)}

    code_error = errors[("credit_code",)]
    assert code_error["type"] == "credit_code"
    assert "18 位" in code_error["ctx"]["zh"]
    assert code_error["msg"].startswith("unified social credit code must be 18")

    phone_error = errors[("phone",)]
    assert phone_error["type"] == "china_phone"
    assert "电话号码无效" in phone_error["ctx"]["zh"]


def test_http_layer_shows_the_rules_chinese_text():
    with pytest.raises(ValidationError) as info:
        Registration(credit_code="9121011IMA0U00001X", phone="13800138000")
    (error,) = info.value.errors()
    assert "18 位" in _zh(error)


def test_http_layer_translates_pydantic_errors():
    assert _zh({"type": "missing", "loc": ("body", "x")}) == "必填项缺失"
    assert _zh({"type": "string_too_short", "ctx": {"min_length": 2}}) == "内容过短，至少 2 个字符"
    assert _zh({"type": "something_new"}) == "内容无效"
    assert _field(("body", "answers", "overall")) == "answers.overall"
    assert _field(("query", "station_id")) == "station_id"
    assert error_body("validation_error", "中", "en") == {
        "code": "validation_error",
        "message": "中",
        "message_en": "en",
    }


# --- the shared request model and types: no input reaches the database that it would refuse ---------

from datetime import UTC, datetime, timedelta  # noqa: E402

from pydantic import Field, TypeAdapter  # noqa: E402

from shared.validation import (  # noqa: E402
    DueDate,
    Limit,
    Line,
    Offset,
    ReceivedAt,
    RequestModel,
    SearchText,
    VisitDate,
    amount,
    like_pattern,
)


class Row(RequestModel):
    name: Line
    note: str | None = None


class Form(RequestModel):
    title: Line = Field(max_length=50)
    description: str
    rows: list[Row] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)


def _errors(**data) -> dict:
    with pytest.raises(ValidationError) as info:
        Form.model_validate({"title": "t", "description": "d", **data})
    return {_field(e["loc"]): e for e in info.value.errors()}


@pytest.mark.parametrize(
    ("char", "kind"),
    [
        ("\x00", "text_control_character"),
        ("\x1b", "text_control_character"),
        ("\x7f", "text_control_character"),
        ("\u202e", "text_invisible_character"),  # right-to-left override
        ("\u200b", "text_invisible_character"),  # zero-width space
        ("\ufeff", "text_invisible_character"),
        ("\ud800", "text_invalid_unicode"),  # a lone surrogate cannot even be encoded
    ],
)
def test_hidden_characters_are_refused_in_every_string_field_naming_it(char, kind):
    errors = _errors(description=f"a{char}b", rows=[{"name": "ok", "note": f"x{char}"}], tags=["fine", char])
    assert set(errors) == {"description", "rows.0.note", "tags.1"}
    for error in errors.values():
        assert error["type"] == kind
        assert f"U+{ord(char):04X}" in error["msg"]
        assert _zh(error).startswith("不能包含") or "无法识别" in _zh(error)


def test_free_text_keeps_line_breaks_and_tabs_but_single_line_fields_do_not():
    form = Form.model_validate({"title": "  名称 ", "description": "第一行\n\t第二行\r\n"})
    assert form.title == "名称" and form.description == "第一行\n\t第二行"
    errors = _errors(title="甲\n乙", rows=[{"name": "a\tb"}])
    assert {k: e["type"] for k, e in errors.items()} == {"title": "text_line_break", "rows.0.name": "text_line_break"}
    assert "单行" in _zh(errors["title"])


def test_a_hidden_character_in_an_unknown_key_is_refused_without_echoing_the_key():
    errors = _errors(**{"x\x00": 1})
    assert errors["<key>"]["type"] == "text_control_character"


def test_unknown_fields_are_still_refused():
    assert _errors(station_id="x")["station_id"]["type"] == "extra_forbidden"


@pytest.mark.parametrize("value", ["a\x00", "\u2066x", "x" * 101, "", "  "])
def test_search_text_is_one_visible_bounded_line(value):
    with pytest.raises(ValidationError):
        TypeAdapter(SearchText).validate_python(value)


def test_search_text_is_trimmed():
    assert TypeAdapter(SearchText).validate_python(" 沈阳 ") == "沈阳"


def test_like_pattern_escapes_wildcards_and_the_escape_character():
    assert like_pattern("100%_a\\b") == "100\\%\\_a\\\\b"
    assert like_pattern("沈阳") == "沈阳"


@pytest.mark.parametrize("value", [1e300, float("inf"), float("nan"), -1, 1e10 + 1])
def test_amounts_are_finite_and_bounded(value):
    with pytest.raises(ValidationError):
        TypeAdapter(amount(le=1e10)).validate_python(value)
    assert TypeAdapter(amount(le=1e10)).validate_python(12345.67) == 12345.67


@pytest.mark.parametrize(("kind", "value"), [(Limit, 0), (Limit, 501), (Offset, -1), (Offset, 10**20)])
def test_paging_is_bounded(kind, value):
    with pytest.raises(ValidationError):
        TypeAdapter(kind).validate_python(value)


@pytest.mark.parametrize("value", ["0001-01-01", "9999-12-31", "1999-12-31"])
def test_implausible_dates_are_refused_with_the_range(value):
    for kind in (DueDate, VisitDate):
        with pytest.raises(ValidationError) as info:
            TypeAdapter(kind).validate_python(value)
        (error,) = info.value.errors()
        assert error["type"] == "date_out_of_range"
        assert "合理范围" in _zh(error) and "between" in error["msg"]


def test_plausible_dates_are_accepted():
    today = datetime.now(UTC).date()
    assert TypeAdapter(DueDate).validate_python(today + timedelta(days=30)) == today + timedelta(days=30)
    assert TypeAdapter(VisitDate).validate_python(today - timedelta(days=3)) == today - timedelta(days=3)
    with pytest.raises(ValidationError):
        TypeAdapter(VisitDate).validate_python(today + timedelta(days=30))  # a visit not yet made


@pytest.mark.parametrize(
    "value",
    [
        "9999-12-31T23:59:59-12:00",  # overflows when turned into UTC
        "0001-01-01T00:00:00+14:00",
        "1999-12-31T23:59:59+00:00",
        (datetime.now(UTC) + timedelta(days=2)).isoformat(),
    ],
)
def test_received_at_must_be_a_plausible_moment(value):
    with pytest.raises(ValidationError) as info:
        TypeAdapter(ReceivedAt).validate_python(value)
    (error,) = info.value.errors()
    assert error["type"] == "datetime_out_of_range" and "合理范围" in _zh(error)


def test_received_at_accepts_now_in_any_zone_and_refuses_naive_times():
    moment = datetime.now(UTC).replace(microsecond=0)
    assert TypeAdapter(ReceivedAt).validate_python(moment.astimezone().isoformat()) == moment
    with pytest.raises(ValidationError):
        TypeAdapter(ReceivedAt).validate_python("2026-11-20T09:00:00")
