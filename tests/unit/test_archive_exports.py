"""The archive's exports without I/O: the service record's five timestamps, the dossier, books' summaries, the weekly
report's figures at the edges of a China week."""

import io
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from services.archive import domain as archive
from services.archive.exports import domain, render
from services.archive.exports.domain import BookKind, Sealed
from services.archive.reports import domain as weekly
from services.archive.reports.domain import Logged, Week
from shared.contracts import Channel, Fee, Outcome, Overall
from shared.errors import Invalid
from tests.support import export_histories as h

SHANGHAI = ZoneInfo("Asia/Shanghai")
SUNDAY_LATE = datetime(2026, 11, 22, 23, 30, tzinfo=SHANGHAI)  # 15:30 UTC, Sunday of 2026-W47
MONDAY_EARLY = datetime(2026, 11, 23, 0, 30, tzinfo=SHANGHAI)  # 16:30 UTC on Sunday, but Monday of W48 in China

ROBOT = h.firm("沈阳新松精密机械有限公司", "91210112MA0U00005", chain="机器人", chain_leader=True, town="浑南装备小镇")
GEARS = h.firm("沈阳精工齿轮有限公司", "91210112MA0U00006", chain="机器人", in_park=True, park_name="浑南高新区")


def seal(events, serial: int = 1, sealed_at: datetime | None = None) -> Sealed:
    logged = [archive.LoggedEvent(e.event_id, e.routing_key, e.occurred_at, e.model_dump(mode="json")) for e in events]
    assert not archive.missing(logged), archive.missing(logged)
    sealed_at = sealed_at or max(e.occurred_at for e in events) + timedelta(minutes=1)
    d = archive.seal(logged, serial=serial, sealed_at=sealed_at)
    return Sealed(
        d.demand_id, d.station_id, d.tracking_no, d.archive_no, d.sealed_at, d.retain_until, d.content,
        d.content_sha256, d.outcome,
    )  # fmt: skip


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def test_the_service_record_shows_the_five_timestamps_in_china_time():
    d = seal(h.rated_history(ROBOT, SUNDAY_LATE, Overall.satisfied, fee=Fee(free_service=False, amount_yuan=360)))
    view = domain.record_view(d, "浑南区一站式质量服务站", datetime(2026, 11, 25, 2, 0, tzinfo=SHANGHAI))
    assert view["timestamps"] == [
        ("受理时间", "2026-11-22 23:30"),
        ("派单时间", "2026-11-23 00:30"),
        ("办结时间", "2026-11-23 23:30"),
        ("评价时间", "2026-11-24 00:30"),
        ("归档时间", "2026-11-24 00:31"),
    ]
    assert [c["label"] for c in view["categories"] if c["ticked"]] == ["计量服务"]
    assert view["overall_label"] == "满意" and view["fee"].startswith("360.00 元")
    assert view["technicians"] == "李工、赵工"
    text = pdf_text(render.record_pdf(view))
    for expected in ("服务记录表", "沈阳新松精密机械有限公司", "受理时间", "2026-11-22 23:30", "归档时间",
                     "2026-11-24 00:31", "■计量服务", "□标准化服务", "满意", "校准证书"):  # fmt: skip
        assert expected in text, expected


def test_a_rehandled_demand_prints_its_final_round_and_the_dossier_holds_both():
    d = seal(h.rehandled_history(GEARS, SUNDAY_LATE, Overall.very_satisfied))
    t = domain.timestamps(d)
    assert (domain.china_time(t.ended), domain.china_time(t.rated)) == ("2026-11-25 23:30", "2026-11-26 00:30")
    view = domain.record_view(d, None, SUNDAY_LATE)
    assert view["rating_round"] == 2 and view["overall_label"] == "非常满意"
    dossier = domain.dossier_view(d, [], "浑南站", SUNDAY_LATE)
    titles = [s["title"] for s in dossier["sections"]]
    for title in ("派单、改派与转办", "办结与服务小结", "满意度评价", "不满意评价核实", "重办"):
        assert title in titles, title
    text = pdf_text(render.dossier_pdf(dossier))
    for expected in (
        "服务档案",
        d.archive_no,
        "报告出具太慢",
        "重新出具证书并当面说明",
        "情况属实，重新办理",
        "浑南高新区",
    ):
        assert expected in text, expected


