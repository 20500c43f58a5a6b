"""The clock's part of the tracking store, in memory (services/tracking/clock/store.py's shape), for unit tests.

A fake tracking store inherits it next to its `cases` dict, so `with_clock` and the clock's use cases run
without PostgreSQL.
"""

from dataclasses import replace
from datetime import date, datetime
from uuid import UUID

from services.tracking.clock.domain import CLOCK_FIELDS, ClockSettings, Extension, Pause
from shared.auth import in_scope


class FakeClockStore:
    cases: dict

    def _clock(self) -> dict:
        if not hasattr(self, "_clock_rows"):
            self._clock_rows = {"pauses": {}, "extensions": {}, "settings": {}, "calendar": {}, "owner": {}}
        return self._clock_rows

    # --- calendar ---

    async def calendar_overrides(self) -> dict[date, bool]:
        return {d: v for d, (v, *_) in self._clock()["calendar"].items() if v is not None}

    async def record_calendar_correction(self, day, is_workday, note, event_id, occurred_at) -> bool:
        kept = self._clock()["calendar"].get(day)
        if kept is not None and (kept[2], str(kept[1])) >= (occurred_at, str(event_id)):
            return False
        self._clock()["calendar"][day] = (is_workday, event_id, occurred_at)
        return True

    # --- settings ---

    async def clock_settings(self, station_id: str, defaults: ClockSettings) -> ClockSettings:
        return defaults.over(self._clock()["settings"].get(station_id))

    async def clock_facts(self, station_id: str, demand_id: UUID | None, defaults: ClockSettings) -> tuple:
        """The four reads the real store makes in one statement."""
        return (
            await self.clock_settings(station_id, defaults),
            await self.calendar_overrides(),
            await self.pauses(demand_id) if demand_id is not None else [],
            await self.extensions(demand_id) if demand_id is not None else [],
        )

    async def clock_settings_row(self, station_id: str) -> dict | None:
        return self._clock()["settings"].get(station_id)

    async def put_clock_settings(self, station_id, values, by, by_id, at) -> None:
        row = {c: values.get(c) for c in CLOCK_FIELDS} | {"updated_by": by, "updated_at": at}
        self._clock()["settings"][station_id] = row

    async def station_known(self, station_id: str) -> bool:
        return True

    async def station_clocks(self, station_ids, defaults: ClockSettings) -> dict:
        rows = self._clock()["settings"]
        return {s: defaults.over(rows[s]) for s in station_ids if s in rows}

    # --- cases, as casesql.still_handled and the clock's queries see them ---

    @staticmethod
    def _still_handled(c) -> bool:
        return c.resolved_at is None and c.rated_at is None and c.closed_as is None and c.archive_no is None

    async def open_cases(self, station_id: str | None = None) -> list:
        """Still handled, or a 不满意 rating awaiting verification (its deadline moves with the clock too)."""
        return [
            c
            for c in sorted(self.cases.values(), key=lambda c: c.demand_id)
            if (self._still_handled(c) or c.awaiting_verification)
            and (station_id is None or c.station_id == station_id)
        ]

    async def cases_without_clock(self, after, limit: int) -> list:
        locked = getattr(self, "locked", set())  # demand ids "another transaction" holds: skipped
        return [
            c
            for c in sorted(self.cases.values(), key=lambda c: c.demand_id)
            if (after is None or c.demand_id > after)
            and c.demand_id not in locked
            and (
                (
                    self._still_handled(c)
                    and (
                        (c.response_due_on is None and c.submitted_at is not None)
                        or (c.handling_due_on is None and c.due_on is not None and c.assignment_no > 0)
                    )
                )
                or (c.awaiting_verification and c.verify_due_on is None)
            )
        ][:limit]

    async def save_clocks(self, cases: list) -> None:
        self.clock_saves = getattr(self, "clock_saves", 0) + len(cases)
        for c in cases:
            kept = self.cases[c.demand_id]
            self.cases[c.demand_id] = replace(
                kept,
                response_due_on=c.response_due_on,
                handling_due_on=c.handling_due_on,
                paused_since=c.paused_since,
                verify_due_on=c.verify_due_on,
            )

    # --- pauses ---

    async def resolved_without_days(self, after, limit: int) -> list:
        locked = getattr(self, "locked", set())
        return [
            c
            for c in sorted(self.cases.values(), key=lambda c: c.demand_id)
            if c.resolved_at is not None
            and c.submitted_at is not None
            and c.resolution_working_days is None
            and (after is None or c.demand_id > after)
            and c.demand_id not in locked
        ][:limit]

    async def save_resolution_days(self, measured) -> None:
        for demand_id, days in measured:
            kept = self.cases[demand_id]
            if kept.resolution_working_days is None:
                self.cases[demand_id] = replace(kept, resolution_working_days=days)

    async def pauses(self, demand_id: UUID) -> list[Pause]:
        rows = [p for p in self._clock()["pauses"].values() if self._clock()["owner"][p.pause_id] == demand_id]
        return sorted(rows, key=lambda p: (p.paused_at, str(p.pause_id)))

    async def pauses_of(self, demand_ids) -> dict:
        return {d: rows for d in demand_ids if (rows := await self.pauses(d))}

    async def add_pause(self, case, pause: Pause, paused_by_id: str, event_id: UUID) -> None:
        open_ = [p for p in await self.pauses(case.demand_id) if p.is_open and p.assignment_no == pause.assignment_no]
        assert not open_, "one open pause per assignment (the unique index)"
        self._clock()["pauses"][pause.pause_id] = replace(pause, event_id=event_id)
        self._clock()["owner"][pause.pause_id] = case.demand_id

    async def end_pause(self, pause_id, by, by_id, at: datetime, note, event_id) -> bool:
        p = self._clock()["pauses"][pause_id]
        if not p.is_open:
            return False
        self._clock()["pauses"][pause_id] = replace(p, resumed_by=by, resumed_at=at, note=note)
        return True

    # --- extensions ---

    async def extensions(self, demand_id: UUID) -> list[Extension]:
        rows = [e for e in self._clock()["extensions"].values() if self._clock()["owner"][e.extension_id] == demand_id]
        return sorted(rows, key=lambda e: (e.requested_at, str(e.extension_id)))

    async def extensions_of(self, demand_ids) -> dict:
        return {d: rows for d in demand_ids if (rows := await self.extensions(d))}

    async def extension(self, demand_id: UUID, extension_id: UUID) -> Extension | None:
        e = self._clock()["extensions"].get(extension_id)
        return e if e is not None and self._clock()["owner"][extension_id] == demand_id else None

    async def add_extension(self, case, extension: Extension, requested_by_id: str, event_id: UUID) -> None:
        self._clock()["extensions"][extension.extension_id] = replace(extension, event_id=event_id)
        self._clock()["owner"][extension.extension_id] = case.demand_id

    async def decide_extension(self, demand_id, extension_id, approved, by, by_id, at, comment, event_id) -> bool:
        e = self._clock()["extensions"][extension_id]
        if e.approved is not None:
            return False
        self._clock()["extensions"][extension_id] = replace(
            e, approved=approved, decided_by=by, decided_at=at, comment=comment
        )
        return True

    async def extension_list(self, scope, status, limit, offset) -> list:
        out = []
        for e in self._clock()["extensions"].values():
            case = self.cases[self._clock()["owner"][e.extension_id]]
            if in_scope(case.station_id, scope) and (status is None or e.status == status):
                out.append((e, case))
        return out[offset : offset + limit]
