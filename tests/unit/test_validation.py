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
    assert code_error["msg"] .startswith("unified social credit code must be 18")

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
