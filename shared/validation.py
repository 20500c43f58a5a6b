"""Field rules shared by services' request models: Chinese identifiers and phone numbers.

Each rule raises `Invalid` (bilingual); `rule()` turns it into a pydantic error so the
422 reply names the field and carries both languages.
"""

from collections.abc import Callable
from typing import Any

import re

import phonenumbers
from pydantic import AfterValidator
from pydantic_core import PydanticCustomError
from stdnum.cn import uscc

from shared.errors import Invalid


# GB 32100-2015: registration authority and kind (letters allowed), 6-digit division code,
# 9-character organization code, check character; the alphabet has no I, O, Z, S, V.
_USCC = re.compile(r"^[0-9A-HJ-NP-RTUWXY]{2}[0-9]{6}[0-9A-HJ-NP-RTUWXY]{10}$")


def credit_code(value: str) -> str:
    """统一社会信用代码: 18 characters of the standard's set in its layout; the check character is judged apart."""
    code = value.strip().upper().replace(" ", "")
    if not _USCC.match(code):
        raise Invalid(
            "统一社会信用代码应为 18 位数字或大写字母（不含 I、O、Z、S、V），第 3–8 位为行政区划代码",
            "unified social credit code must be 18 digits or capital letters (no I, O, Z, S, V), "
            "characters 3-8 being the division code",
        )
    return code


def credit_code_flag(code: str) -> str | None:
    """'check_failed' for a code whose check character does not verify (legacy codes are accepted, but flagged)."""
    return None if uscc.calc_check_digit(code[:17]) == code[17] else "check_failed"


def china_phone(value: str) -> str:
    """A mainland mobile or landline number, stored in E.164 (+86…)."""
    try:
        number = phonenumbers.parse(value, "CN")
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number_for_region(number, "CN"):
        raise Invalid(
            "电话号码无效，应为中国大陆手机号或带区号的固定电话",
            "not a valid mainland China mobile or landline number",
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def rule(check: Callable[[Any], Any]) -> AfterValidator:
    def validate(value: Any) -> Any:
        try:
            return check(value)
        except Invalid as exc:
            raise PydanticCustomError(check.__name__, exc.en, {"zh": exc.zh}) from None

    return AfterValidator(validate)
