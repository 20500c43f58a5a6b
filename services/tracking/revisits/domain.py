"""回访 (re-visit) after a resolution: which demands get a task, when it appears and is due, what a re-visit must
say, and which tasks it completes. Pure: no I/O. Seeds: 000 §服务跟进 and 附录E (回访), 002 §8 (监督评价);
domain.md §8 (re-visit the day after resolution, 100% for dissatisfied ratings) and §9 (回访率 / 差评回访率).

Tasks. What makes one is an event tracking already has, so every replica and every re-run makes the same tasks:
- a 不满意 rating of round r (Rated, overall dissatisfied): a `dissatisfied` task (差评回访), always, in any round,
  whenever the rating arrives — also after a task of the round's resolution exists, which stays as it is (one
  reached re-visit after both completes both);
- the resolution of round r (Resolved): a `not_met` task when the need was not met (outcome not_met), always;
  otherwise a `sample` task when the demand is drawn at the station's `revisit_sample_rate` (0..1, default 0: the
  12345 practice of re-visiting a share of the satisfied cases is the station's choice). The draw is the demand's
  own fixed number in [0, 1), from a hash of its id (`sample_draw`): the same on every replica and every re-run,
  and a station that raises its rate keeps every demand it drew before.
A task appears on the working day after what made it (the resolution, or the rating), by the China date and the
tracking clock's working-day calendar (chinesecalendar with the stations' corrections), and is due
`revisit_days` working days after it (default 2: it appears on the first and is due on the second); past that
date and not done, it is overdue. The station's settings and the calendar as they were when the task was made
decide its dates, which are kept (like a closed case's deadlines). A voided rating (申诉复核) keeps its task: the
call was owed when the rating came, and the counters never go down.

Re-visits. The station's clerk or head records each one: how (phone, visit, message), when, whom, what the enterprise
said and whether its need was met. It follows the latest resolution: the current round's once resolved, during a
re-handling (重办) the round before's. One that did not reach the enterprise (`reached` false) is an attempt: kept,
published, and the task stays open. A task is done once a re-visit that reached the enterprise was made at or after
what made the task (the minute of it), in its round or a later one: a re-visit after round 2's resolution also
answers round 1's 差评回访. A demand with no task may be re-visited all the same: that one is `voluntary`, counted
apart (the task counters never include it).
"""

import hashlib
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from uuid import UUID

from shared.calendar import CHINA, add_working_days, china_today
from shared.contracts import Event, Outcome, Overall, Rated, Resolved, RevisitMethod, RevisitRecorded
from shared.errors import Invalid, InvalidTransition

from ..clock.domain import ClockSettings
from ..domain import STATUS_LABELS, Case

# A re-visit's time as the clerk types it may run a little ahead of the server's clock.
CLOCK_SKEW = timedelta(minutes=5)


class TaskKind(StrEnum):
    """Why a demand is re-visited; the `kind` label of the re-visit metrics."""

    dissatisfied = "dissatisfied"  # 差评回访: the round was rated 不满意 (100%)
    not_met = "not_met"  # the round was resolved with its need not met (100%)
    sample = "sample"  # drawn from the other resolved demands at the station's rate

    @property
    def label(self) -> str:
        return {
            TaskKind.dissatisfied: "差评回访",
            TaskKind.not_met: "未满足需求回访",
            TaskKind.sample: "抽样回访",
        }[self]


# Where a task stands on a China day: not yet appeared, to do, late, done.
STATUSES = ("upcoming", "due", "overdue", "done")
STATUS_TEXT = {"upcoming": "待生成（次一工作日出现）", "due": "待回访", "overdue": "回访超期", "done": "已回访"}
LISTED_STATUSES = ("due", "overdue", "done")  # what GET /revisits lists: the tasks that have appeared


@dataclass(frozen=True)
class Task:
    demand_id: UUID
    station_id: str
    round: int
    kind: TaskKind
    trigger_event_id: UUID  # the Resolved or Rated that made it
    triggered_at: datetime  # its resolved_at or rated_at
    appears_on: date
    due_on: date
    sample_rate: float | None = None  # a sample task: the station's rate it was drawn at
    # From the store: when the first re-visit that completes it reached the enterprise, and how many re-visits
    # (reached or not) were recorded for it so far.
    done_at: datetime | None = None
    attempts: int = 0

    def status(self, today: date) -> str:
        """The same rule as the store's lists and metrics (store._STATUS)."""
        if self.done_at is not None:
            return "done"
        if today < self.appears_on:
            return "upcoming"
        return "overdue" if today > self.due_on else "due"


