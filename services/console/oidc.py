"""Production sign-in: OpenID Connect authorization code flow with PKCE (RFC 6749 §4.1, RFC 7636, OIDC Core §3.1).

1. `begin`: a fresh state, nonce and PKCE verifier (kept in the session, which is encrypted), and the identity
   provider's authorization URL to send the browser to.
2. `finish`: the provider sends the browser back with `code` and `state`; the state must be ours, the code is
   exchanged at the token endpoint (client_secret_basic, with the PKCE verifier), the ID token is verified
   (signature from the provider's JWKS, issuer, audience = our client id, expiry, nonce), and so is the access
   token, exactly as the services verify it (issuer and audience of shared.auth, RS256 from the same JWKS); its
   claims (role, station, org) are who the person is here.

Written on httpx and PyJWT, which the project already uses: Authlib's httpx client is deprecated in favour of
another HTTP library. The provider's discovery document and keys are fetched through the same client, so a test
can put a fake provider behind an httpx transport.
"""

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from urllib.parse import urlencode

import httpx
import jwt

from shared.auth import Principal, principal_from_claims
from shared.errors import Unauthenticated

from .settings import Settings

LEEWAY = 60  # seconds of clock difference tolerated with the provider


class SignInFailed(Exception):
    """The sign-in did not succeed; `zh` is what the person reads."""

    def __init__(self, zh: str, en: str) -> None:
        super().__init__(en)
        self.zh = zh


@dataclass(frozen=True)
class Provider:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    end_session_endpoint: str | None = None


