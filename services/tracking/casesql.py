"""SQL about cases that every part of the tracking store shares (the core store and each capability's mixin)."""

import asyncpg

from .domain import CASE_FIELDS, Case


def case_columns(alias: str = "c") -> str:
    """The case's columns, qualified by `alias`, in Case's field order."""
    return ", ".join(f"{alias}.{f}" for f in CASE_FIELDS)


def still_handled(alias: str = "c") -> str:
    """Still being handled (Case.is_open: submitted, returned, assigned or referred): not resolved, rated, ended
    or archived."""
    return " AND ".join(f"{alias}.{c} IS NULL" for c in ("resolved_at", "rated_at", "closed_as", "archive_no"))


def case_of(row: asyncpg.Record) -> Case:
    """A Case from a row that holds the case's columns (and maybe others)."""
    return Case(**{f: row[f] for f in CASE_FIELDS})
