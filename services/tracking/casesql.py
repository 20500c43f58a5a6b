"""SQL about cases that every part of the tracking store shares (the core store and each capability's mixin)."""

import asyncpg

from shared.contracts import FINAL_ROUND, Overall

from .domain import CASE_FIELDS, Case


def case_columns(alias: str = "c") -> str:
    """The case's columns, qualified by `alias`, in Case's field order."""
    return ", ".join(f"{alias}.{f}" for f in CASE_FIELDS)


def still_handled(alias: str = "c") -> str:
    """Still being handled (Case.is_open: submitted, returned, assigned or referred): not resolved, rated, ended
    or archived."""
    return " AND ".join(f"{alias}.{c} IS NULL" for c in ("resolved_at", "rated_at", "closed_as", "archive_no"))


def awaiting_verification(alias: str = "c") -> str:
    """待核实 (Case.awaiting_verification): rated 不满意 in a round before the final one, not verified yet, the rating
    not voided, the demand neither ended nor archived."""
    return " AND ".join(
        f"{alias}.{c}"
        for c in (
            f"overall = '{Overall.dissatisfied.value}'",
            "rated_at IS NOT NULL",
            f"round < {FINAL_ROUND}",
            "verified_at IS NULL",
            "rating_voided_at IS NULL",
            "closed_as IS NULL",
            "archive_no IS NULL",
        )
    )


def case_of(row: asyncpg.Record) -> Case:
    """A Case from a row that holds the case's columns (and maybe others)."""
    return Case(**{f: row[f] for f in CASE_FIELDS})
