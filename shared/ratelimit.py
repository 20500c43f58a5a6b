"""Rate limits for public endpoints (no account behind them), by the `limits` library.

Moving windows per key; storage `memory://` in one process, `redis://…` to share the
count between replicas.
"""

from limits import parse, storage, strategies

from shared.errors import TooManyRequests


class RateLimiter:
    def __init__(self, storage_uri: str = "memory://") -> None:
        self._limiter = strategies.MovingWindowRateLimiter(storage.storage_from_string(storage_uri))

    def check(self, rule: str, *identity: str) -> None:
        """Count one hit against `rule` (e.g. "20/minute") for `identity`; 429 when exhausted."""
        if not self._limiter.hit(parse(rule), *identity):
            raise TooManyRequests("请求过于频繁，请稍后再试", f"too many requests (limit {rule})")
