"""Field rules shared by services' request models: Chinese identifiers and phone numbers.

Each rule raises `Invalid` (bilingual); `rule()` turns it into a pydantic error so the
422 reply names the field and carries both languages.
"""

from collections.abc import Callable
from typing import Any

import phonenumbers
from pydantic import AfterValidator
from pydantic_core import PydanticCustomError
from stdnum.cn import uscc
from stdnum.exceptions import InvalidChecksum, ValidationError

from shared.errors import Invalid


def credit_code(value: str) -> str:
    """统一社会信用代码 (GB 32100-2015): 18 characters from the standard's set, with its check character."""
    code = value.strip().upper()
    try:
        return uscc.validate(code)
    except InvalidChecksum:
        raise Invalid(
            "统一社会信用代码校验位错误", "unified social credit code has a wrong check character"
        ) from None
    except ValidationError:
        raise Invalid(
            "统一社会信用代码应为 18 位数字或大写字母（不含 I、O、Z、S、V）",
            "unified social credit code must be 18 digits or capital letters (no I, O, Z, S, V)",
        ) from None


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
