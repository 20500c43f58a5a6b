"""Evaluation SQL. The store is bound to one transaction's connection; the unit of work owns the transaction."""

from datetime import date, datetime
from uuid import UUID

import asyncpg

from shared.calendar import china_today
from shared.contracts import Assigned, Overall, Rated, Resolved, utcnow
from shared.db.together import at_once
from shared.kpis import Period
from shared.observability.metrics import STATION_TREE_SQL, TREE_LABELS, StoreCounter, StoreQuery

from . import kpis
from .domain import FORM_FIELDS, SURVEY_FIELDS, DemandForm, Rating, RatingLink, Survey

_COLUMNS = ", ".join(SURVEY_FIELDS)
_PLACEHOLDERS = ", ".join(f"${n}" for n in range(1, len(SURVEY_FIELDS) + 1))
# What a survey keeps of its demand (station, tracking number, correlation) is fixed by the first event seen.
_FIXED = ("demand_id", "station_id", "tracking_no", "correlation_id")
_UPDATES = ", ".join(f"{c} = EXCLUDED.{c}" for c in SURVEY_FIELDS if c not in _FIXED)
_UPSERT = f"""
INSERT INTO surveys ({_COLUMNS}) VALUES ({_PLACEHOLDERS})
ON CONFLICT (demand_id) DO UPDATE SET {_UPDATES}
"""
_GET = f"SELECT {_COLUMNS} FROM surveys WHERE demand_id = $1"
_GET_IN_SCOPE = _GET + " AND qs_covers($2, station_id)"
# A page walks the stations the scope covers (listed_stations, shared migration 0006), each down
# surveys_by_station_opened for its first offset + limit surveys, and merges them: about a page per station, however
# many surveys there are. The scope is asked again of every row, and row-level security stands behind.
_LIST = f"""
SELECT {_COLUMNS}
FROM (SELECT station_id AS listed FROM listed_stations WHERE qs_covers($2, station_id)) covered
CROSS JOIN LATERAL (
    SELECT {_COLUMNS} FROM surveys
    WHERE station_id = covered.listed AND ($1::text IS NULL OR status = $1) AND qs_covers($2, station_id)
    ORDER BY opened_at DESC NULLS LAST
    LIMIT $3::bigint + $4::bigint) station_page
ORDER BY opened_at DESC NULLS LAST LIMIT $3 OFFSET $4
"""
_LINK_COLUMNS = "token_sha256, demand_id, station_id, round, created_by, created_at, expires_at, used_at, status_page"
_ADD_LINK = f"INSERT INTO rating_links ({_LINK_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
# A link the station sends, with its id (migrations/0008_rating_link_ids.sql): what a retried request finds it by.
_ADD_SENT_LINK = _ADD_LINK + " RETURNING id"
# A round's one link for the status page (migrations/0007_status_page_links.sql): a second is not made, whatever asks.
_ADD_STATUS_PAGE_LINK = _ADD_LINK + " ON CONFLICT (demand_id, round) WHERE status_page DO NOTHING RETURNING true"
# A retired link expires at the moment it was retired: the demand's unused links (of the rounds before $3, when given).
_RETIRE_LINKS = """
UPDATE rating_links SET expires_at = $2
WHERE demand_id = $1 AND used_at IS NULL AND expires_at > $2 AND ($3::integer IS NULL OR round < $3)
"""
# The round's links the station sent still valid at $3 (unused, unexpired); the status page's own is not one of them.
_VALID_LINKS = """
SELECT count(*) FROM rating_links
WHERE demand_id = $1 AND round = $2 AND used_at IS NULL AND expires_at > $3 AND NOT status_page
"""
_GET_LINK = f"SELECT {_LINK_COLUMNS} FROM rating_links WHERE token_sha256 = $1 FOR UPDATE"
_USE_LINK = "UPDATE rating_links SET used_at = $2 WHERE token_sha256 = $1"
_LINK_BY_ID = f"SELECT {_LINK_COLUMNS} FROM rating_links WHERE id = $1 FOR UPDATE"
# A new token for the same link: only its digest changes (the same id, round and expiry; still one link).
_ROTATE_LINK = "UPDATE rating_links SET token_sha256 = $2 WHERE id = $1"
_ADD_RATING = """
INSERT INTO ratings (demand_id, round, station_id, answers, overall, source, recorded_by, rated_at, event_id)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
"""
_RATING_COLUMNS = "round, answers, source, recorded_by, rated_at, event_id, voided_at, voided_by, void_reason"
_RATINGS = f"SELECT {_RATING_COLUMNS} FROM ratings WHERE demand_id = $1 ORDER BY round"
_RATING = f"SELECT {_RATING_COLUMNS} FROM ratings WHERE demand_id = $1 AND round = $2"
# The only change a rating accepts (the table's trigger refuses every other, and any change to a voided one).
_VOID_RATING = """
UPDATE ratings SET voided_at = $3, voided_by = $4, void_reason = $5
WHERE demand_id = $1 AND round = $2 AND voided_at IS NULL
"""

