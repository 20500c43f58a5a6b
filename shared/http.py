"""HTTP pieces every service app shares: bilingual errors, health, metrics, request timing."""

import time

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.responses import Response

from shared.errors import DomainError, Invalid

# Chinese wording for pydantic's error types; English comes from pydantic itself.
_ZH = {
    "missing": "必填项缺失",
    "string_type": "应为文本",
    "string_too_short": "内容过短，至少 {min_length} 个字符",
    "string_too_long": "内容过长，最多 {max_length} 个字符",
    "string_pattern_mismatch": "格式不正确",
    "int_type": "应为整数",
    "int_parsing": "应为整数",
    "int_from_float": "应为整数",
    "bool_type": "应为是或否",
    "bool_parsing": "应为是或否",
    "greater_than_equal": "不能小于 {ge}",
    "greater_than": "必须大于 {gt}",
    "less_than_equal": "不能大于 {le}",
    "less_than": "必须小于 {lt}",
    "enum": "取值无效，可选值：{expected}",
    "literal_error": "取值无效，可选值：{expected}",
    "date_type": "日期格式应为 YYYY-MM-DD",
    "date_parsing": "日期格式应为 YYYY-MM-DD",
    "date_from_datetime_parsing": "日期格式应为 YYYY-MM-DD",
    "datetime_type": "时间格式应为 ISO 8601",
    "datetime_parsing": "时间格式应为 ISO 8601",
    "datetime_from_date_parsing": "时间格式应为 ISO 8601",
    "timezone_aware": "时间须带时区",
    "uuid_type": "编号格式不正确",
    "uuid_parsing": "编号格式不正确",
    "list_type": "应为列表",
    "too_short": "至少需要 {min_length} 项",
    "too_long": "最多 {max_length} 项",
    "dict_type": "应为对象",
    "model_type": "应为对象",
    "model_attributes_type": "应为对象",
    "extra_forbidden": "不允许的字段",
    "json_invalid": "请求体不是有效的 JSON",
    "json_type": "请求体不是有效的 JSON",
    "date_past": "日期不能是过去",
    "date_future": "日期不能是将来",
}


def _zh(error: dict) -> str:
    ctx = error.get("ctx") or {}
    template = _ZH.get(error["type"])
    if template is None:
        # Our own validators put the Chinese text in the context.
        return str(ctx.get("zh") or "内容无效")
    try:
        return template.format(**ctx)
    except (KeyError, IndexError):
        return template


def _field(loc: tuple) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:] or parts
    return ".".join(parts)


def error_body(code: str, zh: str, en: str, errors: list[dict] | None = None) -> dict:
    body = {"code": code, "message": zh, "message_en": en}
    if errors is not None:
        body["errors"] = errors
    return body


async def _validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = [
        {"field": _field(e["loc"]), "type": e["type"], "message": _zh(e), "message_en": e["msg"]}
        for e in exc.errors()
    ]
    return JSONResponse(
        status_code=422, content=error_body("validation_error", "请求数据有误", "Request validation failed", errors)
    )


async def _domain_error(_request: Request, exc: DomainError) -> JSONResponse:
    errors = None
    if isinstance(exc, Invalid):
        errors = [{"field": exc.field, "type": exc.code, "message": exc.zh, "message_en": exc.en}]
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    return JSONResponse(status_code=exc.status, content=error_body(exc.code, exc.zh, exc.en, errors), headers=headers)


def install(app: FastAPI, metrics) -> None:
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(DomainError, _domain_error)

    @app.middleware("http")
    async def time_requests(request: Request, call_next):
        started = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        metrics.http_requests.labels(
            request.method, getattr(route, "path", "unmatched"), str(response.status_code)
        ).observe(time.perf_counter() - started)
        return response

    @app.get("/metrics", include_in_schema=False)
    async def prometheus_metrics() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)
