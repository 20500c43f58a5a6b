"""Authorization cases of the decisions routes (see test_authorization.areas)."""


async def prepare(system) -> None:
    """Nothing to prepare yet."""


def cases(system) -> dict:
    return {}
