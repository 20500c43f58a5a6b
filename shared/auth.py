"""Who is calling, and what they may see: bearer JWTs, roles, station scope (domain.md §2).

Every service verifies tokens itself. Development signs with HS256 and a local key;
production verifies RS256 against an identity provider's JWKS URL, and a service
refuses to start in production with the development key.

Claims: `sub`, `name`, `role` (clerk, head, org, supervisor, admin), `station`
(one station id for clerks and heads; a path prefix such as "210100" or
"210100/210112" for supervisors), `org` (organization id for `org` users).

    python -m shared.auth token --role head --station 210100/210112/hunnan-01
"""

import argparse
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

import jwt

from shared.contracts import STATION_ID_PATTERN
from shared.errors import Unauthenticated

DEV_KEY = "dev-only-insecure-signing-key-change-me-0123456789"
DEV_ISSUER = "qs-dev"
AUDIENCE = "quality-stations"

_PREFIX_PATTERN = re.compile(r"^[0-9]{6}(/[0-9]{6}){0,3}$")
_STATION = re.compile(STATION_ID_PATTERN)


class Role(StrEnum):
    clerk = "clerk"  # 服务专员 / 窗口人员
    head = "head"  # 站长
    org = "org"  # 质量服务机构
    supervisor = "supervisor"  # 上级单位 / 市局
    admin = "admin"  # 运维


STAFF = (Role.clerk, Role.head)
READERS = (Role.clerk, Role.head, Role.supervisor)


def in_scope(station_id: str, scope: str) -> bool:
    """A station is in scope when it is the scope or lies below it in the path."""
    return station_id == scope or station_id.startswith(scope + "/")


@dataclass(frozen=True)
class Principal:
    subject: str
    name: str
    role: Role
    station: str | None = None  # clerk/head: their station; supervisor: a prefix
    org: str | None = None

    @property
    def db_scope(self) -> str:
        """What row-level security lets this caller's transactions see."""
        return self.station if self.role in READERS and self.station else ""


NAME_MAX = 200
SYSTEM = Principal(subject="system", name="system", role=Role.admin)


_CACHED_KEYS = 16  # the identity provider's signing keys kept (here and in PyJWKClient's LRU)


class TokenVerifier:
    def __init__(
        self, *, key: str, issuer: str, audience: str, jwks_url: str | None = None, leeway: float = 0.0
    ) -> None:
        self._key = key
        # Seconds of clock skew tolerated on exp/iat/nbf: a token minted by a host whose clock runs ahead is good.
        self._leeway = leeway
        self._issuer = issuer
        self._audience = audience
        self._jwks = jwt.PyJWKClient(jwks_url, cache_keys=True, max_cached_keys=_CACHED_KEYS) if jwks_url else None
        # The identity provider's keys by key id, kept here once resolved, so that a token signed with one is checked
        # in the event loop without touching the JWKS client (its lock, its cache, the network).
        self._keys: dict[str, jwt.PyJWK] = {}

    def may_block(self, token: str) -> bool:
        """Whether verifying `token` may fetch the identity provider's keys over the network (blocking): a key id
        not resolved yet. The caller then verifies it off the event loop; every other token is checked in it."""
        if self._jwks is None:
            return False
        try:
            kid = jwt.get_unverified_header(token).get("kid")
        except jwt.PyJWTError:
            return False  # rejected before any key is looked up
        return kid not in self._keys

    def _signing_key(self, token: str) -> jwt.PyJWK:
        assert self._jwks is not None
        known = self._keys.get(jwt.get_unverified_header(token).get("kid"))
        if known is not None:
            return known
        signing = self._jwks.get_signing_key_from_jwt(token)  # may fetch: only off the event loop (may_block)
        if len(self._keys) >= _CACHED_KEYS:  # a few across a rotation; more means old ones: learn them anew
            self._keys.clear()
        self._keys[signing.key_id] = signing
        return signing

    def verify(self, token: str) -> Principal:
        try:
            if self._jwks is not None:
                key, algorithms = self._signing_key(token).key, ["RS256"]
            else:
                key, algorithms = self._key, ["HS256"]
            claims = jwt.decode(
                token,
                key,
                algorithms=algorithms,
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway,
                options={"require": ["exp", "iat", "sub", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("登录已过期，请重新登录", "token expired") from None
        except jwt.PyJWTError as exc:
            raise Unauthenticated("身份凭证无效", f"invalid token: {exc}") from None
        return principal_from_claims(claims)


def principal_from_claims(claims: dict) -> Principal:
    try:
        role = Role(claims.get("role"))
    except ValueError:
        raise Unauthenticated("身份凭证缺少有效角色", "token has no valid role") from None
    station, org = claims.get("station"), claims.get("org")
    valid = {
        Role.clerk: isinstance(station, str) and bool(_STATION.match(station)),
        Role.head: isinstance(station, str) and bool(_STATION.match(station)),
        Role.supervisor: isinstance(station, str) and bool(_PREFIX_PATTERN.match(station) or _STATION.match(station)),
        Role.org: isinstance(org, str) and bool(org),
        Role.admin: True,
    }[role]
    if not valid:
        raise Unauthenticated("身份凭证的服务站或机构范围无效", f"token scope invalid for role {role}")
    return Principal(
        subject=str(claims["sub"]),
        # A display name goes into events (assigned_by, closed_by …), whose names hold 200 characters at most.
        name=str(claims.get("name") or claims["sub"])[:NAME_MAX],
        role=role,
        station=station if role in READERS else None,
        org=org if role is Role.org else None,
    )


def mint(
    *,
    role: Role,
    station: str | None = None,
    org: str | None = None,
    subject: str | None = None,
    name: str | None = None,
    key: str = DEV_KEY,
    issuer: str = DEV_ISSUER,
    audience: str = AUDIENCE,
    ttl: timedelta = timedelta(hours=12),
    now: datetime | None = None,
) -> str:
    """A development token (HS256). Production tokens come from the identity provider."""
    now = now or datetime.now(UTC)
    claims = {
        "sub": subject or f"{role}-{station or org or 'ops'}",
        "name": name or subject or str(role),
        "role": str(role),
        "iss": issuer,
        "aud": audience,
        "iat": now,
        "exp": now + ttl,
    }
    if station:
        claims["station"] = station
    if org:
        claims["org"] = org
    return jwt.encode(claims, key, algorithm="HS256")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m shared.auth", description="Development tokens.")
    sub = parser.add_subparsers(dest="command", required=True)
    token = sub.add_parser("token", help="mint a development token (HS256, local key)")
    token.add_argument("--role", required=True, choices=[r.value for r in Role])
    token.add_argument("--station", help="station id (clerk, head) or prefix (supervisor)")
    token.add_argument("--org", help="organization id (org)")
    token.add_argument("--name", help="display name")
    token.add_argument("--subject", help="the person's account (sub), e.g. the staff_id kept by dispatch")
    token.add_argument("--hours", type=float, default=12.0)
    args = parser.parse_args()
    print(
        mint(
            role=Role(args.role),
            station=args.station,
            org=args.org,
            name=args.name,
            subject=args.subject,
            ttl=timedelta(hours=args.hours),
        )
    )


if __name__ == "__main__":
    main()
