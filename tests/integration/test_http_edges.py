"""The HTTP edges every service shares (shared/http.py, validation.py, ratelimit.py, auth.py, runtime.create_app):
no input gets a 500, every non-2xx reply has the bilingual shape, an unhandled error is a counted, logged,
bilingual 500, /docs works offline, the rate limit keys on the real client, tokens tolerate clock skew."""

import re
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import structlog

from shared.auth import Role, mint
from tests.support import auth, events, infra
from tests.support.apps import make_app

pytestmark = pytest.mark.integration

ERROR_KEYS = {"code", "message", "message_en"}
TOKEN = "t" * 43


def _bilingual(reply: httpx.Response, status: int, code: str | None = None) -> dict:
    assert reply.status_code == status, reply.text
    body = reply.json()
    assert ERROR_KEYS <= set(body) <= ERROR_KEYS | {"errors"}, body
    assert re.search(r"[\u4e00-\u9fff]", body["message"]), body  # Chinese first
    if code:
        assert body["code"] == code, body
    return body


@pytest.fixture
async def intake(amqp, databases):
    app = make_app("intake", amqp_url=amqp, database_url=databases("intake"))

    @app.get("/test-only/boom", include_in_schema=False)
    async def boom():
        raise RuntimeError("secret-internal-detail")

    async with infra.running(app) as client:
        yield client


@pytest.fixture
async def evaluation():
    """Without its lifespan: a body refused by validation never reaches the database."""
    app = make_app("evaluation", amqp_url="amqp://unused/", database_url="postgresql://unused/x")
    async with infra.client(app) as client:
        yield client


# --- every non-2xx reply has the project's shape ------------------------------------------------------


async def test_unknown_routes_wrong_methods_and_unreadable_bodies_answer_bilingually(intake):
    _bilingual(await intake.get("/no/such/route"), 404, "not_found")
    wrong = _bilingual(await intake.delete("/categories"), 405, "method_not_allowed")
    assert "GET" in (await intake.delete("/categories")).headers["allow"]
    body = _bilingual(
        await intake.post("/demands", content=b"{not json", headers={**auth.CLERK, "content-type": "application/json"}),
        422,
        "validation_error",
    )
    assert body["errors"][0]["type"] == "json_invalid" and wrong["message_en"].startswith("method not allowed")
    _bilingual(
        await intake.post(
            "/demands", content=b'{"a": "\xff"}', headers={**auth.CLERK, "content-type": "application/json"}
        ),
        400,
        "bad_request",
    )
    _bilingual(
        await intake.post("/demands", content="station_id=x", headers={**auth.CLERK, "content-type": "text/plain"}),
        422,
        "validation_error",
    )
    _bilingual(await intake.get("/demands"), 401, "unauthenticated")


async def test_an_unhandled_error_is_a_bilingual_500_logged_once_and_counted(intake):
    with structlog.testing.capture_logs() as logs:
        reply = await intake.get("/test-only/boom")
    body = _bilingual(reply, 500, "internal_error")
    assert "secret-internal-detail" not in reply.text and "Traceback" not in reply.text
    errors = [entry for entry in logs if entry["event"] == "unhandled error"]
    assert len(errors) == 1 and errors[0]["log_level"] == "error" and errors[0]["exc_info"] is True
    assert body["message_en"] == "internal server error"
    metrics = (await intake.get("/metrics")).text
    boom = r'qs_http_request_seconds_count\{method="GET",route="/test-only/boom",status="500"\} 1\.0'
    assert re.search(boom, metrics)
    assert re.search(r'qs_http_request_seconds_count\{method="GET",route="unmatched",status="404"\}', metrics) is None
    await intake.get("/nowhere")
    metrics = (await intake.get("/metrics")).text
    assert re.search(r'qs_http_request_seconds_count\{method="GET",route="unmatched",status="404"\} 1\.0', metrics)


