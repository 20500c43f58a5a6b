"""What the sealed record reads off its events (issue 11), and the chain and retention rules, pure."""

from dataclasses import replace
from datetime import UTC, date, datetime

from services.archive import domain
from services.archive.domain import LoggedEvent
from shared.contracts import (
    EVENT_TYPES,
    RATING_LINKS,
    STATION_WORK,
    Archived,
    CalendarCorrected,
    Deliverable,
    Fee,
    ItemRef,
    StationRegistered,
)
from tests.support import following_events as fe
from tests.unit import factories as f


def logged(*events) -> list[LoggedEvent]:
    return [LoggedEvent(e.event_id, e.routing_key, e.occurred_at, e.model_dump(mode="json")) for e in events]


def test_every_event_about_a_demand_has_its_section_in_the_record():
    """A new event type about a demand must be given a section (and an archive queue) before it can be sealed. A
    station's own work (visits, special tasks) is about no demand: kept as the station's records, in no dossier."""
    not_kept = {Archived.routing_key, CalendarCorrected.routing_key, StationRegistered.routing_key}
    station_work = {e.routing_key for e in STATION_WORK}
    # The rating link evaluation makes for the enterprise's status page (RatingLinkIssued) is about a demand but never
    # sealed: its URL holds the one-time token, a secret of the enterprise's, and a sealed record is kept for years
    # and read by staff and supervisors. No archive queue receives it; the rating itself (Rated) is in the record.
    rating_links = {e.routing_key for e in RATING_LINKS}
    assert set(domain.SECTIONS) == set(EVENT_TYPES) - not_kept - station_work - rating_links
    assert not set(domain.SECTIONS) & (station_work | rating_links)


def sealed_history():
    item = ItemRef(
        code="metrology.calibration",
        version=1,
        category="metrology",
        label="检定校准",
        time_limit_days=10,
        handled_by="organization",
        materials=["营业执照复印件", "器具清单"],
        materials_received=["营业执照复印件"],
    )
    s = f.submitted().model_copy(update={"items": [item]})
    a = f.assigned(s)
    follow_up = fe.followed_up(a, recorded_by="张晓燕")
    r = f.resolved(s).model_copy(
        update={
            "assignment_no": 1,
            "fee": Fee(free_service=False, amount_yuan=300, payer="企业"),
            "deliverables": [Deliverable(title="检定证书", reference="JD-1")],
            "staff_involved": ["李工"],
        }
    )
    rating = f.rated(s).model_copy(update={"causation_id": r.event_id})
    return s, a, follow_up, r, rating


def test_the_record_holds_the_notice_fees_deliverables_and_people():
    events = logged(*sealed_history())
    d = domain.seal(events, serial=1, sealed_at=datetime(2026, 10, 12, 1, tzinfo=UTC))
    c = d.content
    notice = c["notice"]
    assert notice["printed_tracking_no"] == f"hunnan-01-{f.TRACKING_NO}" and notice["time_limit_days"] == 3
    [item] = notice["items"]
    assert item["materials_needed"] == ["器具清单"] and item["materials_received"] == ["营业执照复印件"]
    assert notice["reissued"] == [] and "不随事件传递" in notice["not_in_events"]
    assert [(x["round"], x["amount_yuan"], x["payer"]) for x in c["fees"]] == [(1, 300, "企业")]
    assert [x["reference"] for x in c["deliverables"]] == ["JD-1"]
    people = {p["name"]: p["roles"] for p in c["staff"]}
    # Roles in the order of the events' times, which the test events take from the (frozen) clock: compared as sets.
    assert set(people["张晓燕"]) == {"首问负责人", "跟进记录"} and people["李工"] == ["参与服务"]
    assert people["李站长"] == ["派单"] and people["市计量测试院"] == ["承办", "办结"]
    assert c["outcome"]["fee"]["amount_yuan"] == 300 and c["outcome"]["staff_involved"] == ["李工"]
    assert domain.content_sha256(c) == d.content_sha256
    assert domain.recorded(d) and {e.event_id for e in domain.recorded(d)} == {e.event_id for e in events}


def chained(n: int) -> list[domain.Dossier]:
    out, previous = [], None
    for i in range(1, n + 1):
        d = domain.seal(logged(*sealed_history()), serial=i, sealed_at=datetime(2026, 10, i, tzinfo=UTC))
        link = domain.chain_link(previous, d.station_id, i, d.archive_no, d.demand_id, d.content_sha256)
        d = replace(d, chain_no=i, previous_sha256=previous, chain_sha256=link)
        out.append(d)
        previous = link
    return out


def test_the_chain_verifies_and_names_its_first_broken_link():
    chain = chained(4)
    report = domain.verify_chain(f.STATION, chain)
    assert report.intact and report.dossiers == 4 and report.head_sha256 == chain[-1].chain_sha256

    altered = [*chain[:2], replace(chain[2], content={**chain[2].content, "fees": []}), chain[3]]
    broken = domain.verify_chain(f.STATION, altered).broken
    assert (broken.chain_no, broken.archive_no) == (3, chain[2].archive_no) and "altered" in broken.problem_en

    removed = domain.verify_chain(f.STATION, [chain[0], chain[2], chain[3]]).broken
    assert removed.chain_no == 3 and "removed" in removed.problem_en

    disposed = [chain[0], replace(chain[1], content=None, disposed_at=datetime.now(UTC), disposal_id=f.T0), *chain[2:]]
    report = domain.verify_chain(f.STATION, disposed)
    assert report.intact and report.disposed == 1
    vanished = domain.verify_chain(f.STATION, [chain[0], replace(chain[1], content=None), *chain[2:]]).broken
    assert vanished.chain_no == 2 and "never disposed" in vanished.problem_en


def test_retention_is_at_least_three_years_and_a_setting_only_lengthens_it():
    sealed = datetime(2028, 2, 29, 4, tzinfo=UTC)  # 29 February in China too
    assert domain.retained_until(sealed) == date(2031, 2, 28)
    assert domain.retained_until(sealed, 2) == date(2031, 2, 28)  # never under three years
    assert domain.retained_until(sealed, 10) == date(2038, 2, 28)
    d = domain.seal(logged(*sealed_history()), serial=1, sealed_at=sealed, retention_years=5)
    assert d.retain_until == date(2033, 2, 28)
    assert domain.effective_retain_until(d, None) == date(2033, 2, 28)
    assert domain.effective_retain_until(d, 3) == date(2033, 2, 28)  # a shorter setting never shortens it
    assert domain.effective_retain_until(d, 8) == date(2036, 2, 29)
