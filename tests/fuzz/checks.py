"""Checks beyond "no 5xx, matches its schema": a hostile value the services accepted is a bug too.

* `accepts_only_what_the_rules_allow`: a 2xx JSON reply never carries text the input rules refuse
  (C0/C1 controls but tab and line breaks, bidi controls, zero-width characters, lone surrogates)
  nor a date outside 1900–2200 (year 0001 stored as -infinity, 9999-12-31 accepted as a due date…).
* `like_wildcards_match_themselves`: a search word or filter containing `%` or `_` finds only rows
  that contain it literally — `q=%` must not list everything.

Both read only the reply (and the request's query string), so they hold on every operation.
"""

from __future__ import annotations

import json
import re
from typing import Any

_REFUSED = re.compile(
    r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064"
    r"\u2066-\u2069\ufeff\ud800-\udfff\ufffe\uffff]"
)
_YEAR = re.compile(r"^([+-]?\d{4,})-\d{2}-\d{2}(?:$|[T ])")
_INFINITY = re.compile(r"^[+-]?infinity$", re.IGNORECASE)
PLAUSIBLE_YEARS = range(1900, 2201)


def _json(response) -> Any:
    types = [v for k, vs in response.headers.items() if k.lower() == "content-type" for v in vs]
    if not 200 <= response.status_code < 300 or not any("json" in t for t in types):
        return None
    try:
        return json.loads(response.content)
    except ValueError:
        return None


def _strings(value: Any, path: str = "$"):
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield f"{path}.<key>", str(key)
            yield from _strings(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, f"{path}[{index}]")


def accepts_only_what_the_rules_allow(ctx, response, case) -> bool | None:
    body = _json(response)
    if body is None:
        return None
    for path, text in _strings(body):
        if found := _REFUSED.search(text):
            raise AssertionError(
                f"a {response.status_code} reply carries U+{ord(found.group()):04X} at {path} ({text[:80]!r}): "
                "the request's text was accepted although the input rules refuse it"
            )
        year = _YEAR.match(text)
        if _INFINITY.match(text) or (year and int(year.group(1)) not in PLAUSIBLE_YEARS):
            raise AssertionError(
                f"a {response.status_code} reply carries the date {text!r} at {path}: "
                "an implausible date was accepted (or stored as ±infinity)"
            )
    return None


def _casefold(value: Any) -> str:
    return " ".join(text for _, text in _strings(value)).casefold()


def like_wildcards_match_themselves(ctx, response, case) -> bool | None:
    body = _json(response)
    if not isinstance(body, list) or not body or not case.query:
        return None
    words = [
        value.strip()
        for value in case.query.values()
        if isinstance(value, str) and ("%" in value or "_" in value) and value.strip()
    ]
    for word in words:
        for index, item in enumerate(body):
            if word.casefold() not in _casefold(item):
                raise AssertionError(
                    f"searching {word!r} listed item [{index}], which does not contain it: "
                    f"a LIKE wildcard in the search word was not escaped ({json.dumps(item, ensure_ascii=False)[:200]})"
                )
    return None


CHECKS = [accepts_only_what_the_rules_allow, like_wildcards_match_themselves]
