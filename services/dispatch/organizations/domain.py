"""Service-organization rules (001 §7.2.2, domain.md §6): admission, status, who may be assigned, ranking. Pure."""

from dataclasses import dataclass, replace
from datetime import date, timedelta
from enum import StrEnum

from shared.errors import DomainError, Invalid

# The catalogue's categories (domain.md §3). Intake owns the catalogue, but its categories are fixed by its
# migration (no endpoint adds one), so the registry checks codes against them and a typo cannot admit an
# organization that never matches a demand.
CATEGORY_LABELS = {
    "training": "教育培训",
    "diagnosis": "体检诊断与技术攻关",
    "quality_mgmt": "质量管理",
    "standardization": "标准化",
    "metrology": "计量",
    "testing": "检验检测",
    "special_equipment": "特种设备",
    "certification": "认证认可",
    "ip": "知识产权",
    "market_access": "市场准入",
    "brand": "品牌培育",
    "equipment_sharing": "设备共享",
    "innovation": "质量创新",
    "other": "其他/政策咨询",
}

# The catalogue's "normally handled by" (intake catalogue_items.handled_by), as the head reads it.
ROUTE_LABELS = {"organization": "服务机构办理", "station": "本站办理", "department": "转办其他部门"}

ASSIGNEE_FIELD = "assignee_id"  # where the assignment request names the organization


class Status(StrEnum):
    admitted = "admitted"  # 准入
    suspended = "suspended"  # 暂停
    exited = "exited"  # 退出（淘汰退出，终态）


STATUS_LABELS = {Status.admitted: "准入", Status.suspended: "暂停", Status.exited: "退出"}


@dataclass(frozen=True)
class Contact:
    name: str
    phone: str
    role: str | None = None


@dataclass(frozen=True)
class Qualification:
    """资质: a certificate with its validity; `categories` empty = it backs all the organization's categories."""

    kind: str
    certificate_no: str
    issuer: str
    scope: str
    valid_from: date
    valid_until: date
    file_ref: str | None = None
    categories: tuple[str, ...] = ()

    def backs(self, category: str) -> bool:
        return not self.categories or category in self.categories

    def valid_on(self, day: date) -> bool:
        return self.valid_from <= day <= self.valid_until


@dataclass(frozen=True)
class Agreement:
    """协议: the admission agreement with the city bureau or a station."""

    party: str
    number: str
    valid_until: date


@dataclass(frozen=True)
class Organization:
    org_id: str
    name: str
    credit_code: str
    contacts: tuple[Contact, ...]
    categories: tuple[str, ...]
    items: tuple[str, ...]  # item codes; a category with none listed is served whole
    qualifications: tuple[Qualification, ...]
    agreement: Agreement
    areas: tuple[str, ...]  # scope ids: a city/district prefix ("210100") or a station id
    status: Status = Status.admitted
    status_reason: str | None = None
    suspended_until: date | None = None  # the last day of a suspension; none = until reinstated

    def admitted(self) -> "Organization":
        """The organization as just admitted: no suspension or exit on record."""
        return replace(self, status=Status.admitted, status_reason=None, suspended_until=None)

    def status_on(self, today: date) -> Status:
        """A suspension ends by itself after its last day; nobody has to remember to reinstate."""
        if self.status is Status.suspended and self.suspended_until is not None and today > self.suspended_until:
            return Status.admitted
        return self.status

    def covers_item(self, code: str) -> bool:
        category = item_category(code)
        if category not in self.categories:
            return False
        listed = [i for i in self.items if item_category(i) == category]
        return not listed or code in listed


def item_category(code: str) -> str:
    """Catalogue item codes are `<category>.<item>` (e.g. metrology.calibration)."""
    return code.split(".", 1)[0]


def label(category: str) -> str:
    return CATEGORY_LABELS.get(category, category)


# --- admission and edits ---------------------------------------------------------------------------------


