"""Hostile data on purpose: what schemathesis' generators rarely produce, spliced into the cases they do.

Schemathesis draws strings from the schema's alphabet and numbers from its bounds, so a NUL, a bidi
override, 1e300 or 9999-12-31T23:59:59-12:00 almost never reaches a service. `hostile_case` (a
`flatmap_case` hook, see `install`) takes each generated case and, for most of them, rewrites it:

* `plausible`: identifiers the services check for real before touching the database (credit code,
  phone, station, catalogue item, e-mail) get values that pass, so the rest of the request goes deep;
* then one of
  - `poison_strings`: one hostile token spliced into (or replacing) every other string in body, query
    and path — the first text column the request reaches sees it;
  - `extremes`: every number becomes one hostile number and every date or date-time one extreme
    of the same shape (a date stays a date), numbers in query and path become hostile numerals;
  - `scatter`: one to three leaves anywhere get a hostile value of any kind.

Everything is drawn through Hypothesis, so `derandomize` keeps the tier reproducible and a failure
shrinks towards the smallest rewrite that still breaks the service. Most negative cases stay untouched,
for schemathesis' own coverage.

Chance alone cannot promise that, in ten examples, NUL ever meets a valid request of an operation; so
the test also sends every positive case in the fixed `VARIANTS` (NUL in every text, bidi and zero-width
in every text, the largest and smallest numbers and dates, `%` as every search word), derived from the
case alone so that a failure replays and shrinks like any other.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from typing import Any

from hypothesis import strategies as st
from stdnum.cn import uscc

from tests.support.events import STATION

# --- the values ----------------------------------------------------------------------------------

CONTROL = ["\x00", "\x01", "\x08", "\x0b", "\x1b", "\x7f", "\x85", "\x9f", "\r\n", "\t"]
NONCHARACTERS = ["\ufffe", "\uffff"]
BIDI = ["\u202e", "\u202d", "\u2066", "\u2067", "\u2068", "\u2069", "\u200e", "\u200f", "\u061c"]
ZERO_WIDTH = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "\u180e"]
LIKE = ["%", "_", "%%", "%_%", "\\", "\\%", "a%", "_%_"]
FORMAT = ["{0}", "{x}", "%s", "%(x)s", "{{7*7}}", "${x}", "=1+1", "@SUM(A1)"]
SQL = ["'", "''", "'; --", '"', "\\'", ")", "$1"]
SPACES = ["", " ", "\u3000", "\u00a0", "\u2028", "\u2029", "\u0085"]
LONG = ["x" * 10_000, "名" * 5_000, "\U0001d54f" * 3_000, "a" + "\u0301" * 3_000]
NUMERALS = [
    "1e300",
    "-1e300",
    "1e309",
    "-1e309",
    "NaN",
    "nan",
    "Infinity",
    "-Infinity",
    "inf",
    str(2**63),
    str(-(2**63) - 1),
    str(2**64),
    str(2**31),
    "1" * 400,
    "-0",
    "0x10",
    "1_000",
    "١٢٣",
    "１２３",
    "1e-400",
    "4.9e-324",
]
NUMBERS = [
    1e300,
    -1e300,
    2**63,
    -(2**63) - 1,
    2**64,
    2**31,
    -(2**31) - 1,
    10**40,
    1e-300,
    5e-324,
    -0.0,
    -1,
    2**53 + 1,
    1.7976931348623157e308,
]
DATES = ["0001-01-01", "9999-12-31", "1000-01-01", "1899-12-31", "2999-12-31", "2000-02-29", "0001-12-31"]
DATETIMES = [
    "9999-12-31T23:59:59-12:00",
    "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59.999999+00:00",
    "0001-01-01T00:00:00Z",
    "0001-01-01T00:00:00-00:01",
    "9999-12-31T23:59:59Z",
    "1970-01-01T00:00:00+23:59",
    "2000-01-01T00:00:00-23:59",
    "1899-12-31T23:59:59+08:00",
    "2999-01-01T00:00:00+08:00",
]

# Drawn by kind first, so NUL (PostgreSQL's own refusal) is as likely as any whole kind of hostility.
KINDS = {
    "nul": ["\x00"],
    "control": CONTROL[1:],
    # Lone surrogates are left to tests/integration/test_http_edges.py: schemathesis' own validator cannot
    # encode them, so a case holding one fails in the fuzzer rather than in the service.
    "noncharacter": NONCHARACTERS,
    "bidi": BIDI,
    "zero_width": ZERO_WIDTH,
    "like": LIKE,
    "format": FORMAT + SQL,
    "spaces": SPACES,
    "long": LONG,
    "numeral": NUMERALS,
}
TEXT = [token for tokens in KINDS.values() for token in tokens]


def _can_travel_in_url(token: str) -> bool:  # a lone surrogate cannot even be percent-encoded
    return not re.search(r"[\ud800-\udfff]", token) and len(token) <= 2_000


def _token(draw, *, in_url: bool) -> str:
    tokens = draw(st.sampled_from(list(KINDS.values())))
    if in_url:
        tokens = [t for t in tokens if _can_travel_in_url(t)] or KINDS["nul"]
    return draw(st.sampled_from(tokens))


_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")

# --- values that pass the services' own checks, so the hostile ones go deep ---------------------------

_CODE = "91210100MA0QC2LP7"
PLAUSIBLE: dict[str, Callable[[], Any]] = {
    "credit_code": lambda: _CODE + uscc.calc_check_digit(_CODE),
    "phone": lambda: "13912345678",
    "email": lambda: "qs@qq.com",
    "station_id": lambda: STATION,
    "code": lambda: "training.topic_training",  # a catalogue item (intake's migrations)
    "item_code": lambda: "training.topic_training",
}


def _plausible(value: Any, key: str | None = None) -> Any:
    if isinstance(value, dict):
        return {k: _plausible(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_plausible(v, key) for v in value]
    if key in PLAUSIBLE and isinstance(value, str):
        return PLAUSIBLE[key]()
    return value


# --- where a case carries values ------------------------------------------------------------------


def _leaves(value: Any, path: tuple = ()) -> list[tuple[tuple, Any]]:
    """(path, value) of every scalar in a JSON-like value; dict keys are not leaves."""
    if isinstance(value, dict):
        return [leaf for k, v in value.items() for leaf in _leaves(v, (*path, k))]
    if isinstance(value, list):
        return [leaf for i, v in enumerate(value) for leaf in _leaves(v, (*path, i))]
    return [(path, value)]


def _set(root: Any, path: tuple, value: Any) -> Any:
    if not path:
        return value
    root[path[0]] = _set(root[path[0]], path[1:], value)
    return root


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _kind(value: Any) -> str:
    if _is_number(value):
        return "number"
    if isinstance(value, str) and _DATETIME.match(value):
        return "datetime"
    if isinstance(value, str) and _DATE.match(value):
        return "date"
    if isinstance(value, str):
        return "text"
    return "other"


def _replacement(draw, value: Any, *, in_url: bool) -> Any:
    """A hostile value fitting where `value` was: same shape if it had one, any hostility otherwise."""
    kind = _kind(value)
    if kind == "datetime":
        return draw(st.sampled_from(DATETIMES))
    if kind == "date":
        return draw(st.sampled_from(DATES))
    if kind == "number":
        return draw(st.sampled_from(NUMERALS)) if in_url else draw(st.sampled_from(NUMBERS))
    return _splice(draw, value if isinstance(value, str) else "", _token(draw, in_url=in_url))


def _splice(draw, text: str, token: str) -> str:
    """`token` instead of, before, inside or after `text`."""
    where = draw(st.sampled_from(["replace", "start", "middle", "end"]))
    if where == "replace" or not text:
        return token
    if where == "start":
        return token + text
    if where == "end":
        return text + token
    middle = len(text) // 2
    return text[:middle] + token + text[middle:]


# --- the case rewrite -------------------------------------------------------------------------------

CONTAINERS = ("body", "query", "path_parameters")


def _is_negative(case) -> bool:
    meta = case.meta
    return meta is not None and meta.generation.mode.is_negative


@st.composite
def _rewritten(draw, case):
    # Schemathesis' negative cases are refused anyway: most stay as they are, for its own coverage;
    # most positive ones are valid requests a hostile value can ride deep into the service.
    if draw(st.integers(0, 9)) < (7 if _is_negative(case) else 1):
        return case
    values = {name: copy.deepcopy(getattr(case, name)) for name in CONTAINERS}
    if not isinstance(values["body"], dict | list):
        values["body"] = case.body  # NOT_SET, or a non-JSON payload: left as it is
    if draw(st.integers(0, 9)) < 8:
        values = {name: _plausible(v) if isinstance(v, dict | list) else v for name, v in values.items()}
    leaves = [
        (name, path, value)
        for name in CONTAINERS
        if isinstance(values[name], dict | list)
        for path, value in _leaves(values[name])
    ]
    mode = draw(st.sampled_from(["poison_each", "poison_strings", "extremes", "scatter"]))
    if mode in ("poison_each", "poison_strings"):
        # every string but (mostly) the plausible identifiers: one token for all, or one token each
        token = {True: _token(draw, in_url=True), False: _token(draw, in_url=False)}
        keep_plausible = draw(st.integers(0, 3)) > 0
        for name, path, value in leaves:
            if _kind(value) != "text" or (keep_plausible and path and path[-1] in PLAUSIBLE):
                continue
            in_url = name != "body"
            chosen = _token(draw, in_url=in_url) if mode == "poison_each" else token[in_url]
            values[name] = _set(values[name], path, _splice(draw, value, chosen))
    elif mode == "extremes":  # each number and date, independently: one refused value must not hide the others
        for name, path, value in leaves:
            if _kind(value) in ("number", "date", "datetime") and draw(st.booleans()):
                values[name] = _set(values[name], path, _replacement(draw, value, in_url=name != "body"))
    elif leaves:
        for _ in range(draw(st.integers(1, 3))):
            name, path, value = draw(st.sampled_from(leaves))
            values[name] = _set(values[name], path, _replacement(draw, value, in_url=name != "body"))
    for name, value in (values["path_parameters"] or {}).items():
        # A URL loses blanks and controls at its ends, and an empty segment is another route
        # (`/surveys/` is the list): such a path parameter is sent inside two letters.
        if isinstance(value, str) and (not value or not value[0].isalnum() or not value[-1].isalnum()):
            values["path_parameters"][name] = f"x{value}x"
    for name in CONTAINERS:
        if name != "body" or isinstance(values[name], dict | list):
            setattr(case, name, values[name])
    try:  # whether the rewritten case is still positive (schemathesis would do it at the call)
        case.operation.schema.revalidate_case_metadata(case)
    except UnicodeEncodeError:  # its validator cannot take a lone surrogate: the metadata stays as generated
        case._record_starting_state()
    return case


def hostile_case(_ctx, case):
    """flatmap_case hook: the case as schemathesis made it, or rewritten with hostile values."""
    return _rewritten(case)


def install(schema) -> None:
    """Rewrite every case of `schema` (its own hooks, so nothing else in the process is affected)."""
    schema.hooks.register_hook_with_name(hostile_case, "flatmap_case")


# --- the same hostility on every valid case, without chance ------------------------------------------
#
# Ten examples an operation cannot promise that NUL ever meets a valid request of it; so every
# positive case is also sent in a few fixed variants, derived from it alone (a failure replays).


def _fixed(
    case,
    text: Callable[[str], str] | None = None,
    number: Callable[[Any], Any] | None = None,
    date: str | None = None,
    datetime_: str | None = None,
    query_text: str | None = None,
) -> dict:
    values = {name: copy.deepcopy(getattr(case, name)) for name in CONTAINERS}
    values = {name: _plausible(v) if isinstance(v, dict | list) else v for name, v in values.items()}
    for name in CONTAINERS:
        if not isinstance(values[name], dict | list):
            continue
        for path, value in _leaves(values[name]):
            kind, new = _kind(value), value
            if kind == "text" and name == "query" and query_text is not None:
                new = query_text
            elif kind == "text" and text is not None and not (path and path[-1] in PLAUSIBLE):
                new = text(value)
            elif kind == "number" and number is not None:
                new = number(value) if name == "body" else str(number(value))
            elif kind == "date" and date is not None:
                new = date
            elif kind == "datetime" and datetime_ is not None:
                new = datetime_
            values[name] = _set(values[name], path, new)
    return values


def _middle(token: str) -> Callable[[str], str]:
    return lambda text: f"{text[: len(text) // 2]}{token}{text[len(text) // 2 :]}" if text else f"x{token}x"


VARIANTS: dict[str, Callable[[Any], dict]] = {
    "nul": lambda case: _fixed(case, text=_middle("\x00")),
    "bidi_zero_width": lambda case: _fixed(case, text=_middle("\u202e\u200b")),
    "huge": lambda case: _fixed(
        case,
        number=lambda n: 2**63 if isinstance(n, int) else 1e300,
        date="9999-12-31",
        datetime_="9999-12-31T23:59:59-12:00",
    ),
    "tiny": lambda case: _fixed(
        case,
        number=lambda n: -(2**63) - 1 if isinstance(n, int) else -1e300,
        date="0001-01-01",
        datetime_="0001-01-01T00:00:00+14:00",
    ),
    "like": lambda case: _fixed(case, query_text="%"),
}


def is_positive(case) -> bool:
    """Valid as generated, or invalid only in path parameters the plausible values may put right
    (schemathesis cannot generate `station_id` with its slashes for `/public/stations/{station_id}/demands`)."""
    meta = case.meta
    if meta is None or not meta.generation.mode.is_negative:
        return True
    return all(
        component.mode.is_positive or location.value == "path" for location, component in meta.components.items()
    ) and any(name in PLAUSIBLE for name in case.path_parameters or {})


class applied:
    """`with applied(case, values):` the case carries `values` (from VARIANTS), and its own afterwards."""

    def __init__(self, case, values: dict) -> None:
        self.case, self.values = case, values

    def __enter__(self):
        self.saved = {name: getattr(self.case, name) for name in CONTAINERS}
        for name, value in self.values.items():
            if name != "body" or isinstance(value, dict | list):
                setattr(self.case, name, value)
        return self.case

    def __exit__(self, *exc) -> None:
        if exc[0] is None:  # a failing variant stays on the case, so the report shows what was sent
            for name, value in self.saved.items():
                setattr(self.case, name, value)