# What evaluation keeps of the demand for its breakdowns (migrations/0006_breakdowns.sql): the form (a fold of
# DemandSubmitted and DemandCorrected, domain.DemandForm), every assignment with its assignee, and each round's
# resolution with the assignment it answers.
_FORM_COLUMNS = ", ".join(FORM_FIELDS)
_GET_FORM = f"SELECT {_FORM_COLUMNS} FROM demand_forms WHERE demand_id = $1"
_SAVE_FORM = f"""
INSERT INTO demand_forms ({_FORM_COLUMNS}) VALUES ({", ".join(f"${n}" for n in range(1, len(FORM_FIELDS) + 1))})
ON CONFLICT (demand_id) DO UPDATE SET {", ".join(f"{c} = EXCLUDED.{c}" for c in FORM_FIELDS if c != "demand_id")}
"""
# An assignment never changes (a rematch is the next number): the first copy seen stays.
_ADD_ASSIGNMENT = """
INSERT INTO assignments (demand_id, assignment_no, station_id, round, assignee_kind, assignee_id, assignee_name,
    assigned_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
ON CONFLICT (demand_id, assignment_no) DO NOTHING
"""
# The round's resolution (the survey's resolved_event_id, whether it opened the survey or the round waits for its
# assignment): the latest one applied.
_SET_RESOLUTION = """
INSERT INTO resolutions (demand_id, round, station_id, assignment_no, event_id, resolved_at)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (demand_id, round) DO UPDATE
SET assignment_no = EXCLUDED.assignment_no, event_id = EXCLUDED.event_id, resolved_at = EXCLUDED.resolved_at
"""

# Whom a rating is of, beyond its station (domain.md §7: per category, per organization; issue 10: per staff), as
# derived tables of the ratings, each rating with the `key` (and `label`) it counts under. One definition for the
# metrics below and the scorecards (services/evaluation/scorecards): the same ratings, the same numbers.
# - station: its station, named as the registry names it;
# - category: each category its demand's form names (one of two categories counts in both); a demand whose
#   submission evaluation has not seen is in no category;
# - organization: the organization holding the assignment that the rated round's resolution answered
#   (Resolved.assignment_no; a resolution that did not say: the round's latest assignment); a round served by station
#   staff or referred to a department is in no organization's figures;
# - staff: the demand's first responder (首问负责人) by account id, by name where the account is not known.
RATED_BY = {
    "station": """SELECT r.*, r.station_id AS key, COALESCE(t.name, r.station_id) AS label
    FROM ratings r LEFT JOIN station_tree t USING (station_id)""",
    "category": """SELECT r.*, named.code AS key, named.label AS label
    FROM ratings r JOIN demand_forms f USING (demand_id)
    CROSS JOIN LATERAL (
        SELECT DISTINCT ON (c ->> 'code') c ->> 'code' AS code, c ->> 'label' AS label
        FROM jsonb_array_elements(f.categories) AS c
        ORDER BY c ->> 'code', c ->> 'label'
    ) AS named""",
    "organization": """SELECT r.*, a.assignee_id AS key, a.assignee_name AS label
    FROM ratings r
    LEFT JOIN resolutions res ON res.demand_id = r.demand_id AND res.round = r.round
    JOIN assignments a ON a.demand_id = r.demand_id AND a.assignment_no = COALESCE(res.assignment_no, (
        SELECT max(l.assignment_no) FROM assignments l WHERE l.demand_id = r.demand_id AND l.round <= r.round))
    WHERE a.assignee_kind = 'organization'""",
    "staff": """SELECT r.*, COALESCE(f.first_responder_id, f.first_responder) AS key, f.first_responder AS label
    FROM ratings r JOIN demand_forms f USING (demand_id)
    WHERE COALESCE(f.first_responder_id, f.first_responder) IS NOT NULL""",
}

