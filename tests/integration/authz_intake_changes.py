"""Authorization cases of the intake changes routes (see test_authorization.areas)."""


async def prepare(system) -> None:
    """Nothing to prepare yet."""


def cases(system) -> dict:
    return {}
