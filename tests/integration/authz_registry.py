"""Authorization cases of the registry routes (see test_authorization.areas)."""


async def prepare(system) -> None:
    """Nothing to prepare yet."""


def cases(system) -> dict:
    return {}