@dataclass(frozen=True)
class Revisit:
    revisit_id: UUID
    demand_id: UUID
    station_id: str
    round: int
    method: RevisitMethod
    revisited_at: datetime
    reached: bool
    contact: str | None
    enterprise_said: str | None
    need_met: bool | None
    voluntary: bool
    recorded_by: str
    recorded_at: datetime
    event_id: UUID

    @classmethod
    def of(cls, event: RevisitRecorded, *, voluntary: bool) -> "Revisit":
        return cls(
            revisit_id=event.revisit_id,
            demand_id=event.demand_id,
            station_id=event.station_id,
            round=event.round,
            method=event.method,
            revisited_at=event.revisited_at,
            reached=event.reached,
            contact=event.contact,
            enterprise_said=event.enterprise_said,
            need_met=event.need_met,
            voluntary=voluntary,
            recorded_by=event.recorded_by,
            recorded_at=event.occurred_at,
            event_id=event.event_id,
        )


# --- which demands get a task, and its dates ----------------------------------------------------------------


def sample_draw(demand_id: UUID) -> float:
    """The demand's fixed draw in [0, 1): the first 8 bytes of SHA-256 over its id, as a fraction of 2**64."""
    digest = hashlib.sha256(b"qs-revisit-sample:" + demand_id.bytes).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def sampled(demand_id: UUID, rate: float) -> bool:
    """Drawn at `rate`: a rate of 0 draws nothing, 1 everything; raising the rate keeps every demand drawn before."""
    return sample_draw(demand_id) < rate


def schedule(triggered_at: datetime, revisit_days: int, overrides: dict[date, bool] | None = None) -> tuple[date, date]:
    """(appears_on, due_on): the working day after the China date of `triggered_at`, and the `revisit_days`-th."""
    day = china_today(triggered_at)
    return add_working_days(day, 1, overrides), add_working_days(day, revisit_days, overrides)


def _task(
    event: Event,
    kind: TaskKind,
    at: datetime,
    round_: int,
    settings: ClockSettings,
    overrides: dict[date, bool] | None,
    rate: float | None = None,
) -> Task:
    appears_on, due_on = schedule(at, settings.revisit_days, overrides)
    return Task(
        demand_id=event.demand_id,
        station_id=event.station_id,
        round=round_,
        kind=kind,
        trigger_event_id=event.event_id,
        triggered_at=at,
        appears_on=appears_on,
        due_on=due_on,
        sample_rate=rate,
    )


def resolution_task(event: Resolved, settings: ClockSettings, overrides: dict[date, bool] | None = None) -> Task | None:
    """The task a resolution calls for: not_met always; else a sample one if the demand is drawn; else none."""
    if event.outcome is Outcome.not_met:
        return _task(event, TaskKind.not_met, event.resolved_at, event.round, settings, overrides)
    rate = settings.revisit_sample_rate
    if rate > 0 and sampled(event.demand_id, rate):
        return _task(event, TaskKind.sample, event.resolved_at, event.round, settings, overrides, rate)
    return None


def rating_calls_for_task(event: Rated) -> bool:
    """差评回访: a 不满意 rating, of any round, always calls for one; no other rating does."""
    return event.answers.overall is Overall.dissatisfied


def rating_task(event: Rated, settings: ClockSettings, overrides: dict[date, bool] | None = None) -> Task | None:
    if not rating_calls_for_task(event):
        return None
    return _task(event, TaskKind.dissatisfied, event.rated_at, event.round, settings, overrides)


# --- a re-visit -------------------------------------------------------------------------------------------------


def check_record(
    *,
    revisited_at: datetime,
    reached: bool,
    contact: str | None,
    enterprise_said: str | None,
    need_met: bool | None,
    now: datetime,
) -> None:
    """What a re-visit must say, whatever the demand: when (not in the future), and once the enterprise was reached,
    whom the station spoke to and what it said; whether the need was met only from someone reached."""
    if revisited_at > now + CLOCK_SKEW:
        raise Invalid("回访时间不能晚于当前时间", "revisited_at must not be in the future", field="revisited_at")
    if reached and not contact:
        raise Invalid(
            "已联系上企业的回访须填写回访对象（与谁通话或面谈）",
            "a re-visit that reached the enterprise names whom the station spoke to",
            field="contact",
        )
    if reached and not enterprise_said:
        raise Invalid(
            "已联系上企业的回访须填写企业的反馈意见",
            "a re-visit that reached the enterprise says what the enterprise said",
            field="enterprise_said",
        )
    if not reached and need_met is not None:
        raise Invalid(
            "未联系上企业时不能填写需求是否满足",
            "need_met is only for a re-visit that reached the enterprise",
            field="need_met",
        )


