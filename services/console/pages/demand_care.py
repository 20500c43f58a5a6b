"""The demand page's aftercare sections: its follow-ups (跟进记录, with the form to record one) and its re-visits
(回访任务 and 回访记录, with a link to record one). demands.demand_view asks for them; the templates are
_followups.html and _revisits.html.

Each section is read on its own: a service that cannot answer it costs that section (a note in its place), never
the page. Only roles the API lets read a section get it (follow-ups: the station, its supervisors, the organization
assigned; re-visits: the station and its supervisors).
"""

import asyncio
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from shared.auth import READERS, STAFF, Role
from shared.calendar import china_today

from ..client import ServiceError, Services
from ..forms import Errors
from ..web import Caller
from .care_forms import FOLLOW_UP_KINDS, follow_up_kinds


@dataclass
class Care:
    context: dict[str, Any] = field(default_factory=dict)
    shown: dict[str, bool] = field(default_factory=dict)  # the page's forms these sections show


async def _read(call) -> tuple[Any, str | None]:
    try:
        return await call, None
    except ServiceError as exc:
        if exc.status == 401:
            raise
        return None, exc.message


async def _none() -> None:
    return None


async def sections(api: Services, caller: Caller, sheet: dict, demand_id: UUID, forms: dict) -> Care:
    """The context of both sections, and which of their forms the page shows (for demands.demand_view)."""
    role = caller.role
    follow_reader = role in READERS or role is Role.org
    (follow_ups, follow_problem), (revisits, revisit_problem) = await asyncio.gather(
        _read(api.follow_ups(caller.token, demand_id)) if follow_reader else _read(_none()),
        _read(api.demand_revisits(caller.token, demand_id)) if role in READERS else _read(_none()),
    )
    kinds = follow_up_kinds(sheet.get("status", ""))
    may_follow = (role in STAFF or role is Role.org) and bool(kinds)
    state = forms.get("followup")
    if state is None:
        values = {"idempotency_key": str(uuid.uuid4()), "kind": next(iter(kinds), "")}
        state_values, state_errors = values, Errors()
    else:
        state_values, state_errors = state.values, state.errors
    return Care(
        context={
            "follow_ups": follow_ups,
            "follow_problem": follow_problem,
            "follow_reader": follow_reader,
            "may_follow": may_follow,
            "follow_kinds": {k: FOLLOW_UP_KINDS[k] for k in kinds},
            "follow_values": state_values,
            "follow_errors": state_errors,
            "follow_today": china_today(datetime.now(UTC)).isoformat(),
            "revisits": revisits,
            "revisit_problem": revisit_problem,
            "revisit_reader": role in READERS,
            "may_revisit": role in STAFF and bool(sheet.get("resolved_at") or sheet.get("round", 1) > 1),
        },
        shown={"followup": may_follow},
    )