async def test_the_openapi_document_says_every_error_is_the_bilingual_shape(intake):
    doc = (await intake.get("/openapi.json")).json()
    assert "HTTPValidationError" not in doc["components"]["schemas"]
    assert set(doc["components"]["schemas"]["Error"]["required"]) == ERROR_KEYS
    operation = doc["paths"]["/demands"]["post"]["responses"]
    assert operation["422"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
    assert operation["4XX"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}


async def test_docs_load_their_assets_from_the_service_itself(intake):
    for page in ("/docs", "/redoc"):
        html = (await intake.get(page)).text
        urls = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", html) + re.findall(r"url: ?'([^']+)'", html)
        assert urls, html
        for url in urls:
            assert url.startswith("/") and not url.startswith("//"), f"{page} loads {url}"
            assert (await intake.get(url)).status_code == 200, url
        assert "cdn." not in html and "https://" not in html.replace("https://fastapi.tiangolo.com", "")


# --- no input gets a 500 -------------------------------------------------------------------------------


async def test_nul_and_invisible_characters_are_refused_on_public_endpoints(intake, evaluation):
    form = events.demand_form()
    form = {k: form[k] for k in ("enterprise", "contact", "items", "description")}
    form["contact"] = {**form["contact"], "name": "王\x00建国"}
    form["items"] = [{"code": "metrology.calibration", "materials_received": ["营业执照\u202e"]}]
    reply = await intake.post(f"/public/stations/{events.STATION}/demands", json=form)
    fields = {e["field"]: e for e in _bilingual(reply, 422, "validation_error")["errors"]}
    assert set(fields) == {"contact.name", "items.0.materials_received.0"}
    assert "控制字符" in fields["contact.name"]["message"] and "U+0000" in fields["contact.name"]["message_en"]
    assert "不可见字符" in fields["items.0.materials_received.0"]["message"]

    rating = {"answers": {"overall": "satisfied", "comments": "很好\x00"}}
    reply = await evaluation.post(f"/public/ratings/{TOKEN}", json=rating)
    assert [e["field"] for e in _bilingual(reply, 422)["errors"]] == ["answers.comments"]
    # A lone surrogate in a key is refused and the reply still renders.
    surrogate_key = b'{"\\ud800": 1, "answers": {"overall": "satisfied"}}'
    reply = await evaluation.post(
        f"/public/ratings/{TOKEN}", content=surrogate_key, headers={"content-type": "application/json"}
    )
    _bilingual(reply, 422)


async def test_implausible_numbers_dates_and_times_are_refused(intake):
    code = events.credit_code()
    cases = [
        ("put", f"/enterprises/{code}", {"name": "甲公司", "output_value_wan": 1e300}, "output_value_wan"),
        ("post", "/demands", events.demand_form(received_at="9999-12-31T23:59:59-12:00"), "received_at"),
        (
            "post",
            "/visits",
            {
                "credit_code": code,
                "enterprise_name": "甲公司",
                "staff": ["张晓燕"],
                "visited_on": "0001-01-01",
                "findings": "需计量检定",
            },
            "visited_on",
        ),
        (
            "post",
            "/visits",
            {
                "credit_code": code,
                "enterprise_name": "甲\u200b公司",
                "staff": ["张晓燕"],
                "visited_on": datetime.now(UTC).date().isoformat(),
                "findings": "x",
            },
            "enterprise_name",
        ),
    ]
    for method, path, body, field in cases:
        reply = await intake.request(method, path, json=body, headers=auth.CLERK)
        assert [e["field"] for e in _bilingual(reply, 422)["errors"]] == [field], reply.text
    reply = await intake.get("/enterprises", params={"q": "a\x00b"}, headers=auth.HEAD)
    assert [e["field"] for e in _bilingual(reply, 422)["errors"]] == ["q"]
    _bilingual(await intake.get("/demands", params={"offset": 10**20}, headers=auth.HEAD), 422)


