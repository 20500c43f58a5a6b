"""Scorecard SQL: the ratings of a period per station, first responder, organization or category.

Each dimension's ratings are the breakdown metrics' derived tables (services/evaluation/store.py `RATED_BY`: each
rating with the key it counts under), counted as GET /kpis counts a station's: by the China date of the rating, valid
ones (not voided) per overall level and item 5 answered yes, and those voided since. Rows only for keys with a rating
(valid or voided) in the period, in key order.

$1 the scope (qs_covers; '*' for the whole), $2 and $3 the period's first and last China dates, $4 one key only (an
organization's own row) or NULL.
"""

import asyncpg

from shared.contracts import Overall
from shared.kpis import Period

from ..store import _ITEM_5, _RATED_ON, _VALID, _VOIDED, RATED_BY, _per_level
from .domain import By, Figures, Row


def _scorecard(by: By) -> str:
    return f"""
SELECT key, min(label) AS label,
    {", ".join(_per_level(_VALID))},
    count(*) FILTER (WHERE {_VALID} AND {_ITEM_5} = 'true') AS solved,
    count(*) FILTER (WHERE {_VOIDED}) AS voided
FROM ({RATED_BY[by.value]}) AS rated
WHERE qs_covers($1, station_id) AND {_RATED_ON} BETWEEN $2 AND $3 AND ($4::text IS NULL OR key = $4)
GROUP BY key
ORDER BY key
"""


_SCORECARDS = {by: _scorecard(by) for by in By}
_LEVELS = len(Overall)


class ScorecardStore:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def rows(self, by: By, scope: str, period: Period, only: str | None) -> list[Row]:
        rows = []
        for r in await self.conn.fetch(_SCORECARDS[by], scope, period.start, period.end, only):
            counts = list(r.values())[2:]
            by_level = dict(zip(Overall, counts[:_LEVELS], strict=True))
            figures = Figures(by_level, solved=r["solved"], voided=r["voided"])
            rows.append(Row(key=r["key"], label=r["label"] or r["key"], figures=figures))
        return rows