# The satisfaction KPIs (domain.md §9 满意率 and 解决率; README, "Satisfaction"), counted from the ratings at a scrape
# (so every replica reports the same whole and a restart changes nothing) and for GET /kpis, by the same columns:
# per overall level (item 10) and item 5 answered yes / no, per station with its district and city (STATION_TREE_SQL).
# Which levels are 满意 is a setting (kpis.Definition), applied to these counts in one place.
#
# Which ratings count: the valid ones (domain.md §9: ratings voided after 申诉复核 excluded), by this one predicate in
# GET /kpis and the 30-day gauge alike. The counters cannot leave a voided rating out: a counter that drops reads as a
# reset to Prometheus. So they never drop: qs_ratings_total counts every rating made, qs_ratings_voided_total (same
# labels) those of them voided since, and valid = total - voided (the solved pair likewise); increase() of each,
# subtracted, is the change in valid ratings over a range.
_VALID = "voided_at IS NULL"
_VOIDED = "voided_at IS NOT NULL"
_RATED_ON = "(rated_at AT TIME ZONE 'Asia/Shanghai')::date"  # the China date of the rating
_ITEM_5 = "answers ->> 'problem_solved'"  # 问题是否解决: 'true', 'false', or NULL when not answered


def _per_level(when: str | None = None) -> list[str]:
    """One count per overall level, in Overall order, of the ratings (where `when` holds)."""
    also = f" AND {when}" if when else ""
    return [f"count(*) FILTER (WHERE overall = '{level.value}'{also})" for level in Overall]


def _solved(when: str | None = None) -> list[str]:
    """Of the ratings (where `when` holds), those answering item 5 yes, then no."""
    also = f" AND {when}" if when else ""
    return [f"count(*) FILTER (WHERE {_ITEM_5} = '{answer}'{also})" for answer in ("true", "false")]


RATINGS = StoreCounter(
    "qs_ratings_total",
    "Satisfaction ratings made, voided ones included (subtract qs_ratings_voided_total for the valid ones), by station,"
    " overall level (item 10) and whether that level counts as satisfied (EVALUATION_SATISFIED_LEVELS)",
    (*TREE_LABELS, "overall", "satisfied"),
)
VOIDED = StoreCounter(
    "qs_ratings_voided_total",
    "Of qs_ratings_total, the ratings voided on appeal (申诉复核), by the same labels: valid = total - voided",
    (*TREE_LABELS, "overall", "satisfied"),
)
SOLVED = StoreCounter(
    "qs_ratings_solved_total",
    "Ratings answering item 5 (问题是否解决), voided ones included, by station and answer (yes/no): 解决率's numerator"
    " and denominator once qs_ratings_solved_voided_total is subtracted",
    (*TREE_LABELS, "solved"),
)
SOLVED_VOIDED = StoreCounter(
    "qs_ratings_solved_voided_total",
    "Of qs_ratings_solved_total, the ratings voided on appeal (申诉复核), by the same labels",
    (*TREE_LABELS, "solved"),
)
LAST_30_DAYS = StoreCounter(
    "qs_ratings_last_30_days",
    f"Valid ratings whose China date lies in the {kpis.WINDOW_DAYS} China days ending today (by the service's clock),"
    " by station, overall level and whether it counts as satisfied",
    (*TREE_LABELS, "overall", "satisfied"),
    kind="gauge",
)
# One reading of the ratings per scrape, one row per station with a rating (voided or not): so each such station has
# every series, 0 included (a figure that drops reads 0 rather than vanishing). $1, $2: the window of LAST_30_DAYS,
# whose ratings are the valid ones.
_RATING_KPIS = f"""SELECT {STATION_TREE_SQL},
    {", ".join(_per_level())},
    {", ".join(_per_level(_VOIDED))},
    {", ".join(_per_level(f"{_VALID} AND {_RATED_ON} BETWEEN $1 AND $2"))},
    {", ".join(_solved())},
    {", ".join(_solved(_VOIDED))}
FROM ratings
GROUP BY 1, 2, 3"""