def test_a_refused_demand_has_no_rating_and_says_how_it_ended():
    s = h.submitted(ROBOT, SUNDAY_LATE)
    d = seal([s, h.refused(s, SUNDAY_LATE + timedelta(hours=2))])
    view = domain.record_view(d, None, SUNDAY_LATE)
    assert view["timestamps"][2] == ("否定备案时间", "2026-11-23 01:30")
    assert view["timestamps"][3] == ("评价时间", "—") and not view["rated"]


def test_a_books_summary_counts_demands_categories_outcomes_and_satisfaction():
    dossiers = [
        seal(h.rated_history(ROBOT, SUNDAY_LATE, Overall.very_satisfied, categories=(h.METROLOGY, h.TESTING))),
        seal(h.rated_history(ROBOT, MONDAY_EARLY, Overall.average, outcome=Outcome.not_met)),
        seal(h.rehandled_history(GEARS, MONDAY_EARLY, Overall.satisfied)),
    ]
    s = domain.summarize(dossiers)
    assert (s.demands, s.enterprises, s.rated, s.satisfied, s.rehandled) == (3, 2, 3, 2, 1)
    assert dict(s.by_category) == {"计量": 3, "检验检测": 1}
    assert dict(s.by_outcome) == {"办结（需求已满足）": 2, "办结（需求未能满足）": 1}
    assert dict(s.by_overall) == {"非常满意": 1, "满意": 1, "一般": 1, "不满意": 0}
    assert s.rate_text() == "66.7%"
    assert [e["name"] for e in s.by_enterprise] == ["沈阳新松精密机械有限公司", "沈阳精工齿轮有限公司"]  # 链主 first
    query = domain.book_query(BookKind.chain, " 机器人 ", date(2026, 11, 1), date(2026, 11, 30))
    view = domain.book_view(query, dossiers, {}, "浑南站", SUNDAY_LATE)
    sheets = load_workbook(io.BytesIO(render.book_xlsx(view)))
    assert sheets.sheetnames == ["汇总", "档案目录", "档案内容"]
    rows = list(sheets["档案目录"].iter_rows(values_only=True))
    assert len(rows) == 4 and rows[1][13] == "2026-11-22 23:30"  # 受理时间 in China time


def _rated_as(history: list, counts_as_satisfied: bool) -> list:
    """The history with its last event, the Rated, saying whether evaluation counted it as 满意."""
    return [*history[:-1], history[-1].model_copy(update={"counts_as_satisfied": counts_as_satisfied})]


def test_a_books_satisfied_count_is_what_each_sealed_rated_said():
    """满意 is evaluation's setting (EVALUATION_SATISFIED_LEVELS): a book counts a rating as satisfied as its sealed
    Rated says, e.g. 满意 not counted in a city counting only 非常满意; a Rated sealed before that flag counts by the
    default definition, 非常满意 + 满意."""
    dossiers = [
        seal(_rated_as(h.rated_history(ROBOT, SUNDAY_LATE, Overall.very_satisfied), True)),
        seal(_rated_as(h.rated_history(ROBOT, MONDAY_EARLY, Overall.satisfied), False)),
        seal(_rated_as(h.rehandled_history(ROBOT, MONDAY_EARLY, Overall.satisfied), False)),  # the final round's
        seal(h.rated_history(ROBOT, SUNDAY_LATE, Overall.satisfied)),  # from before the flag: 满意 counts
        seal(h.rated_history(ROBOT, SUNDAY_LATE, Overall.average)),  # and 一般 does not
    ]
    s = domain.summarize(dossiers)
    assert dict(s.by_overall) == {"非常满意": 1, "满意": 3, "一般": 1, "不满意": 0}  # by the levels alone: 4 satisfied
    assert (s.rated, s.satisfied, s.rate_text()) == (5, 2, "40.0%")
    assert s.as_dict()["satisfied"] == 2 and s.as_dict()["satisfaction_rate"] == 0.4
    query = domain.book_query(BookKind.enterprise, ROBOT.credit_code, None, None)
    view = domain.book_view(query, dossiers, {}, "浑南站", SUNDAY_LATE)
    summary = {row[0]: row[1] for row in load_workbook(io.BytesIO(render.book_xlsx(view)))["汇总"].iter_rows(
        values_only=True) if row and row[0]}  # fmt: skip
    assert summary["满意数（按评价服务的满意等级设置）"] == 2 and summary["满意率"] == "40.0%"


