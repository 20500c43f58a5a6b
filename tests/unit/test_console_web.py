"""The console's web layer with the services and the identity provider faked behind httpx transports (nothing runs):
the development sign-in, CSRF on every POST, the services' errors in Chinese, a 401 signing out, the security headers,
and in production the OpenID Connect sign-in (authorization code with PKCE) against a fake provider."""

import base64
import hashlib
import json
import re
import time
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import ValidationError

from services.console.app import create_app
from services.console.settings import Settings
from shared.auth import AUDIENCE, DEV_ISSUER, DEV_KEY, Role, TokenVerifier

STATION = "210100/210112/hunnan-01"
STATIONS = [
    {"station_id": STATION, "name": "沈阳市浑南区一站式质量服务站", "level": 2},
    {"station_id": "440100/440113/panyu-01", "name": "广州市番禺区工业园区质量服务工作站", "level": 2},
]
ORGS = [{"org_id": "org-01", "name": "市计量测试院", "status_label": "已准入"}]
GONE = "00000000-0000-0000-0000-000000000401"  # tracking answers 401 for it: the token is no longer good
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
SECRET = "a-production-session-secret-of-forty-characters"


class FakeServices:
    """The five services as far as these pages need them; remembers the tokens it was sent."""

    def __init__(self) -> None:
        self.tokens: list[str] = []

    def transports(self) -> dict[str, httpx.MockTransport]:
        return {name: httpx.MockTransport(self.handle) for name in ("intake", "dispatch", "tracking")}

    def handle(self, request: httpx.Request) -> httpx.Response:
        auth = request.headers.get("authorization", "")
        if auth:
            self.tokens.append(auth.removeprefix("Bearer "))
        path = request.url.path
        if path == "/stations":
            return httpx.Response(200, json=STATIONS)
        if path == "/organizations":
            return httpx.Response(200, json=ORGS)
        if path == "/ledger":
            if request.url.params.get("q") == "坏":
                return httpx.Response(
                    422,
                    json={
                        "code": "validation_error",
                        "message": "请求数据有误",
                        "message_en": "Request validation failed",
                        "errors": [
                            {"field": "q", "type": "x", "message": "查询词不能包含控制字符", "message_en": "no"}
                        ],
                    },
                )
            return httpx.Response(200, json=[])
        if path == f"/demands/{GONE}":
            return httpx.Response(
                401, json={"code": "unauthenticated", "message": "登录已过期，请重新登录", "message_en": "expired"}
            )
        return httpx.Response(404, json={"code": "not_found", "message": "未找到", "message_en": "not found"})


def console(settings: Settings | None = None, fake: FakeServices | None = None, **kw):
    fake = fake or FakeServices()
    return create_app(settings or Settings(), transports=fake.transports(), **kw), fake


def browser(app, base: str = "http://console.test") -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base)


async def sign_in(client: httpx.AsyncClient, person: str) -> httpx.Response:
    page = await client.get("/signin")
    token = CSRF.search(page.text).group(1)
    return await client.post("/signin", data={"csrf_token": token, "person": person, "next": "/ledger"})


async def test_the_development_sign_in_mints_a_token_the_services_accept():
    app, fake = console()
    async with app.router.lifespan_context(app), browser(app) as client:
        reply = await sign_in(client, f"head:{STATION}")
        assert reply.status_code == 303 and reply.headers["location"] == "/ledger"
        page = await client.get("/ledger")
        assert page.status_code == 200
        assert "派单队列" in page.text and "站长" in page.text  # the head's navigation
    principal = TokenVerifier(key=DEV_KEY, issuer=DEV_ISSUER, audience=AUDIENCE).verify(fake.tokens[-1])
    assert (principal.role, principal.station) == (Role.head, STATION)
    assert principal.name == "沈阳市浑南区一站式质量服务站站长"


async def test_a_person_the_directory_does_not_offer_signs_nobody_in():
    app, _ = console()
    async with app.router.lifespan_context(app), browser(app) as client:
        for forged in ("head:210100/210112/elsewhere", "admin:x", "supervisor:999999"):
            reply = await sign_in(client, forged)
            assert reply.status_code == 303 and reply.headers["location"].startswith("/signin")
            assert (await client.get("/ledger")).status_code == 303


