"""After a 不满意 rating: verification (核实) and reopening (重办), 004 §6.5.2; domain.md §5.5, §8. Pure: no I/O.

The flow reads like the seed: a 不满意 rating is looked into by the station's head or the first responder (首问负责人)
within the station's verification limit (核实时限, the clock's `verify_due_on`), who records what was found, why,
and on what evidence. Founded (属实), the demand re-enters handling as the next round, with the station's re-handling
limit (重办时限) as its deadline; unfounded, or the enterprise cannot be reached, the verification is recorded and the
archive seals. The rating of FINAL_ROUND is final and never verified; a rating voided on appeal (申诉复核) needs no
verification.

- Who: the station's head, or the clerk who is the case's first responder (`first_responder_id`); another of the
  station's staff is refused (403), another station does not find the case (404, by scope).
- What: the current round's rating, 不满意, in a round before FINAL_ROUND, not voided, not verified yet, the demand
  neither ended nor archived; anything else is refused with the reason (409).
- Founded: RatingVerified and DemandReopened in one transaction; the reopening carries the re-handling deadline
  (clock.domain.rehandling_due_on), how many assignments were made so far and who had the last one.
"""

from datetime import date, datetime

from shared.auth import Role
from shared.contracts import FINAL_ROUND, DemandReopened, Finding, Overall, RatingVerified
from shared.errors import Forbidden, InvalidTransition

from ..domain import STATUS_LABELS, Case

NOT_A_VERIFIER = Forbidden(
    "只有站长或该需求的首问负责人可以核实评价",
    "only the station's head or the demand's first responder may verify its rating",
)


def may_verify(case: Case, role: Role, subject: str) -> bool:
    """The station's head (its scope is checked by finding the case), or the clerk who received the demand."""
    if role is Role.head:
        return True
    return role is Role.clerk and bool(case.first_responder_id) and subject == case.first_responder_id


def check_verifier(case: Case, role: Role, subject: str) -> None:
    if not may_verify(case, role, subject):
        raise NOT_A_VERIFIER


def check_verification(case: Case) -> None:
    """The case's current rating may be verified now (Case.awaiting_verification), else why not (409)."""
    if case.closed_as is not None:
        label = STATUS_LABELS[case.closed_as]
        raise InvalidTransition(
            f"需求已终止（{label}），不能核实评价", f"the demand was {case.closed_as}; nothing to verify"
        )
    if case.rated_at is None:
        raise InvalidTransition(
            f"第 {case.round} 轮尚无企业评价，无需核实",
            f"round {case.round} has no rating yet; there is nothing to verify",
        )
    if case.overall != Overall.dissatisfied:
        label = Overall(case.overall).label if case.overall else "—"
        raise InvalidTransition(
            f"只有评价为「不满意」的需求需要核实，本轮评价为「{label}」",
            f"only a 不满意 (dissatisfied) rating is verified; this round's is {case.overall}",
        )
    if case.round >= FINAL_ROUND:
        raise InvalidTransition(
            f"第 {case.round} 轮（重办后）的评价为最终评价，不再核实重办",
            f"the rating of round {case.round} is final; it is not verified again",
        )
    if case.rating_voided_at is not None:
        raise InvalidTransition(
            "该评价已经申诉复核作废，无需核实", "the rating was voided on appeal; it needs no verification"
        )
    if case.verified_at is not None:
        finding = Finding(case.finding).label if case.finding else ""
        raise InvalidTransition(
            f"该评价已核实（{finding}），不能重复核实", f"the rating was already verified ({case.finding})"
        )
    if case.archive_no is not None:
        raise InvalidTransition("需求已归档，不能再核实评价", "the demand is archived; nothing to verify")


def verified(
    case: Case, *, finding: Finding, reason: str, evidence: str | None, by: str, now: datetime
) -> RatingVerified:
    """核实 of the current round's rating; the Rated it verifies is its cause."""
    check_verification(case)
    assert case.rated_event_id is not None, "a rating recorded on the case has its event id (migration 0013)"
    return case.caused_by(case.rated_event_id).caused(
        RatingVerified,
        occurred_at=now,
        round=case.round,
        rated_event_id=case.rated_event_id,
        finding=finding,
        reason=reason,
        evidence=evidence,
        verified_by=by,
        verified_at=now,
    )


def reopened(case: Case, verification: RatingVerified, *, due_on: date, now: datetime) -> DemandReopened:
    """重办 after a founded verification: the next round, due `due_on` (the clock's re-handling deadline); the
    assignments so far and the previous assignee from the case, which the verification has not changed."""
    assert verification.finding is Finding.founded
    return verification.caused(
        DemandReopened,
        occurred_at=now,
        round=verification.round + 1,
        verification_id=verification.event_id,
        reason=verification.reason,
        reopened_by=verification.verified_by,
        reopened_at=now,
        due_on=due_on,
        assignment_count=case.assignment_no,
        previous_assignee_kind=case.assignee_kind,
        previous_assignee_id=case.assignee_id,
        previous_assignee_name=case.assignee_name,
    )