def check_profile(org: Organization) -> None:
    """What makes a profile coherent; the request model has already checked each field's form."""
    for i, category in enumerate(org.categories):
        if category not in CATEGORY_LABELS:
            raise Invalid(
                f"未知的服务类别 {category}，可选：{'、'.join(CATEGORY_LABELS)}",
                f"unknown category {category}; one of {', '.join(CATEGORY_LABELS)}",
                field=f"categories.{i}",
            )
    for i, code in enumerate(org.items):
        if item_category(code) not in org.categories:
            raise Invalid(
                f"服务项目 {code} 不属于该机构承接的服务类别",
                f"item {code} is not in one of the organization's categories",
                field=f"items.{i}",
            )
    for i, q in enumerate(org.qualifications):
        if q.valid_until < q.valid_from:
            raise Invalid(
                "资质有效期截止日不能早于起始日",
                "valid_until cannot be before valid_from",
                field=f"qualifications.{i}.valid_until",
            )
        for category in q.categories:
            if category not in org.categories:
                raise Invalid(
                    f"资质所支撑的类别“{label(category)}”不在该机构承接的服务类别中",
                    f"qualification backs {category}, which is not one of the organization's categories",
                    field=f"qualifications.{i}.categories",
                )


def admit_or_edit(current: Organization | None, proposed: Organization) -> Organization:
    """准入 (a new organization is admitted) or an edit of the profile, which keeps the status as it is."""
    check_profile(proposed)
    if current is None:
        return proposed.admitted()
    if current.status is Status.exited:
        raise DomainError(
            "该服务机构已退出，档案不能再修改", "the organization has exited; its profile can no longer change"
        )
    return replace(
        proposed,
        status=current.status,
        status_reason=current.status_reason,
        suspended_until=current.suspended_until,
    )


def change_status(
    org: Organization, status: Status, *, reason: str | None, until: date | None, today: date
) -> Organization:
    """暂停 (with a reason, optionally until a day), 恢复, 退出 (with a reason; final)."""
    if org.status is Status.exited:
        raise DomainError("该服务机构已退出，状态不能再变更", "the organization has exited; its status is final")
    if status is not Status.admitted and not reason:
        raise Invalid("暂停或退出须说明原因", "a reason is required to suspend or exit", field="reason")
    if until is not None and status is not Status.suspended:
        raise Invalid("只有暂停可以设置截止日期", "only a suspension has an end date", field="until")
    if until is not None and until < today:
        raise Invalid("暂停截止日期不能早于今天", "the suspension cannot end before today", field="until")
    if status is Status.admitted:
        # 恢复: the reason, if any, is the audit row's; the profile keeps no stale suspension.
        return replace(org, status=status, status_reason=None, suspended_until=None)
    return replace(org, status=status, status_reason=reason, suspended_until=until)


# --- who may be assigned --------------------------------------------------------------------------------


def _refuse(zh: str, en: str) -> DomainError:
    return DomainError(zh, en, code="organization_not_assignable")


