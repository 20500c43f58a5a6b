"""Access-log rules: which lines a read writes and which instants a period of China dates covers. Pure."""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Literal

from shared.auth import Principal
from shared.calendar import CHINA
from shared.errors import Invalid

Kind = Literal["enterprise", "demand"]
# What a read was for: the route that read, as the log names it. `kind` says whose data it showed: "enterprise" lines
# name credit codes (a dossier, a search, a visit: 主动进企业走访 records the enterprise's name, code and findings),
# "demand" lines name demand ids (the demand, a list of demands, its notice and the ledger show its contact).
PURPOSES: dict[str, str] = {
    "enterprise.read": "查阅企业档案 / a dossier",
    "enterprise.list": "查找企业 / a search of dossiers",
    "visit.read": "查阅走访记录 / a visit",
    "visit.list": "走访记录列表 / the list of visits",
    "demand.read": "查阅需求（含联系人）/ a demand, with its contact",
    "demand.list": "需求列表 / the list of demands",
    "notice.read": "受理通知书（网页或 PDF）/ the acceptance notice, as a page or a PDF",
    "ledger.export": "导出需求台账（CSV 或 Excel）/ the ledger exported, every demand in it",
}


@dataclass(frozen=True)
class AccessLine:
    """One line of the log: `station_id` is the station whose data was read (a head's and a supervisor's view)."""

    accessed_at: datetime
    station_id: str
    subject: str
    subject_name: str | None
    role: str
    purpose: str
    kind: Kind
    ref: str | None
    refs: tuple[str, ...]


def lines(
    principal: Principal, at: datetime, purpose: str, kind: Kind, scope: str, shown: list[tuple[str, str]]
) -> list[AccessLine]:
    """The lines of one read that showed `shown` ((station, credit code or demand id) each): one per station shown,
    so each station's head finds who read its data, a supervisor's read across the city included; a read that showed
    nothing is one line for the scope asked (the question was asked, as the archive logs it). A ref shown twice (an
    enterprise visited twice) is named once, in the order first shown; an export is one line per station however
    many demands it holds, every one of them named (`refs`; their number is its length)."""
    if purpose not in PURPOSES:
        raise ValueError(f"undocumented access-log purpose {purpose!r}")  # a typo must not reach the log
    by_station: dict[str, dict[str, None]] = {}  # an ordered set per station
    for station, ref in shown:
        by_station.setdefault(station, {})[ref] = None
    if not by_station:
        by_station[scope] = {}

    def line(station: str, refs: list[str]) -> AccessLine:
        return AccessLine(
            accessed_at=at,
            station_id=station,
            subject=principal.subject,
            subject_name=principal.name,
            role=principal.role.value,
            purpose=purpose,
            kind=kind,
            ref=refs[0] if len(refs) == 1 else None,
            refs=tuple(refs),
        )

    return [line(station, list(refs)) for station, refs in by_station.items()]


def period(start: date | None, end: date | None) -> tuple[datetime | None, datetime | None]:
    """The instants from the start of `start` to the end of `end` (China dates, both included)."""
    if start and end and end < start:
        raise Invalid("止日期不能早于起日期", "to must not be before from", field="to")
    since = datetime.combine(start, time(), CHINA) if start else None
    until = datetime.combine(end + timedelta(days=1), time(), CHINA) if end else None
    return since, until
