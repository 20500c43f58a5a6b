"""Authorization cases of the scorecards, GET /scorecards on tracking and intake (see test_authorization.areas).

Readers of the station: its clerks and head and its supervisors read its scorecard; another station, another city
and another city's supervisor asking for it by name find nothing (404), as with any station outside their scope;
organizations may not read a scorecard by station (403: only their own row by organization, checked with the
figures in test_scorecards.py, as are the supervisor's subtree and the organization's own row); operations are
refused (403).
"""

from tests.support import events


async def prepare(system) -> None:
    """Nothing beyond the module's own demands: the station has cases and complaints to count."""


def cases(system) -> dict:
    from tests.integration.test_authorization import READ_A, expect

    url = f"/scorecards?by=station&station_id={events.STATION}"
    return {
        (service, "GET", "/scorecards"): (url, None, expect(**READ_A, org_assigned=403, org_other=403), None)
        for service in ("tracking", "intake")
    }