def check_assignable(
    org: Organization,
    *,
    serves_station: bool,
    categories: list[str],
    item_codes: list[str],
    due_on: date,
    today: date,
) -> None:
    """May this organization take a demand of these categories and items, due on `due_on`, at this station?

    Refused (409, bilingual, naming the reason) when it is not admitted today, does not serve the station,
    does not cover a category or item, or when its qualification for a category or its agreement is not
    valid through the due date (a certificate valid until the due date itself is good enough).
    """
    n = org.name
    status = org.status_on(today)
    if status is Status.suspended:
        until_zh = f"（至 {org.suspended_until}）" if org.suspended_until else ""
        until_en = f" until {org.suspended_until}" if org.suspended_until else ""
        raise _refuse(
            f"服务机构“{n}”已暂停服务{until_zh}，原因：{org.status_reason}，不能派单",
            f"organization {org.org_id} is suspended{until_en} ({org.status_reason}); it cannot be assigned",
        )
    if status is Status.exited:
        raise _refuse(
            f"服务机构“{n}”已退出服务机构库（{org.status_reason}），不能派单",
            f"organization {org.org_id} has exited the registry ({org.status_reason}); it cannot be assigned",
        )
    if not serves_station:
        raise _refuse(
            f"服务机构“{n}”的服务区域不含该服务站，不能派单",
            f"organization {org.org_id} does not serve this station",
        )
    wanted: list[str] = []
    for code in item_codes:
        category = item_category(code)
        if category in org.categories and not org.covers_item(code):
            raise _refuse(
                f"服务机构“{n}”不承接服务项目 {code}", f"organization {org.org_id} does not cover item {code}"
            )
        wanted.append(category)
    wanted += categories
    for category in dict.fromkeys(wanted):
        if category not in org.categories:
            raise _refuse(
                f"服务机构“{n}”不承接“{label(category)}”类服务",
                f"organization {org.org_id} does not serve category {category}",
            )
    for category in dict.fromkeys(wanted):
        valid = [q for q in org.qualifications if q.backs(category) and q.valid_on(today)]
        if not valid:
            raise _refuse(
                f"服务机构“{n}”没有“{label(category)}”类的有效资质",
                f"organization {org.org_id} holds no valid qualification for {category}",
            )
        best = max(valid, key=lambda q: q.valid_until)
        if best.valid_until < due_on:
            raise _refuse(
                f"服务机构“{n}”的“{label(category)}”类资质（{best.kind}，证书编号 {best.certificate_no}）"
                f"有效期至 {best.valid_until}，早于办结期限 {due_on}",
                f"organization {org.org_id}'s qualification for {category} ({best.certificate_no}) expires on "
                f"{best.valid_until}, before the due date {due_on}",
            )
    if org.agreement.valid_until < due_on:
        raise _refuse(
            f"服务机构“{n}”的服务协议（编号 {org.agreement.number}）有效期至 {org.agreement.valid_until}，"
            f"早于办结期限 {due_on}",
            f"organization {org.org_id}'s agreement {org.agreement.number} expires on {org.agreement.valid_until}, "
            f"before the due date {due_on}",
        )


# --- the running record (动态评价, 001 §7.2.2.2) --------------------------------------------------------

# Smoothing: each rate starts from PRIOR_RATE worth PRIOR_WEIGHT observations, so one early delay does not
# sink a new organization below every established one, nor does one early success lift it above them.
PRIOR_RATE = 0.8
PRIOR_WEIGHT = 3
LOAD_HALF = 5  # open assignments at which the load term is halved


@dataclass(frozen=True)
class Record:
    """An organization's running record, counted from events (never a score someone edits).

    completed  resolutions of assignments made to it (办结, met or not met)
    on_time    of those, resolved on or before that assignment's due date (China date)
    rated      ratings of those resolutions (overall, item 10)
    satisfied  of those, 满意 as evaluation's satisfied levels had it when each was recorded
               (Rated.counts_as_satisfied; 非常满意 or 满意 for a rating from before that flag)
    open_load  assignments currently its own and not resolved
    complaints           complaints about it received (投诉, from intake's ComplaintUpdated)
    complaints_founded   of those, resolved as founded (投诉属实)

    The complaints are figures of the record, not terms of the score: a complaint is judged by the station's
    head, and whether a founded one weighs on ranking (or flags the organization for review) is the
    scorecards' decision (issue 10), not this ranking's.
    """

    completed: int = 0
    on_time: int = 0
    rated: int = 0
    satisfied: int = 0
    open_load: int = 0
    complaints: int = 0
    complaints_founded: int = 0

    @property
    def on_time_rate(self) -> float | None:
        return self.on_time / self.completed if self.completed else None

    @property
    def satisfaction_rate(self) -> float | None:
        return self.satisfied / self.rated if self.rated else None

    @property
    def score(self) -> float:
        """0–100: 45% smoothed on-time rate, 45% smoothed satisfaction rate, 10% spare capacity.

        smoothed rate = (hits + PRIOR_RATE × PRIOR_WEIGHT) / (count + PRIOR_WEIGHT), so a new organization
        starts at 0.8 and evidence moves it; capacity = 1 / (1 + open_load / LOAD_HALF), so a busy
        organization yields to an equally good idle one without being ruled out.
        """
        prior = PRIOR_RATE * PRIOR_WEIGHT
        on_time = (self.on_time + prior) / (self.completed + PRIOR_WEIGHT)
        satisfied = (self.satisfied + prior) / (self.rated + PRIOR_WEIGHT)
        capacity = 1 / (1 + self.open_load / LOAD_HALF)
        return round(100 * (0.45 * on_time + 0.45 * satisfied + 0.10 * capacity), 1)


