"""Authorization case of evaluation's satisfaction KPI view, GET /kpis (see test_authorization.areas).

Readers only: the station's clerks and head and its supervisors see the station's figures; another station, another
city and another city's supervisor asking for it by name find nothing (404), as with any station outside their
scope; organizations and operations are refused (403). The figures themselves are checked in
test_evaluation_kpis.py.
"""

from tests.support import events


async def prepare(system) -> None:
    """Nothing beyond the module's own demands: the station has ratings to count."""


def cases(system) -> dict:
    from tests.integration.test_authorization import READ_A, expect

    return {
        ("evaluation", "GET", "/kpis"): (
            f"/kpis?station_id={events.STATION}",
            None,
            expect(**READ_A, org_assigned=403, org_other=403),
            None,
        ),
    }
