"""What every request may carry: the shared request base model, text, number and date types,
Chinese identifiers and phone numbers, and LIKE-pattern escaping for search words.

Each rule raises `Invalid` or a `PydanticCustomError` with the Chinese text in its context
(`zh`); the 422 reply names the field and carries both languages (shared/http.py).
"""

import re
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any

import phonenumbers
from annotated_types import Interval
from pydantic import (
    AfterValidator,
    AllowInfNan,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    StringConstraints,
    ValidationError,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError
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


# A mainland mobile or landline number, stored in E.164 (+86…).
Phone = Annotated[str, rule(china_phone)]


# --- text, numbers and dates every request may carry ----------------------------------------------
#
# PostgreSQL refuses NUL in text and lone surrogates cannot be encoded at all (both were 500s);
# other control characters, bidi controls and zero-width characters make names that look
# alike but differ (or read backwards) in the ledger, the notice and the archive.

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")  # C0/C1 controls but \t \n \r
_LINE_BREAK = re.compile(r"[\t\n\r\x85\u2028\u2029]")
_INVISIBLE = re.compile(r"[\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\ufff9-\ufffb]")
_UNENCODABLE = re.compile(r"[\ud800-\udfff\ufffe\uffff]")  # lone surrogates, non-characters


def _refusal(value: str, *, multiline: bool) -> PydanticCustomError | None:
    for pattern, kind, zh, en in (
        (
            _UNENCODABLE,
            "text_invalid_unicode",
            "包含无法识别的字符",
            "contains characters that are not valid Unicode text",
        ),
        (
            _CONTROL,
            "text_control_character",
            "不能包含控制字符（如 NUL）",
            "must not contain control characters (such as NUL)",
        ),
        (
            _INVISIBLE,
            "text_invisible_character",
            "不能包含不可见字符（零宽字符或文字方向控制符）",
            "must not contain invisible characters (zero-width or bidirectional controls)",
        ),
        (
            None if multiline else _LINE_BREAK,
            "text_line_break",
            "应为单行文本，不能包含换行或制表符",
            "must be a single line, without line breaks or tabs",
        ),
    ):
        found = pattern.search(value) if pattern is not None else None
        if found:
            code = f"U+{ord(found.group()):04X}"
            where = found.start() + 1
            return PydanticCustomError(
                kind,
                "{en} ({char} at position {position})",
                {"en": en, "char": code, "position": where, "zh": f"{zh}（第 {where} 个字符为 {code}）"},
            )
    return None


def plain_text(value: str) -> str:
    """Free text (descriptions, remarks): line breaks and tabs allowed, nothing invisible or binary."""
    if (error := _refusal(value, multiline=True)) is not None:
        raise error
    return value


def single_line(value: str) -> str:
    """Names, codes, search words: like plain_text, and on one line."""
    if (error := _refusal(value, multiline=False)) is not None:
        raise error
    return value


def _walk(value: Any, loc: tuple, found: list[InitErrorDetails]) -> None:
    if isinstance(value, str):
        if (error := _refusal(value, multiline=True)) is not None:
            found.append(InitErrorDetails(type=error, loc=loc, input=value))
    elif isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and (error := _refusal(key, multiline=False)) is not None:
                found.append(InitErrorDetails(type=error, loc=(*loc, "<key>"), input=key))
            else:
                _walk(item, (*loc, key), found)
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _walk(item, (*loc, index), found)


class RequestModel(BaseModel):
    """The base of every request body: unknown fields refused, text trimmed, and no string anywhere in it
    (nested models and lists included) carries control, invisible or unencodable characters.
    Single-line fields add `Line`."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @model_validator(mode="before")
    @classmethod
    def _refuse_hidden_characters(cls, data: Any) -> Any:
        found: list[InitErrorDetails] = []
        _walk(data, (), found)
        if found:
            raise ValidationError.from_exception_data(cls.__name__, found)
        return data


Text = Annotated[str, AfterValidator(plain_text)]
Line = Annotated[str, AfterValidator(single_line)]
# A search word or filter in a query string: one line, trimmed, bounded.
SearchText = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100), AfterValidator(single_line)
]
# A client-chosen key (Idempotency-Key): printable ASCII only.
Key = Annotated[str, StringConstraints(min_length=8, max_length=100, pattern=r"^[\x21-\x7e]+$")]

# Bounded numbers: a JSON number can be 1e300, NaN or Infinity; the database's columns cannot.
Limit = Annotated[int, Interval(ge=1, le=500)]
Offset = Annotated[int, Interval(ge=0, le=1_000_000)]


def amount(*, ge: float = 0, le: float) -> Any:
    """A finite float within [ge, le], e.g. `amount(le=1e10)` for a numeric(14, 2) column."""
    return Annotated[float, Interval(ge=ge, le=le), AllowInfNan(False)]


def like_pattern(text: str) -> str:
    """`text` as a literal inside a LIKE/ILIKE pattern (PostgreSQL's default escape character is the backslash):
    `name ILIKE '%' || $1 || '%'` with `like_pattern(q)` finds names containing q, and q = '%' finds only '%'."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


# --- plausible dates and times ----------------------------------------------------------------------
#
# pydantic accepts 0001-01-01 and 9999-12-31 (asyncpg stores them as ±infinity), and
# 9999-12-31T23:59:59-12:00 overflows when converted to UTC.

EPOCH = date(2000, 1, 1)


def _today() -> date:
    return datetime.now(UTC).date()


def _now() -> datetime:
    return datetime.now(UTC)


def _out_of_range(low: date, high: date) -> PydanticCustomError:
    return PydanticCustomError(
        "date_out_of_range",
        "date must be between {low} and {high}",
        {"low": low.isoformat(), "high": high.isoformat(), "zh": f"日期不在合理范围内，应在 {low} 至 {high} 之间"},
    )


def plausible_date(*, past: timedelta | None = None, future: timedelta, earliest: date = EPOCH) -> Any:
    """A date no earlier than `earliest` (or today - `past`) and no later than today + `future`."""

    def check(value: date) -> date:
        today = _today()
        low = max(earliest, today - past) if past is not None else earliest
        high = today + future
        if not low <= value <= high:
            raise _out_of_range(low, high)
        return value

    return Annotated[date, AfterValidator(check)]


def plausible_datetime(*, future: timedelta = timedelta(days=1), earliest: date = EPOCH) -> Any:
    """An aware date-time between `earliest` and now + `future`."""

    def check(value: datetime) -> datetime:
        low, high = datetime.combine(earliest, time(), UTC), _now() + future
        try:
            inside = low <= value.astimezone(UTC) <= high
        except OverflowError:
            inside = False
        if not inside:
            raise PydanticCustomError(
                "datetime_out_of_range",
                "time must be between {low} and {high}",
                {
                    "low": low.isoformat(),
                    "high": high.isoformat(timespec="seconds"),
                    "zh": f"时间不在合理范围内，应在 {low:%Y-%m-%d} 至 {high:%Y-%m-%d %H:%M} (UTC) 之间",
                },
            )
        return value

    return Annotated[AwareDatetime, AfterValidator(check)]


YEAR = timedelta(days=366)
# When a demand came in: not before 2000, not more than a day ahead (clock skew and time zones).
ReceivedAt = plausible_datetime(future=timedelta(days=1))
# A due date set at dispatch; a visit; a filter or calendar day; dates on certificates and equipment.
DueDate = plausible_date(past=YEAR, future=5 * YEAR)
VisitDate = plausible_date(past=5 * YEAR, future=timedelta(days=1))
CalendarDay = plausible_date(future=5 * YEAR)
QueryDate = plausible_date(future=10 * YEAR)
RecordDate = plausible_date(earliest=date(1950, 1, 1), future=50 * YEAR)