def followed_resolution(case: Case) -> tuple[int, datetime]:
    """(round, resolved_at) of the resolution a re-visit now follows: the current round's once resolved; during a
    re-handling (重办, not resolved again yet) the round before's, kept as the first resolution (rounds stop at
    FINAL_ROUND = 2, so the round before is the first). A demand never resolved has nothing to re-visit (409)."""
    if case.resolved_at is not None:
        return case.round, case.resolved_at
    if case.round > 1 and case.first_resolved_at is not None:
        return case.round - 1, case.first_resolved_at
    if case.closed_as is not None:
        raise InvalidTransition(
            f"需求已终止（{STATUS_LABELS[case.closed_as]}），未经办结，无需回访",
            f"the demand was {case.closed_as} without being resolved; there is nothing to re-visit",
        )
    raise InvalidTransition(
        "需求尚未办结，回访在办结之后进行", "the demand has not been resolved yet; a re-visit follows a resolution"
    )


def _minute(at: datetime) -> datetime:
    return at.replace(second=0, microsecond=0)


def check_after_resolution(revisited_at: datetime, round_: int, resolved_at: datetime) -> None:
    """A re-visit follows its resolution (to the minute: the clerk types minutes)."""
    if revisited_at < _minute(resolved_at):
        shown = resolved_at.astimezone(CHINA).strftime("%Y-%m-%d %H:%M")
        raise Invalid(
            f"回访时间不能早于第 {round_} 轮办结时间（{shown}）",
            f"revisited_at must not be before round {round_}'s resolution ({resolved_at.isoformat()})",
            field="revisited_at",
        )


def is_voluntary(tasks: list[Task], round_: int) -> bool:
    """No task of this round or an earlier one: the station re-visits of its own accord."""
    return not any(t.round <= round_ for t in tasks)


def completes(task: Task, revisit: Revisit) -> bool:
    """Whether `revisit` completes `task`; the same rule as the store's (store._DONE_AT)."""
    return revisit.reached and revisit.round >= task.round and revisit.revisited_at >= _minute(task.triggered_at)


def recorded(
    case: Case,
    round_: int,
    *,
    revisit_id: UUID,
    method: RevisitMethod,
    revisited_at: datetime,
    reached: bool,
    contact: str | None,
    enterprise_said: str | None,
    need_met: bool | None,
    by: str,
    now: datetime,
) -> RevisitRecorded:
    """RevisitRecorded, prompted by a person (no event is its cause)."""
    return case.caused_by(None).caused(
        RevisitRecorded,
        occurred_at=now,
        round=round_,
        revisit_id=revisit_id,
        method=method,
        revisited_at=revisited_at,
        reached=reached,
        contact=contact,
        enterprise_said=enterprise_said,
        need_met=need_met,
        recorded_by=by,
    )


def timeline_text(event: RevisitRecorded, completed: list[Task], *, voluntary: bool, still_open: bool) -> str:
    """The tracking sheet's line for a re-visit, in Chinese."""
    when = event.revisited_at.astimezone(CHINA).strftime("%Y-%m-%d %H:%M")
    after = f"，第 {event.round} 轮办结后" if event.round > 1 else ""
    text = f"{event.recorded_by} {event.method.label}（{when}{after}）："
    if not event.reached:
        text += "未联系上企业"
        if event.contact:
            text += f"（{event.contact}）"
        if event.enterprise_said:
            text += f"，{event.enterprise_said}"
        return text + ("；回访任务待再次回访" if still_open else "")
    text += f"回访对象 {event.contact}，企业反映：{event.enterprise_said}"
    if event.need_met is not None:
        text += "；企业确认需求已满足" if event.need_met else "；企业表示需求未满足"
    if completed:
        text += "；完成" + "、".join(dict.fromkeys(t.kind.label for t in completed)) + "任务"
    elif voluntary:
        text += "（主动回访）"
    return text
