"""Several SQL statements sent as one: one round trip instead of several.

Each round trip costs the service ~60-80 µs of CPU in the socket write and PostgreSQL ~150 µs (measured under
`make bench`), so writes a transaction makes to different rows are sent together where that is safe.
"""

import re
from collections.abc import Sequence
from functools import cache

import asyncpg

_PARAMETER = re.compile(r"\$(\d+)")


@cache
def together(*statements: str) -> str:
    """All but the last statement as data-modifying WITH queries, the last as the main one (its result is the
    statement's), each one's parameters numbered on from the previous one's. Only for writes to different rows:
    every part sees the snapshot the statement started with, none sees another's changes, all of them run to
    completion whether the main query reads them or not, and all or none of them happen (PostgreSQL,
    "Data-Modifying Statements in WITH")."""
    parts, offset = [], 0
    for sql in statements:
        parts.append(_PARAMETER.sub(lambda m, shift=offset: f"${int(m.group(1)) + shift}", sql.strip()))
        offset += max((int(n) for n in _PARAMETER.findall(sql)), default=0)
    *first, main = parts
    return "".join(f"{'WITH' if i == 0 else ','} w{i} AS ({sql})\n" for i, sql in enumerate(first)) + main


async def at_once(conn: asyncpg.Connection, *parts: tuple[str, Sequence]):
    """The (statement, parameters) parts as one statement (`together`); the last one's first value."""
    return await conn.fetchval(together(*(sql for sql, _ in parts)), *(v for _, args in parts for v in args))


def literal(value: str) -> str:
    """`value` as an SQL string literal (escape-string syntax, whatever `standard_conforming_strings` says).

    Only for a transaction's opening statement, which goes with its BEGIN in one simple-protocol round trip, where
    there are no parameters."""
    if "\x00" in value:
        raise ValueError("an SQL string cannot hold NUL")
    return "E'" + value.replace("\\", "\\\\").replace("'", "''") + "'"
