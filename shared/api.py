"""What every service's api.py takes from the framework: the caller, role checks, paging, the unit of work.

Kept apart from shared.auth so that token rules and roles import nothing of HTTP.
"""

import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Header, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from shared.auth import Principal, Role
from shared.contracts import StationId
from shared.db.uow import UnitOfWork
from shared.errors import Forbidden, Unauthenticated
from shared.validation import Key, Limit, Offset, QueryDate

T = TypeVar("T")

# Declared as a security scheme so the OpenAPI page offers "Authorize"; we answer the 401 ourselves.
_bearer = HTTPBearer(auto_error=False, description="开发环境：python -m shared.auth token --role head --station …")


def in_the_loop(call: Callable[..., T]) -> Callable[..., Awaitable[T]]:
    """`call` (a class, e.g. a query's parameters) as a dependency FastAPI runs in the event loop. A plain function or
    a class it runs in its thread pool: a hop to a worker thread and back on every request, about 100 µs of CPU each
    on this project's 2-core VM (a route with four such dependencies: 650-730 µs per request against 265-280 µs with
    none), for work of microseconds. Dependencies here are `async def` for the same reason."""

    async def direct(**values: Any) -> T:
        return call(**values)

    direct.__signature__ = inspect.signature(call, eval_str=True)  # type: ignore[attr-defined]  # the parameters FastAPI reads
    return direct


async def current_principal(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Principal:
    if credentials is None or not credentials.credentials:
        raise Unauthenticated("请先登录（缺少 Bearer 身份凭证）", "missing bearer token")
    verifier = request.app.state.runtime.verifier
    if verifier.may_block(credentials.credentials):  # fetches the identity provider's keys: not in the event loop
        return await run_in_threadpool(verifier.verify, credentials.credentials)
    return verifier.verify(credentials.credentials)


def allow(*roles: Role):
    """The caller, if their role is one of `roles`; 403 otherwise."""

    async def check(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        if principal.role not in roles:
            raise Forbidden("您的角色无权执行此操作", f"role {principal.role} may not do this")
        return principal

    return Depends(check)


async def _uow(request: Request) -> UnitOfWork:
    return request.app.state.runtime.uow


UoW = Annotated[UnitOfWork, Depends(_uow)]


@dataclass(frozen=True)
class Page:
    """Paging of every list: `?limit=&offset=`."""

    limit: Limit = 100
    offset: Offset = 0


@dataclass(frozen=True)
class StationPage(Page):
    """A list over the caller's stations, or one of them (`?station_id=`; 404 outside the scope), paged."""

    station_id: StationId | None = None


@dataclass(frozen=True)
class KpiScope:
    """A KPI view's query (GET /kpis on tracking and evaluation): one station of the caller's scope or all of them,
    and the period in China dates (shared.kpis.period gives the defaults and the limits)."""

    station_id: Annotated[
        StationId | None, Query(description="只看一个服务站（须在调用者范围内）/ one station of the caller's scope")
    ] = None
    start: Annotated[
        QueryDate | None,
        Query(alias="from", description="统计期间起（含，北京日期），默认截止日所在月的 1 日 / first day"),
    ] = None
    end: Annotated[
        QueryDate | None, Query(alias="to", description="统计期间止（含，北京日期），默认今天 / last day")
    ] = None


Paged = Annotated[Page, Depends(in_the_loop(Page))]
StationPaged = Annotated[StationPage, Depends(in_the_loop(StationPage))]
KpiScoped = Annotated[KpiScope, Depends(in_the_loop(KpiScope))]

# A client retrying a state-changing request after a lost reply sends the same key (shared.idempotency).
IdempotencyKey = Annotated[
    Key | None,
    Header(
        alias="Idempotency-Key",
        description="幂等键：重试同一请求时带上同一个键，不会重复办理 / the same key on a retry: no second change",
    ),
]