def rank(candidates: list[tuple[Organization, Record]]) -> list[tuple[Organization, Record]]:
    """Best score first; more completed work breaks a tie, then the name, so the order is stable."""
    return sorted(candidates, key=lambda c: (-c[1].score, -c[1].completed, c[0].name, c[0].org_id))


def suggested_route(handled_by: list[str]) -> str | None:
    """From the items' "normally handled by": an organization when any item needs one (the station cannot
    serve it itself), else the station when any item is its own, else a referral; None with no items."""
    for route in ("organization", "station", "department"):
        if route in handled_by:
            return route
    return None


# --- the review flag (issue 10: organization scorecards feed the registry's suspension decisions) ------------------


@dataclass(frozen=True)
class ReviewThresholds:
    """When an organization is flagged for review (复核), from dispatch's settings (README, "Scorecards"): over
    the last `window_months`, a 满意率 below `min_satisfaction_rate` over at least `min_ratings` valid ratings,
    an 按时办结率 below `min_on_time_rate` over at least `min_completed` resolutions, or at least
    `founded_complaints` complaints found founded (0: no complaint rule)."""

    window_months: int = 12
    min_ratings: int = 5
    min_satisfaction_rate: float = 0.8
    min_completed: int = 5
    min_on_time_rate: float = 0.8
    founded_complaints: int = 2

    @classmethod
    def of(cls, settings) -> "ReviewThresholds":
        return cls(
            window_months=settings.review_window_months,
            min_ratings=settings.review_min_ratings,
            min_satisfaction_rate=settings.review_min_satisfaction_rate,
            min_completed=settings.review_min_completed,
            min_on_time_rate=settings.review_min_on_time_rate,
            founded_complaints=settings.review_founded_complaints,
        )


def window_start(today: date, months: int) -> date:
    """The first day of the review window: the day after the same day `months` months before `today` (that month's
    last day when it is shorter), so the window, both ends included, is the last `months` months up to today."""
    month = today.year * 12 + today.month - 1 - months
    year, month = divmod(month, 12)
    first_of_next = date(year + (month + 1) // 12, (month + 1) % 12 + 1, 1)
    last_day = (first_of_next - date(year, month + 1, 1)).days
    return date(year, month + 1, min(today.day, last_day)) + timedelta(days=1)


@dataclass(frozen=True)
class Review:
    """Whether the registry flags the organization for review, and why (in Chinese, for the head); `since`: the
    first day of the window the figures were counted over."""

    flagged: bool
    reasons: tuple[str, ...]
    since: date


def _percent(value: float) -> str:
    return f"{value * 100:.1f}%".replace(".0%", "%")


def review(windowed: Record, thresholds: ReviewThresholds, since: date) -> Review:
    """The review flag of an organization from its record over the window (`windowed`: resolutions, ratings and
    complaints of the window only). Never a decision: the head still suspends or not."""
    months = thresholds.window_months
    reasons = []
    satisfaction = windowed.satisfaction_rate
    if (
        satisfaction is not None
        and windowed.rated >= thresholds.min_ratings
        and satisfaction < thresholds.min_satisfaction_rate
    ):
        reasons.append(
            f"近{months}个月满意率 {_percent(satisfaction)}（{windowed.satisfied}/{windowed.rated}），"
            f"低于 {_percent(thresholds.min_satisfaction_rate)}"
        )
    on_time = windowed.on_time_rate
    if on_time is not None and windowed.completed >= thresholds.min_completed and on_time < thresholds.min_on_time_rate:
        reasons.append(
            f"近{months}个月按时办结率 {_percent(on_time)}（{windowed.on_time}/{windowed.completed}），"
            f"低于 {_percent(thresholds.min_on_time_rate)}"
        )
    if thresholds.founded_complaints and windowed.complaints_founded >= thresholds.founded_complaints:
        reasons.append(
            f"近{months}个月属实投诉 {windowed.complaints_founded} 件，达到 {thresholds.founded_complaints} 件"
        )
    return Review(flagged=bool(reasons), reasons=tuple(reasons), since=since)
