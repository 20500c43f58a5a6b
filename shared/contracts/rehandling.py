"""After a 不满意 rating: verification, re-handling, appeal (004 §6.5.2; domain.md §5.5, §8).

A 不满意 rating does not archive the demand: the first responder or the head verifies it (核实). Founded, the demand
re-enters handling as a new round (重办) with its own time limit, is assigned, resolved and rated again; that second
rating is final. Unfounded, or the enterprise cannot be reached, the verification is recorded and the demand archived.
Separately, a supervisor may void a rating judged malicious or mistaken (申诉复核): kept, marked void, excluded from
satisfaction figures.

Tracking publishes RatingVerified and, in the same transaction for a founded one, DemandReopened (it owns the case and
its clock, so the re-handling deadline is computed there). Evaluation publishes RatingVoided. Dispatch, tracking,
evaluation, intake and the archive follow rounds by these events.
"""

from datetime import date, datetime
from enum import StrEnum
from uuid import UUID

from pydantic import Field

from .envelope import Event
from .events import Name, Text

FINAL_ROUND = 2  # the second rating is final (issue 10): a 不满意 in it is archived, not verified again


class Finding(StrEnum):
    """What the verification of a 不满意 rating found."""

    founded = "founded"  # 属实：重新进入需求处理流程
    unfounded = "unfounded"  # 不属实：记录理由和依据后归档
    unreachable = "unreachable"  # 无法联系企业：记录后归档

    @property
    def label(self) -> str:
        return {
            Finding.founded: "情况属实，重新办理",
            Finding.unfounded: "情况不属实",
            Finding.unreachable: "无法联系企业",
        }[self]


class RatingVerified(Event):
    """核实 (004 §6.5.2): the first responder or the head looked into a 不满意 rating of `round`."""

    routing_key = "demand.rating_verified"

    round: int = Field(ge=1)  # the round whose rating was verified
    rated_event_id: UUID  # the Rated it verifies
    finding: Finding
    reason: Text  # what the enterprise said, what was found
    evidence: Text | None = None  # what the finding rests on (call record, documents, site visit)
    verified_by: Name
    verified_at: datetime


class DemandReopened(Event):
    """重办: a founded verification sends the demand back into handling as `round` (the previous round + 1).

    `due_on` is the re-handling deadline (the station's re-handling limit in working days from the day after
    reopening, default 5); the round's assignment commits to it. `assignment_count` is how many assignments were
    made before, so the archive knows the history it seals is complete; `previous_assignee_*` lets the head send it
    back to the same assignee.
    """

    routing_key = "demand.reopened"

    round: int = Field(ge=2)
    verification_id: UUID  # the RatingVerified event that founded it
    reason: Text
    reopened_by: Name
    reopened_at: datetime
    due_on: date
    assignment_count: int = Field(ge=0)
    previous_assignee_kind: str | None = None
    previous_assignee_id: str | None = None
    previous_assignee_name: Name | None = None


class RatingVoided(Event):
    """申诉复核: a supervisor voided the rating of `round` as malicious or mistaken. Never deleted: marked void and
    excluded from satisfaction figures (domain.md §8, §9)."""

    routing_key = "demand.rating_voided"

    round: int = Field(ge=1)
    rated_event_id: UUID
    reason: Text
    voided_by: Name
    voided_at: datetime


REHANDLING: tuple[type[Event], ...] = (RatingVerified, DemandReopened, RatingVoided)
