"""Authorization case of evaluation's scorecard, GET /scorecards (see test_authorization.areas).

The station's clerks and head and its supervisors read the station's rows; another station, another city and another
city's supervisor asking for it by name find nothing (404), as with any station outside their scope; an organization
reads only its own row by organization, so asking by station is refused (403), as is operations. The figures, the
organization's own row and the dimensions are checked in test_evaluation_scorecards.py.
"""

from tests.support import events


async def prepare(system) -> None:
    """Nothing beyond the module's own demands: the station has ratings to count."""


def cases(system) -> dict:
    from tests.integration.test_authorization import READ_A, expect

    return {
        ("evaluation", "GET", "/scorecards"): (
            f"/scorecards?by=station&station_id={events.STATION}",
            None,
            expect(**READ_A, org_assigned=403, org_other=403),
            None,
        ),
    }