def _last_30_days() -> tuple[date, date]:
    """The window's first and last China day, today from the service's clock (as tracking's metrics and GET /kpis)."""
    window = kpis.last_days(china_today(utcnow()))
    return window.start, window.end


def _flag(satisfied: bool) -> str:
    return "true" if satisfied else "false"


def rating_kpis(definition: kpis.Definition) -> StoreQuery:
    """The rating figures for the levels `definition` counts as satisfied: each level's series carries that as its
    `satisfied` label (a StoreQuery's further labels are fixed when it is built, and the settings are fixed for the
    process), so PromQL's 满意率 is `satisfied="true"` over all, with the settings' definition."""
    levels = tuple((level.value, _flag(definition.satisfied(level))) for level in Overall)
    return StoreQuery(
        _RATING_KPIS,
        labels=len(TREE_LABELS),
        columns=(
            *((RATINGS, labels) for labels in levels),
            *((VOIDED, labels) for labels in levels),
            *((LAST_30_DAYS, labels) for labels in levels),
            (SOLVED, ("yes",)),
            (SOLVED, ("no",)),
            (SOLVED_VOIDED, ("yes",)),
            (SOLVED_VOIDED, ("no",)),
        ),
        params=_last_30_days,
    )


CATEGORY_LABELS = (*TREE_LABELS, "category")
ORGANIZATION_LABELS = ("organization_id", *TREE_LABELS)
_OF_CATEGORY = "per station and category of the demand's form (a demand of two categories counts in both)"
_OF_ORGANIZATION = (
    "per service organization and station: the organization holding the assignment the rated round's resolution"
    " answered"
)
CATEGORY_RATINGS = StoreCounter(
    "qs_category_ratings_total",
    f"qs_ratings_total {_OF_CATEGORY}: voided ones included, subtract qs_category_ratings_voided_total",
    (*CATEGORY_LABELS, "overall", "satisfied"),
)
CATEGORY_VOIDED = StoreCounter(
    "qs_category_ratings_voided_total",
    f"qs_ratings_voided_total {_OF_CATEGORY}: valid = total - voided",
    (*CATEGORY_LABELS, "overall", "satisfied"),
)
ORGANIZATION_RATINGS = StoreCounter(
    "qs_organization_ratings_total",
    f"qs_ratings_total {_OF_ORGANIZATION}: voided ones included, subtract qs_organization_ratings_voided_total",
    (*ORGANIZATION_LABELS, "overall", "satisfied"),
)
ORGANIZATION_VOIDED = StoreCounter(
    "qs_organization_ratings_voided_total",
    f"qs_ratings_voided_total {_OF_ORGANIZATION}: valid = total - voided",
    (*ORGANIZATION_LABELS, "overall", "satisfied"),
)
# One reading each, a row per station and category (organization and station) with a rating, voided or not: so each
# has every level's series, 0 included, as the station's families.
_CATEGORY_KPIS = f"""SELECT {STATION_TREE_SQL}, key AS category,
    {", ".join(_per_level())},
    {", ".join(_per_level(_VOIDED))}
FROM ({RATED_BY["category"]}) AS rated
GROUP BY 1, 2, 3, 4"""
_ORGANIZATION_KPIS = f"""SELECT key AS organization_id, {STATION_TREE_SQL},
    {", ".join(_per_level())},
    {", ".join(_per_level(_VOIDED))}
FROM ({RATED_BY["organization"]}) AS rated
GROUP BY 1, 2, 3, 4"""


def breakdown_kpis(definition: kpis.Definition) -> tuple[StoreQuery, StoreQuery]:
    """The rating counters per category and per organization, labelled `satisfied` as rating_kpis does."""
    levels = tuple((level.value, _flag(definition.satisfied(level))) for level in Overall)
    return (
        StoreQuery(
            _CATEGORY_KPIS,
            labels=len(CATEGORY_LABELS),
            columns=(
                *((CATEGORY_RATINGS, labels) for labels in levels),
                *((CATEGORY_VOIDED, labels) for labels in levels),
            ),
        ),
        StoreQuery(
            _ORGANIZATION_KPIS,
            labels=len(ORGANIZATION_LABELS),
            columns=(
                *((ORGANIZATION_RATINGS, labels) for labels in levels),
                *((ORGANIZATION_VOIDED, labels) for labels in levels),
            ),
        ),
    )


