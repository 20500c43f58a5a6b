"""Development tokens for tests, minted exactly as `python -m shared.auth token` does."""

from datetime import UTC, datetime, timedelta

from shared.auth import DEV_KEY, Role, mint
from tests.support.events import OTHER_STATION, STATION

# Tests freeze the clock at instants before and after today (QS_TEST_CLOCK, time-machine), while these tokens are
# minted once at import: issued long ago and valid for long, they hold at every instant a test can pick.
ISSUED = datetime(2000, 1, 1, tzinfo=UTC)
LIFETIME = timedelta(days=365 * 150)


def bearer(role: Role | str, station: str | None = None, org: str | None = None, name: str | None = None, **kw) -> dict:
    kw.setdefault("now", ISSUED)
    kw.setdefault("ttl", LIFETIME)
    token = mint(role=Role(role), station=station, org=org, name=name, **kw)
    return {"Authorization": f"Bearer {token}"}


CLERK = bearer("clerk", STATION, name="张晓燕")
HEAD = bearer("head", STATION, name="周站长")
OTHER_CLERK = bearer("clerk", OTHER_STATION, name="何家豪")
OTHER_HEAD = bearer("head", OTHER_STATION, name="梁站长")
SUPERVISOR = bearer("supervisor", "210100", name="沈阳市市场监管局")
OTHER_SUPERVISOR = bearer("supervisor", "440100", name="广州市市场监管局")
ORG = bearer("org", org="org-01", name="市计量测试院")
OTHER_ORG = bearer("org", org="org-02", name="另一检测机构")
ADMIN = bearer("admin", name="运维")
EXPIRED = bearer("head", STATION, ttl=timedelta(seconds=-60))
WRONG_KEY = bearer("head", STATION, key=DEV_KEY[::-1])
NONE: dict = {}