async def test_every_post_needs_the_csrf_token_even_signing_in():
    app, fake = console()
    async with app.router.lifespan_context(app), browser(app) as client:
        await client.get("/signin")
        reply = await client.post("/signin", data={"person": "admin", "next": "/"})
        assert reply.status_code == 403 and "页面已过期或来源无法确认" in reply.text
        assert (await client.get("/stations")).status_code == 303  # not signed in
        # A token from another session (another browser) is no good here either.
        async with browser(app) as other:
            theirs = CSRF.search((await other.get("/signin")).text).group(1)
        reply = await client.post("/signin", data={"csrf_token": theirs, "person": "admin", "next": "/"})
        assert reply.status_code == 403


async def test_a_services_error_is_shown_in_chinese_and_a_401_asks_to_sign_in_again():
    app, _ = console()
    async with app.router.lifespan_context(app), browser(app) as client:
        await sign_in(client, f"clerk:{STATION}")
        page = await client.get("/ledger", params={"q": "坏"})
        assert page.status_code == 200 and "查询词不能包含控制字符" in page.text
        missing = await client.get("/demands/00000000-0000-0000-0000-000000000001")
        assert missing.status_code == 404 and "未找到" in missing.text
        assert (await client.get("/demands/not-a-uuid")).status_code == 404
        gone = await client.get(f"/demands/{GONE}")
        assert gone.status_code == 303 and gone.headers["location"].startswith("/signin")
        assert "登录已过期" in (await client.get("/signin")).text
        assert (await client.get("/ledger")).status_code == 303


async def test_a_role_outside_a_page_gets_403_and_htmx_is_sent_to_sign_in_by_header():
    app, _ = console()
    async with app.router.lifespan_context(app), browser(app) as client:
        reply = await client.get("/ledger", headers={"HX-Request": "true"})
        assert reply.status_code == 204 and reply.headers["HX-Redirect"].startswith("/signin?next=")
        await sign_in(client, f"clerk:{STATION}")
        for path in ("/queue/00000000-0000-0000-0000-000000000001/assign", "/stations"):
            page = await client.get(path)
            assert page.status_code == 403 and "无权" in page.text


async def test_pages_carry_the_security_headers_and_the_cookie_its_flags():
    app, _ = console()
    async with app.router.lifespan_context(app), browser(app) as client:
        page = await client.get("/signin")
        assert "script-src 'self'" in page.headers["content-security-policy"]
        assert page.headers["x-frame-options"] == "DENY"
        assert page.headers["referrer-policy"] == "no-referrer"
        assert page.headers["cache-control"] == "no-store"
        cookie = page.headers["set-cookie"]
        assert cookie.startswith("qs_console=") and "HttpOnly" in cookie and "SameSite=Lax" in cookie
        assert "Secure" not in cookie
        htmx = await client.get("/vendor/htmx/htmx.min.js")
        assert htmx.status_code == 200 and b"htmx" in htmx.content[:2000]


def test_production_refuses_the_development_session_secret():
    with pytest.raises(ValidationError, match="development session secret"):
        Settings(environment="production")
    with pytest.raises(ValidationError, match="at least 32"):
        Settings(environment="production", session_secret="short")
    assert Settings(environment="production", session_secret=SECRET).production


async def test_production_without_openid_connect_refuses_to_sign_in_and_offers_nobody():
    app, fake = console(Settings(environment="production", session_secret=SECRET))
    async with app.router.lifespan_context(app), browser(app, "https://console.test") as client:
        page = await client.get("/signin")
        assert "尚未配置统一身份认证" in page.text and "data-person" not in page.text
        cookie = page.headers["set-cookie"]
        assert cookie.startswith("__Host-qs_console=") and "Secure" in cookie
        token = CSRF.search(page.text)
        assert token is None  # no form at all
        reply = await client.post("/signin", data={"person": "admin"})
        assert reply.status_code == 403  # no CSRF token: refused before anything else
        assert (await client.get("/signin/oidc")).status_code == 404
    assert fake.tokens == []  # nothing was minted or read


# --- OpenID Connect against a fake provider ---

ISSUER = "https://idp.test/realms/qs"