def counters(definition: kpis.Definition) -> tuple[StoreQuery, ...]:
    """Every store figure of the service, for the settings' definition of 满意."""
    return (rating_kpis(definition), *breakdown_kpis(definition))


# The supervisor's view (GET /kpis, services/evaluation/kpis.py): per station in scope ($1) with a valid rating, the
# ratings of the period [$2, $3] (China dates of rated_at, both included) by the metrics' columns.
_IN_PERIOD = f"{_RATED_ON} BETWEEN $2 AND $3"
_KPIS = f"""
SELECT {STATION_TREE_SQL},
    {", ".join(_per_level(_IN_PERIOD))},
    {", ".join(_solved(_IN_PERIOD))}
FROM ratings
WHERE {_VALID} AND qs_covers($1, station_id)
GROUP BY 1, 2, 3
ORDER BY 1
"""
_LEVELS = len(Overall)


def _survey_values(survey: Survey) -> tuple:
    return tuple(getattr(survey, c) for c in SURVEY_FIELDS)


def _assignment_values(e: Assigned) -> tuple:
    return (
        e.demand_id,
        e.assignment_no,
        e.station_id,
        e.round,
        e.assignee_kind.value,
        e.assignee_id,
        e.assignee_name,
        e.occurred_at,
    )


def _resolution_values(survey: Survey, e: Resolved) -> tuple:
    return (
        survey.demand_id,
        survey.round,
        survey.station_id,
        survey.resolved_assignment_no,
        survey.resolved_event_id,
        e.occurred_at,
    )


def _rating_values(e: Rated) -> tuple:
    return (
        e.demand_id,
        e.round,
        e.station_id,
        e.answers.model_dump(mode="json"),
        e.answers.overall.value,
        e.source.value,
        e.recorded_by,
        e.rated_at,
        e.event_id,
    )


def _link_values(link: RatingLink) -> tuple:
    return (
        link.token_sha256,
        link.demand_id,
        link.station_id,
        link.round,
        link.created_by,
        link.created_at,
        link.expires_at,
        link.used_at,
        link.status_page,
    )


def _survey(row) -> Survey | None:
    return Survey(**{**row, "voided_rounds": tuple(row["voided_rounds"])}) if row else None


