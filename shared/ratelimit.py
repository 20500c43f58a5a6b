"""Rate limits for public endpoints (no account behind them), by the `limits` library.

Moving windows per key; storage `memory://` in one process, `redis://…` to share the
count between replicas.

The key is the client's address. Behind a reverse proxy every request comes from the
proxy, so `X-Forwarded-For` is read — but only from the proxies named in the
`trusted_proxies` setting (none by default): anyone else could name any address there
and escape the limit. uvicorn's own proxy-header handling is off (`serve()`), so this
is the one place that decides.
"""

from fastapi import FastAPI
from limits import parse, storage, strategies
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from shared.errors import TooManyRequests


class RateLimiter:
    def __init__(self, storage_uri: str = "memory://") -> None:
        self._limiter = strategies.MovingWindowRateLimiter(storage.storage_from_string(storage_uri))

    def check(self, rule: str, *identity: str) -> None:
        """Count one hit against `rule` (e.g. "20/minute") for `identity`; 429 when exhausted."""
        if not self._limiter.hit(parse(rule), *identity):
            raise TooManyRequests("请求过于频繁，请稍后再试", f"too many requests (limit {rule})")


def trust_proxies(app: FastAPI, proxies: list[str]) -> None:
    """Requests from these addresses or networks (e.g. "10.0.0.5", "10.0.0.0/8") have their client address
    taken from X-Forwarded-For (the right-most address that is not itself a trusted proxy); from any other
    peer the header is ignored and `request.client` stays the peer's address."""
    if proxies:
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=list(proxies))
