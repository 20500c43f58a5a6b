"""The archive keeps what happens around a resolved demand (issue 10): its re-visits (回访, RevisitRecorded) in the
dossier's "revisits" section and the stages of complaints tied to it (投诉, ComplaintUpdated) in "complaints". Neither
holds the seal back; one that comes after sealing, as re-visits mostly do, is logged and attached by a supplement.
On the fake unit of work of test_archive_usecases.
"""

from dataclasses import replace

import pytest

from services.archive import domain, usecases
from shared.contracts import Archived, ComplaintStage
from tests.support import aftercare_events as ae
from tests.support.fake_uow import FakeUnitOfWork
from tests.unit import factories as f
from tests.unit.test_archive_usecases import FakeStore, _collect, _logged, rematched_history


@pytest.fixture
def uow():
    return FakeUnitOfWork(FakeStore(), consumer="archive")


def test_re_visits_and_complaints_have_their_sections():
    assert domain.SECTIONS["demand.revisited"] == "revisits"
    assert domain.SECTIONS["complaint.updated"] == "complaints"


async def test_a_re_visit_and_a_complaint_before_the_rating_are_sealed_in_their_sections(uow):
    s, a1, a2, r, rating = rematched_history()
    revisit = ae.revisited(r, at=f.at(12))
    received = ae.complaint(s, at=f.at(13))
    answered = ae.complaint(s, ComplaintStage.answered, at=f.at(14)).model_copy(
        update={"complaint_id": received.complaint_id}
    )
    await _collect(uow, s, a1, a2, r, revisit, received, answered)
    assert uow.store.dossiers == {}, "a re-visit or a complaint is no reason to seal"
    await _collect(uow, rating)
    dossier = uow.store.dossiers[s.demand_id]
    assert dossier.content["revisits"] == [revisit.model_dump(mode="json")]
    assert [c["stage"] for c in dossier.content["complaints"]] == ["received", "answered"]
    assert dossier.content["revisits"][0]["enterprise_said"] == "证书已收到，问题已解决"
    assert uow.events(Archived)[0].event_count == 8
    assert {e.event_id for e in domain.recorded(dossier)} == {
        e.event_id for e in (s, a1, a2, r, rating, revisit, received, answered)
    }
    assert await usecases.audit(uow) == ([], [])


async def test_a_re_visit_after_sealing_is_logged_and_attached_by_a_supplement(uow):
    history = rematched_history()
    await _collect(uow, *history)
    dossier = uow.store.dossiers[history[0].demand_id]
    assert dossier.content["revisits"] == [] and dossier.content["complaints"] == []
    late = ae.revisited(history[3], at=f.at(20))
    complaint = ae.complaint(history[0], at=f.at(21))
    await _collect(uow, late, complaint)
    assert uow.store.dossiers[history[0].demand_id] == dossier and len(uow.events(Archived)) == 1
    [finding], _ = await usecases.audit(uow)
    assert finding.lacking == [] and [e.event_id for e in finding.unattached] == [late.event_id, complaint.event_id]
    remaining, [added] = await usecases.audit(uow, supplement=True)
    assert remaining == []
    assert [e["type"] for e in added.content["events"]] == ["demand.revisited", "complaint.updated"]
    assert added.content["events"][0]["payload"]["revisit_id"] == str(late.revisit_id)


def test_a_dossier_sealed_before_these_sections_existed_still_reads_whole():
    s, a1, a2, r, rating = rematched_history()
    logged = [_logged(e) for e in (s, a1, a2, r, rating)]
    dossier = domain.seal(logged, serial=1, sealed_at=f.at(18))
    content = {k: v for k, v in dossier.content.items() if k not in ("revisits", "complaints")}
    assert domain.audit(replace(dossier, content=content), [], logged) is None