class Store:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def get(self, demand_id: UUID, *, for_update: bool = False) -> Survey | None:
        return _survey(await self.conn.fetchrow(_GET + (" FOR UPDATE" if for_update else ""), demand_id))

    async def save(self, survey: Survey) -> None:
        await self.conn.execute(_UPSERT, *_survey_values(survey))

    async def save_assigned(self, survey: Survey, e: Assigned, *, status_page_link: RatingLink | None = None) -> bool:
        """In one statement: the survey as the assignment left it, the assignment (the first copy seen stays), and the
        link for the status page of the round the assignment opened, if given. True when that link was added."""
        parts = [(_ADD_ASSIGNMENT, _assignment_values(e)), (_UPSERT, _survey_values(survey))]
        if status_page_link is not None:
            parts.append((_ADD_STATUS_PAGE_LINK, _link_values(status_page_link)))
        return bool(await at_once(self.conn, *parts))  # the status page link's RETURNING true, when it is the last part

    async def save_resolved(
        self, survey: Survey, *, resolution: Resolved | None, retire_at: datetime, status_page_link: RatingLink | None
    ) -> bool:
        """In one statement: the survey as a resolution left it; with `resolution`, that resolution as its round's (and
        the assignment it answers; kept even while the round waits for that assignment); the unused links of the
        rounds before the survey's stop working at `retire_at`; and the round's link for the status page, if given.
        True when that link was added (False: the round has one already, or none was given). The parts write
        different rows: the retired links are of earlier rounds, the status page's link is of the survey's round."""
        parts = [(_UPSERT, _survey_values(survey))]
        if resolution is not None:
            parts.append((_SET_RESOLUTION, _resolution_values(survey, resolution)))
        parts.append((_RETIRE_LINKS, (survey.demand_id, retire_at, survey.round)))
        if status_page_link is not None:
            parts.append((_ADD_STATUS_PAGE_LINK, _link_values(status_page_link)))
        return bool(await at_once(self.conn, *parts))  # the status page link's RETURNING true, when it is the last part

    async def save_rated(self, survey: Survey, e: Rated) -> None:
        """In one statement: the survey as the rating left it, the rating, and the demand's unused links retired at
        the rating's time (a link used in this transaction is used already, so not among them)."""
        await at_once(
            self.conn,
            (_UPSERT, _survey_values(survey)),
            (_ADD_RATING, _rating_values(e)),
            (_RETIRE_LINKS, (survey.demand_id, e.rated_at, None)),
        )

    async def get_in_scope(self, demand_id: UUID, scope: str, *, for_update: bool = False) -> Survey | None:
        sql = _GET_IN_SCOPE + (" FOR UPDATE" if for_update else "")
        return _survey(await self.conn.fetchrow(sql, demand_id, scope))

    async def list_in_scope(self, scope: str, status: str | None, limit: int, offset: int) -> list[Survey]:
        return [_survey(r) for r in await self.conn.fetch(_LIST, status, scope, limit, offset)]

    async def form(self, demand_id: UUID, *, for_update: bool = False) -> DemandForm | None:
        row = await self.conn.fetchrow(_GET_FORM + (" FOR UPDATE" if for_update else ""), demand_id)
        return DemandForm(**row) if row else None

    async def save_form(self, form: DemandForm) -> None:
        await self.conn.execute(_SAVE_FORM, *(getattr(form, c) for c in FORM_FIELDS))

    async def add_link(self, link: RatingLink) -> UUID:
        """Earlier links of the demand stay valid (domain: rating links). Returns the new link's id."""
        return await self.conn.fetchval(_ADD_SENT_LINK, *_link_values(link))

    async def link_by_id(self, link_id: UUID) -> RatingLink | None:
        row = await self.conn.fetchrow(_LINK_BY_ID, link_id)
        return RatingLink(**row) if row else None

    async def rotate_link(self, link_id: UUID, token_sha256: str) -> None:
        """The link answers to a new token from now on, and no longer to its earlier one."""
        await self.conn.execute(_ROTATE_LINK, link_id, token_sha256)

    async def retire_links(self, demand_id: UUID, when: datetime, *, before_round: int | None = None) -> None:
        """The demand's unused links (of the rounds before `before_round`, when given) stop working at `when`."""
        await self.conn.execute(_RETIRE_LINKS, demand_id, when, before_round)

    async def valid_links(self, demand_id: UUID, round: int, when: datetime) -> int:
        """How many of the round's links the station sent are unused and unexpired at `when`."""
        return await self.conn.fetchval(_VALID_LINKS, demand_id, round, when)

    async def get_link(self, token_sha256: str) -> RatingLink | None:
        row = await self.conn.fetchrow(_GET_LINK, token_sha256)
        return RatingLink(**row) if row else None

    async def use_link(self, token_sha256: str, when: datetime) -> None:
        await self.conn.execute(_USE_LINK, token_sha256, when)

    async def ratings(self, demand_id: UUID) -> list[Rating]:
        return [Rating(**r) for r in await self.conn.fetch(_RATINGS, demand_id)]

    async def rating(self, demand_id: UUID, round: int, *, for_update: bool = False) -> Rating | None:
        row = await self.conn.fetchrow(_RATING + (" FOR UPDATE" if for_update else ""), demand_id, round)
        return Rating(**row) if row else None

    async def void_rating(self, demand_id: UUID, rating: Rating) -> None:
        """Marks the rating void as `rating` says (who, when, why); the row is kept."""
        done = await self.conn.execute(
            _VOID_RATING, demand_id, rating.round, rating.voided_at, rating.voided_by, rating.void_reason
        )
        if done != "UPDATE 1":
            raise RuntimeError(f"rating {demand_id} round {rating.round} was not voided ({done})")

    async def kpi_figures(self, scope: str, period: Period) -> list[kpis.StationFigures]:
        """The rating figures of each station in `scope` with a valid rating, for `period`; see _KPIS."""
        figures = []
        for r in await self.conn.fetch(_KPIS, scope, period.start, period.end):
            counts = list(r.values())[len(TREE_LABELS) :]
            figures.append(
                kpis.StationFigures(
                    dict(zip(Overall, counts[:_LEVELS], strict=True)),
                    *counts[_LEVELS:],
                    station_id=r["station_id"],
                    district=r["district"],
                    city=r["city"],
                )
            )
        return figures