async def test_search_words_are_literal_not_like_patterns(intake):
    for base, name in (("91210112MA0U00001", "沈阳甲仪器有限公司"), ("91210112MA0U00002", "100%_乙检测公司")):
        reply = await intake.put(f"/enterprises/{events.credit_code(base)}", json={"name": name}, headers=auth.CLERK)
        assert reply.status_code == 200, reply.text

    async def names(q: str) -> list[str]:
        reply = await intake.get("/enterprises", params={"q": q}, headers=auth.HEAD)
        assert reply.status_code == 200, reply.text
        return [e["name"] for e in reply.json()]

    assert await names("%") == ["100%_乙检测公司"]
    assert await names("_") == ["100%_乙检测公司"]
    assert await names("甲") == ["沈阳甲仪器有限公司"]
    assert await names("\\") == []


# --- the rate limit counts the real client --------------------------------------------------------------


async def _limited_app(amqp, databases, **settings):
    return make_app("intake", amqp_url=amqp, database_url=databases("intake"), public_rate_limit="2/minute", **settings)


async def test_a_forged_forwarded_for_from_an_untrusted_peer_is_ignored(amqp, databases):
    app = await _limited_app(amqp, databases)  # trusted_proxies: none
    async with infra.running(app) as client:
        statuses = [
            (await client.get(f"/public/status/{TOKEN}", headers={"X-Forwarded-For": f"198.51.100.{i}"})).status_code
            for i in range(3)
        ]
    assert statuses == [404, 404, 429]


async def test_behind_a_trusted_proxy_the_forwarded_client_is_limited_not_the_proxy(amqp, databases):
    app = await _limited_app(amqp, databases, trusted_proxies=["10.0.0.0/8"])
    async with app.router.lifespan_context(app):
        proxy = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, client=("10.1.2.3", 4321)), base_url="http://t"
        )
        outsider = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, client=("192.0.2.9", 4321)), base_url="http://t"
        )
        async with proxy, outsider:

            async def via_proxy(client_ip: str) -> int:
                forwarded = {"X-Forwarded-For": f"{client_ip}, 10.9.9.9"}
                reply = await proxy.get(f"/public/status/{TOKEN}", headers=forwarded)
                return reply.status_code

            assert [await via_proxy("203.0.113.7") for _ in range(3)] == [404, 404, 429]
            assert await via_proxy("203.0.113.8") == 404  # another enterprise behind the same proxy
            # The proxy's own address was never counted, and an untrusted peer's header is still ignored.
            forged = [
                (await outsider.get(f"/public/status/{TOKEN}", headers={"X-Forwarded-For": "203.0.113.99"})).status_code
                for _ in range(3)
            ]
            assert forged == [404, 404, 429]


# --- clock skew -----------------------------------------------------------------------------------------


async def test_a_token_issued_a_little_in_the_future_is_accepted(intake):
    ahead = mint(role=Role.head, station=events.STATION, now=datetime.now(UTC) + timedelta(seconds=2))
    reply = await intake.get("/demands", headers={"Authorization": f"Bearer {ahead}"})
    assert reply.status_code == 200, reply.text
    far = mint(role=Role.head, station=events.STATION, now=datetime.now(UTC) + timedelta(minutes=5))
    _bilingual(await intake.get("/demands", headers={"Authorization": f"Bearer {far}"}), 401, "unauthenticated")


def test_the_leeway_is_a_setting():
    from shared.auth import TokenVerifier
    from shared.settings import ServiceSettings

    settings = ServiceSettings(service_name="x")
    assert settings.auth_leeway_seconds == 30 and settings.trusted_proxies == []
    ahead = mint(role=Role.head, station=events.STATION, now=datetime.now(UTC) + timedelta(seconds=2))
    strict = TokenVerifier(
        key=settings.auth_signing_key, issuer=settings.auth_issuer, audience=settings.auth_audience, leeway=0
    )
    with pytest.raises(Exception, match="invalid token"):
        strict.verify(ahead)
    lenient = TokenVerifier(
        key=settings.auth_signing_key,
        issuer=settings.auth_issuer,
        audience=settings.auth_audience,
        leeway=settings.auth_leeway_seconds,
    )
    assert lenient.verify(ahead).role is Role.head
