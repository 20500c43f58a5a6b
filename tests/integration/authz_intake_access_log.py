"""Authorization cases of intake's access log (see test_authorization.areas): who read which enterprise dossier or
demand contact is reviewed by a head (the station) and a supervisor (the subtree), as the archive's access log."""


async def prepare(system) -> None:
    pass  # the shared cases' reads of dossiers and demands already write lines; the route needs no rows of its own


def cases(system) -> dict:
    from tests.integration.test_authorization import LIST, expect

    return {
        ("intake", "GET", "/access-log"): (
            "/access-log",
            None,
            expect(**LIST | {"clerk_a": 403, "clerk_other_station": 403}, org_assigned=403, org_other=403),
            None,
        ),
    }
