"""HTTP pieces every service app shares: bilingual errors, health, metrics, request timing.

Every non-2xx reply has one shape, `Error` below: {code, message (中文), message_en, errors?} —
validation errors, domain errors, Starlette's own (unknown route, wrong method, unparsable body)
and unhandled exceptions alike. The OpenAPI document says so for every operation.
"""

import json
import time
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from shared.errors import DomainError, Invalid

log = structlog.get_logger(__name__)

# Chinese wording for pydantic's error types; English comes from pydantic itself.
_ZH = {
    "missing": "必填项缺失",
    "string_type": "应为文本",
    "string_too_short": "内容过短，至少 {min_length} 个字符",
    "string_too_long": "内容过长，最多 {max_length} 个字符",
    "string_pattern_mismatch": "格式不正确",
    "string_unicode": "应为有效的文本",
    "int_type": "应为整数",
    "int_parsing": "应为整数",
    "int_from_float": "应为整数",
    "int_parsing_size": "数值过大",
    "float_type": "应为数字",
    "float_parsing": "应为数字",
    "finite_number": "应为有限的数字",
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
    "date_from_datetime_inexact": "日期格式应为 YYYY-MM-DD",
    "datetime_type": "时间格式应为 ISO 8601",
    "datetime_parsing": "时间格式应为 ISO 8601",
    "datetime_from_date_parsing": "时间格式应为 ISO 8601",
    "datetime_object_invalid": "时间无效",
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
    "value_error": "格式不正确",
}

# Starlette's own errors (no route, wrong method, a body that cannot be read), in the project's words.
_HTTP = {
    400: ("bad_request", "请求无法解析", "bad request"),
    401: ("unauthenticated", "请先登录", "not authenticated"),
    403: ("forbidden", "无权访问", "forbidden"),
    404: ("not_found", "未找到该地址", "no such address"),
    405: ("method_not_allowed", "该地址不支持此请求方法", "method not allowed"),
    406: ("not_acceptable", "无法提供所要求的内容格式", "not acceptable"),
    413: ("too_large", "请求内容过大", "request body too large"),
    415: ("unsupported_media_type", "请求内容类型不受支持，应为 application/json", "unsupported media type"),
    429: ("rate_limited", "请求过于频繁，请稍后再试", "too many requests"),
}


class ErrorItem(BaseModel):
    field: str = Field(description="出错的字段，如 contact.phone / the field, dotted")
    type: str = Field(description="错误类型 / error type")
    message: str = Field(description="中文说明")
    message_en: str


class Error(BaseModel):
    """Every non-2xx reply of every service."""

    code: str = Field(description="错误代码，如 validation_error, not_found")
    message: str = Field(description="中文说明")
    message_en: str = Field(description="English, for operations")
    errors: list[ErrorItem] | None = Field(default=None, description="逐字段的错误（校验失败时）")


class ErrorResponse(JSONResponse):
    """A JSON error that always renders: text echoed from the request may hold lone surrogates."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode(
            "utf-8", "replace"
        )


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
    if parts and parts[0] in ("body", "query", "path", "header", "cookie"):
        parts = parts[1:] or parts
    return ".".join(parts)


def error_body(code: str, zh: str, en: str, errors: list[dict] | None = None) -> dict:
    body = {"code": code, "message": zh, "message_en": en}
    if errors is not None:
        body["errors"] = errors
    return body


async def _validation_error(_request: Request, exc: RequestValidationError) -> Response:
    errors = [
        {"field": _field(e["loc"]), "type": e["type"], "message": _zh(e), "message_en": e["msg"]} for e in exc.errors()
    ]
    return ErrorResponse(
        status_code=422, content=error_body("validation_error", "请求数据有误", "Request validation failed", errors)
    )


async def _domain_error(_request: Request, exc: DomainError) -> Response:
    errors = None
    if isinstance(exc, Invalid):
        errors = [{"field": exc.field or "", "type": exc.code, "message": exc.zh, "message_en": exc.en}]
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    return ErrorResponse(status_code=exc.status, content=error_body(exc.code, exc.zh, exc.en, errors), headers=headers)


async def _http_error(_request: Request, exc: StarletteHTTPException) -> Response:
    code, zh, en = _HTTP.get(exc.status_code, ("http_error", "请求无法处理", "request failed"))
    if isinstance(exc.detail, str) and exc.detail and exc.detail.lower() != en:
        en = f"{en}: {exc.detail}"
    if exc.status_code < 400 or exc.status_code in (204, 304):  # not an error: no body to shape
        return Response(status_code=exc.status_code, headers=exc.headers)
    return ErrorResponse(status_code=exc.status_code, content=error_body(code, zh, en), headers=exc.headers)


def internal_error() -> Response:
    return ErrorResponse(
        status_code=500, content=error_body("internal_error", "服务器内部错误，请稍后再试", "internal server error")
    )


class ObserveRequests:
    """Times every request into the http metric by route template and status, and turns an exception
    escaping a route into the bilingual 500: logged once with its traceback, counted, nothing leaked."""

    def __init__(self, app: ASGIApp, metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_and_note(message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                responded.append(True)
            await send(message)

        responded: list[bool] = []
        try:
            await self.app(scope, receive, send_and_note)
        except Exception:
            status = 500
            log.exception("unhandled error", method=scope.get("method"), path=scope.get("path"))
            if responded:  # the reply was under way: nothing more can be sent
                raise
            await internal_error()(scope, receive, send)
        finally:
            route = scope.get("route")
            self.metrics.http_requests.labels(
                scope.get("method", ""), getattr(route, "path", "unmatched"), str(status)
            ).observe(time.perf_counter() - started)


def _document_errors(app: FastAPI) -> None:
    """The OpenAPI document tells the truth about errors: 422 and every other 4xx answer `Error`."""
    build = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build()
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components.update(Error.model_json_schema(ref_template="#/components/schemas/{model}").pop("$defs", {}))
        components["Error"] = Error.model_json_schema(ref_template="#/components/schemas/{model}")
        components["Error"].pop("$defs", None)
        error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
        for path in schema.get("paths", {}).values():
            for operation in path.values():
                responses = operation.setdefault("responses", {})
                if "422" in responses:
                    responses["422"] = {"description": "请求数据有误 / validation error", "content": error}
                responses.setdefault("4XX", {"description": "错误 / error", "content": error})
        for unused in ("HTTPValidationError", "ValidationError"):
            components.pop(unused, None)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi


def install(app: FastAPI, metrics) -> None:
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_middleware(ObserveRequests, metrics=metrics)
    _document_errors(app)

    @app.get("/metrics", include_in_schema=False)
    async def prometheus_metrics() -> Response:
        await metrics.refresh()  # figures kept in the service's store, read once per scrape
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)