class FakeProvider:
    """Discovery, JWKS and the token endpoint of an OIDC provider; `authorize` plays the person signing in there."""

    def __init__(self, claims: dict | None = None) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.codes: dict[str, dict] = {}
        self.claims = claims if claims is not None else {"role": "head", "station": STATION, "name": "周站长"}
        self.nonce_override: str | None = None

    def sign(self, claims: dict) -> str:
        now = int(time.time())
        return jwt.encode({"iat": now, "exp": now + 600, **claims}, self.key, algorithm="RS256", headers={"kid": "k1"})

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/realms/qs/.well-known/openid-configuration":
            return httpx.Response(
                200,
                json={
                    "issuer": ISSUER,
                    "authorization_endpoint": ISSUER + "/auth",
                    "token_endpoint": ISSUER + "/token",
                    "jwks_uri": ISSUER + "/certs",
                },
            )
        if path == "/realms/qs/certs":
            jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
            return httpx.Response(200, json={"keys": [jwk | {"kid": "k1", "use": "sig", "alg": "RS256"}]})
        if path == "/realms/qs/token":
            form = parse_qs(request.content.decode())
            basic = base64.b64decode(request.headers["authorization"].removeprefix("Basic ")).decode()
            grant = self.codes.pop(form["code"][0], None)
            verifier = form["code_verifier"][0].encode()
            challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier).digest()).rstrip(b"=").decode()
            if basic != "console:client-secret" or grant is None or challenge != grant["challenge"]:
                return httpx.Response(400, json={"error": "invalid_grant"})
            id_token = self.sign(
                {"iss": ISSUER, "aud": "console", "sub": "u-1", "nonce": self.nonce_override or grant["nonce"]}
            )
            access = self.sign({"iss": ISSUER, "aud": AUDIENCE, "sub": "u-1", **self.claims})
            return httpx.Response(200, json={"id_token": id_token, "access_token": access, "token_type": "Bearer"})
        return httpx.Response(404)

    def authorize(self, url: str) -> tuple[str, str]:
        query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
        assert query["response_type"] == "code" and query["code_challenge_method"] == "S256"
        assert query["client_id"] == "console" and "openid" in query["scope"].split()
        assert query["redirect_uri"] == "https://console.test/signin/callback"
        code = f"code-{len(self.codes)}"
        self.codes[code] = {"nonce": query["nonce"], "challenge": query["code_challenge"]}
        return code, query["state"]


def oidc_console(provider: FakeProvider):
    settings = Settings(
        environment="production",
        session_secret=SECRET,
        oidc_issuer=ISSUER,
        oidc_client_id="console",
        oidc_client_secret="client-secret",
        public_url="https://console.test",
        auth_issuer=ISSUER,
    )
    fake = FakeServices()
    app = create_app(settings, transports=fake.transports(), oidc_transport=httpx.MockTransport(provider.handle))
    return app, fake


async def test_openid_connect_signs_in_with_the_providers_token_and_the_services_get_it():
    provider = FakeProvider()
    app, fake = oidc_console(provider)
    async with app.router.lifespan_context(app), browser(app, "https://console.test") as client:
        page = await client.get("/signin")
        assert "统一身份认证登录" in page.text
        start = await client.get("/signin/oidc", params={"next": "/ledger?list=overdue"})
        assert start.status_code == 303 and start.headers["location"].startswith(ISSUER + "/auth?")
        code, state = provider.authorize(start.headers["location"])
        back = await client.get("/signin/callback", params={"code": code, "state": state})
        assert back.status_code == 303 and back.headers["location"] == "/ledger?list=overdue"
        ledger = await client.get("/ledger")
        assert ledger.status_code == 200 and "周站长" in ledger.text and "沈阳市浑南区一站式质量服务站" in ledger.text
    claims = jwt.decode(fake.tokens[-1], options={"verify_signature": False})
    assert claims["iss"] == ISSUER and claims["role"] == "head"  # the provider's access token, passed on


@pytest.mark.parametrize("attack", ["wrong state", "replayed code", "nonce", "no role", "provider error"])
async def test_openid_connect_refuses_what_is_not_this_sign_in(attack):
    provider = FakeProvider(claims={"name": "无角色"} if attack == "no role" else None)
    app, _ = oidc_console(provider)
    async with app.router.lifespan_context(app), browser(app, "https://console.test") as client:
        start = await client.get("/signin/oidc")
        code, state = provider.authorize(start.headers["location"])
        params = {"code": code, "state": state}
        if attack == "wrong state":
            params["state"] = "someone-elses"
        if attack == "nonce":
            provider.nonce_override = "another-nonce"
        if attack == "provider error":
            params = {"error": "access_denied", "state": state}
        if attack == "replayed code":
            assert (await client.get("/signin/callback", params=params)).status_code == 303
            await client.post("/signout", data={"csrf_token": CSRF.search((await client.get("/ledger")).text).group(1)})
            await client.get("/signin/oidc")  # a new sign-in under way, the old code sent again
        back = await client.get("/signin/callback", params=params)
        assert back.status_code == 303 and back.headers["location"] == "/signin"
        page = await client.get("/signin")
        assert re.search(r"flash-error[^>]*>[^<]*(失效|无效|未通过|角色)", page.text), page.text
        assert (await client.get("/ledger")).status_code == 303