def test_a_book_query_names_the_field_it_refuses():
    with pytest.raises(Invalid) as blank:
        domain.book_query(BookKind.town, "  ", None, None)
    assert blank.value.field == "key"
    with pytest.raises(Invalid) as backwards:
        domain.book_query(BookKind.enterprise, "x", date(2026, 2, 1), date(2026, 1, 1))
    assert backwards.value.field == "to"


def _logged(events) -> list[Logged]:
    return [Logged(e.demand_id, e.station_id, e.routing_key, e.occurred_at, e.model_dump(mode="json")) for e in events]


def test_a_china_week_runs_from_monday_0000_to_sunday_2400_shanghai_time():
    assert Week.parse("2026-W47").start == date(2026, 11, 16) and Week.parse("2026-W47").end == date(2026, 11, 22)
    assert Week.of(SUNDAY_LATE.date()) == Week(2026, 47) and Week.of(MONDAY_EARLY.date()) == Week(2026, 48)
    # Monday 00:30 in China is still Sunday in UTC: the scheduler there already reports the week just ended.
    assert weekly.last_complete_week(MONDAY_EARLY) == Week(2026, 47)
    assert weekly.last_complete_week(SUNDAY_LATE) == Week(2026, 46)
    for bad in ("2026-47", "2026-W54", "2021-W53", "W47"):
        with pytest.raises(Invalid):
            Week.parse(bad)
    assert Week.parse("2026-W53") == Week(2026, 53)  # 2026 has 53 ISO weeks


def test_the_weeks_figures_fall_on_each_side_of_the_edge_by_china_time():
    # Submitted Saturday 22:30, assigned 23:30, resolved Sunday 22:30, rated Sunday 23:30: all in W47.
    late = h.rated_history(ROBOT, SUNDAY_LATE - timedelta(days=1, hours=1), channel=Channel.visit)
    edge = h.rated_history(GEARS, SUNDAY_LATE, Overall.dissatisfied)  # submitted W47, the rest in W48
    early = h.submitted(ROBOT, MONDAY_EARLY, categories=(h.TESTING, h.STANDARDS), channel=Channel.phone, serial=3)
    chase = h.chased(early, date(2026, 11, 22), SUNDAY_LATE)
    events = _logged([*late, *edge, early, chase])
    w47 = weekly.figures(Week(2026, 47), events, [])
    counted = {k: v["total"] for k, v in w47["counted"].items()}
    assert counted == {"received": 2, "dispatched": 1, "resolved": 1, "overdue": 1, "rated": 1}
    assert {c["label"]: c["count"] for c in w47["counted"]["received"]["by_channel"]} == {"主动进企业": 1, "窗口": 1}
    assert w47["visits_collected"] == 1 and w47["ratings"]["satisfaction_rate"] == 1.0
    w48 = weekly.figures(Week(2026, 48), events, [])
    counted = {k: v["total"] for k, v in w48["counted"].items()}
    assert counted == {"received": 1, "dispatched": 1, "resolved": 1, "overdue": 0, "rated": 1}
    assert {c["label"]: c["count"] for c in w48["counted"]["received"]["by_category"]} == {"检验检测": 1, "标准化": 1}
    assert w48["ratings"]["satisfaction_rate"] == 0.0
    assert "unavailable" not in w48  # visits and special tasks come from the stations' records (station_work)