@dataclass(frozen=True)
class SignedIn:
    principal: Principal
    access_token: str
    expires_at: float


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def pkce_challenge(verifier: str) -> str:
    """S256: base64url(sha256(verifier)) without padding (RFC 7636 §4.2)."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class OidcClient:
    def __init__(self, settings: Settings, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._settings = settings
        self._http = httpx.AsyncClient(transport=transport, timeout=settings.service_timeout_seconds)
        self._provider: tuple[float, Provider] | None = None
        self._keys: tuple[float, jwt.PyJWKSet] | None = None

    async def close(self) -> None:
        await self._http.aclose()

    @property
    def redirect_uri(self) -> str:
        return str(self._settings.public_url).rstrip("/") + "/signin/callback"

    async def provider(self) -> Provider:
        if self._provider is None or time.monotonic() - self._provider[0] > 3600:
            issuer = str(self._settings.oidc_issuer).rstrip("/")
            doc = await self._get(issuer + "/.well-known/openid-configuration")
            try:
                found = Provider(
                    issuer=doc["issuer"],
                    authorization_endpoint=doc["authorization_endpoint"],
                    token_endpoint=doc["token_endpoint"],
                    jwks_uri=doc["jwks_uri"],
                    end_session_endpoint=doc.get("end_session_endpoint"),
                )
            except (KeyError, TypeError):
                raise SignInFailed("统一身份认证配置无效", "discovery document incomplete") from None
            if found.issuer.rstrip("/") != issuer:  # OIDC Discovery §4.3
                raise SignInFailed("统一身份认证配置无效", f"issuer mismatch: {found.issuer} != {issuer}")
            self._provider = (time.monotonic(), found)
        return self._provider[1]

    async def _get(self, url: str) -> dict:
        try:
            reply = await self._http.get(url)
            reply.raise_for_status()
            return reply.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise SignInFailed("暂时无法连接统一身份认证，请稍后再试", f"GET {url}: {exc!r}") from None

    async def _jwks(self, refresh: bool = False) -> jwt.PyJWKSet:
        if refresh or self._keys is None or time.monotonic() - self._keys[0] > 3600:
            provider = await self.provider()
            self._keys = (time.monotonic(), jwt.PyJWKSet.from_dict(await self._get(provider.jwks_uri)))
        return self._keys[1]

    async def _key(self, token: str) -> jwt.PyJWK:
        try:
            kid = jwt.get_unverified_header(token).get("kid")
        except jwt.PyJWTError as exc:
            raise SignInFailed("登录凭证无效", f"unreadable token: {exc}") from None
        for refresh in (False, True):  # a key not seen yet: the provider may have rotated its keys
            keys = await self._jwks(refresh)
            for key in keys.keys:
                if kid is None or key.key_id == kid:
                    return key
        raise SignInFailed("登录凭证无效", f"no key {kid!r} in the provider's JWKS")

    async def begin(self) -> tuple[str, dict]:
        """The authorization URL, and what the session keeps until the provider sends the browser back."""
        provider = await self.provider()
        pending = {
            "state": secrets.token_urlsafe(24),
            "nonce": secrets.token_urlsafe(24),
            "verifier": secrets.token_urlsafe(48),
        }
        query = {
            "response_type": "code",
            "client_id": self._settings.oidc_client_id,
            "redirect_uri": self.redirect_uri,
            "scope": self._settings.oidc_scope,
            "state": pending["state"],
            "nonce": pending["nonce"],
            "code_challenge": pkce_challenge(pending["verifier"]),
            "code_challenge_method": "S256",
        }
        return provider.authorization_endpoint + "?" + urlencode(query), pending

    async def finish(self, *, code: str | None, state: str | None, error: str | None, pending: dict | None) -> SignedIn:
        if error:
            raise SignInFailed("统一身份认证未通过，请重新登录", f"provider answered error={error}")
        if not pending or not state or not _same(state, str(pending.get("state", ""))):
            raise SignInFailed("登录请求已失效，请重新登录", "state missing or not ours")
        if not code:
            raise SignInFailed("登录请求无效，请重新登录", "no code")
        provider = await self.provider()
        try:
            reply = await self._http.post(
                provider.token_endpoint,
                data={
                    "grant_type": "authorization_code",
                    "code": code,
                    "redirect_uri": self.redirect_uri,
                    "code_verifier": pending["verifier"],
                },
                auth=(self._settings.oidc_client_id or "", self._settings.oidc_client_secret or ""),
                headers={"Accept": "application/json"},
            )
            tokens = reply.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise SignInFailed("暂时无法连接统一身份认证，请稍后再试", f"token endpoint: {exc!r}") from None
        if reply.status_code != 200 or "id_token" not in tokens or "access_token" not in tokens:
            raise SignInFailed("统一身份认证未通过，请重新登录", f"token endpoint answered {reply.status_code}")
        await self._verify_id_token(tokens["id_token"], provider, pending["nonce"])
        return await self._verify_access_token(tokens["access_token"])

    async def _verify_id_token(self, token: str, provider: Provider, nonce: str) -> dict:
        key = await self._key(token)
        try:
            claims = jwt.decode(
                token,
                key.key,
                algorithms=["RS256", "ES256"],
                audience=self._settings.oidc_client_id,
                issuer=provider.issuer,
                leeway=LEEWAY,
                options={"require": ["exp", "iat", "sub", "iss", "aud"]},
            )
        except jwt.PyJWTError as exc:
            raise SignInFailed("登录凭证无效", f"id token: {exc}") from None
        if not _same(str(claims.get("nonce", "")), nonce):
            raise SignInFailed("登录凭证无效", "id token nonce is not ours")
        return claims

    async def _verify_access_token(self, token: str) -> SignedIn:
        """The token the services will be sent, checked as they check it (shared.auth.TokenVerifier)."""
        key = await self._key(token)
        try:
            claims = jwt.decode(
                token,
                key.key,
                algorithms=["RS256"],
                audience=self._settings.auth_audience,
                issuer=self._settings.auth_issuer,
                leeway=LEEWAY,
                options={"require": ["exp", "iat", "sub", "iss", "aud"]},
            )
            principal = principal_from_claims(claims)
        except jwt.PyJWTError as exc:
            raise SignInFailed("登录凭证无效", f"access token: {exc}") from None
        except Unauthenticated as exc:
            raise SignInFailed(f"{exc.zh}：您的账号尚未分配本系统的角色或服务站，请联系运维", exc.en) from None
        return SignedIn(principal=principal, access_token=token, expires_at=float(claims["exp"]))
