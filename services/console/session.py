"""The signed-in person's session: an encrypted cookie, its idle timeout, and the CSRF token of its forms.

The console keeps no session store: the session is a Fernet token (AES-CBC + HMAC-SHA256, keyed from the session
secret) in one cookie, rewritten on every page so that `seen_at` is the last activity. Nothing here does I/O and
the time is always passed in, so the rules are tested without a clock.

CSRF: every session, signed in or not, carries a random token; every form posts it back (`csrf_token`, or the
`X-CSRF-Token` header on htmx requests) and a POST whose token does not equal the session's is refused. The
token lives inside the encrypted cookie, so a page of another site can neither read nor forge it.
"""

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import asdict, dataclass, field, replace

from cryptography.fernet import Fernet, InvalidToken

COOKIE = "qs_console"
# In production the cookie is Secure and carries the __Host- prefix: only this host, path /, over HTTPS.
SECURE_COOKIE = "__Host-qs_console"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
# A cookie is at most 4096 bytes; a session that would not fit drops its flashes rather than the sign-in.
MAX_COOKIE = 3800


@dataclass(frozen=True)
class Person:
    """Who is signed in, as every page shows them; the token the services trust is kept beside it."""

    subject: str
    name: str
    role: str  # clerk, head, org, supervisor, admin
    station: str | None = None  # clerk, head: their station; supervisor: a city or district prefix
    org: str | None = None
    scope_name: str | None = None  # the station's, organization's or supervised area's name


@dataclass(frozen=True)
class Flash:
    """A message shown once on the next page: kind is ok, info or error; link is an optional URL to show."""

    kind: str
    text: str
    link: str | None = None
    link_label: str | None = None


@dataclass(frozen=True)
class Session:
    csrf: str
    seen_at: float
    person: Person | None = None
    token: str | None = None
    expires_at: float | None = None  # the token's exp: the session ends then whatever the activity
    flashes: tuple[Flash, ...] = ()
    # An OpenID Connect sign-in under way: state, nonce, PKCE verifier, where to go afterwards.
    oidc: dict | None = None

    @property
    def signed_in(self) -> bool:
        return self.person is not None and self.token is not None


def new_session(now: float, flashes: tuple[Flash, ...] = ()) -> Session:
    return Session(csrf=secrets.token_urlsafe(32), seen_at=now, flashes=flashes)


def sign_in(session: Session, person: Person, token: str, expires_at: float, now: float) -> Session:
    """A fresh CSRF token at sign-in: a token seen before signing in (e.g. planted by someone) is worthless after."""
    return Session(
        csrf=secrets.token_urlsafe(32),
        seen_at=now,
        person=person,
        token=token,
        expires_at=expires_at,
        flashes=session.flashes,
    )


def flash(session: Session, kind: str, text: str, link: str | None = None, link_label: str | None = None) -> Session:
    return replace(session, flashes=(*session.flashes, Flash(kind, text, link, link_label)))


def take_flashes(session: Session) -> tuple[Session, tuple[Flash, ...]]:
    return replace(session, flashes=()), session.flashes


IDLE = "idle"
EXPIRED = "expired"


def ended(session: Session, now: float, idle_seconds: float) -> str | None:
    """Why a signed-in session is over: IDLE (no page for idle_seconds), EXPIRED (the token's end), or None."""
    if not session.signed_in:
        return None
    if session.expires_at is not None and now >= session.expires_at:
        return EXPIRED
    if now - session.seen_at >= idle_seconds:
        return IDLE
    return None


ENDED_MESSAGES = {
    IDLE: "因长时间未操作，您已自动退出，请重新登录。",
    EXPIRED: "登录已过期，请重新登录。",
}


def csrf_ok(session: Session, submitted: str | None) -> bool:
    """The form's (or header's) token equals the session's; compared in constant time."""
    if not submitted:
        return False
    return hmac.compare_digest(submitted.encode(), session.csrf.encode())


class SessionCodec:
    """Session <-> cookie value. A cookie that was altered, made with another secret or is unreadable is None."""

    def __init__(self, secret: str) -> None:
        key = hashlib.sha256(b"qs-console-session\x00" + secret.encode()).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(key))

    def dumps(self, session: Session, now: float) -> str:
        data = asdict(session)
        value = self._encode(data, now)
        if len(value) > MAX_COOKIE and data["flashes"]:
            value = self._encode({**data, "flashes": []}, now)
        return value

    def _encode(self, data: dict, now: float) -> str:
        raw = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
        return self._fernet.encrypt_at_time(raw, int(now)).decode("ascii")

    def loads(self, value: str | None) -> Session | None:
        if not value:
            return None
        try:
            data = json.loads(self._fernet.decrypt(value.encode("ascii")))
            person = Person(**data["person"]) if data.get("person") else None
            flashes = tuple(Flash(**f) for f in data.get("flashes") or ())
            return Session(
                csrf=data["csrf"],
                seen_at=float(data["seen_at"]),
                person=person,
                token=data.get("token"),
                expires_at=data.get("expires_at"),
                flashes=flashes,
                oidc=data.get("oidc"),
            )
        except (InvalidToken, UnicodeError, ValueError, KeyError, TypeError):
            return None


@dataclass
class Loaded:
    """The session of one request as the middleware found it, and whether the reply must rewrite the cookie."""

    session: Session
    dirty: bool = False
    cleared: bool = False  # signed out or ended: the cookie is replaced by a fresh anonymous session
    notes: list[str] = field(default_factory=list)


def load(codec: SessionCodec, cookie: str | None, now: float, idle_seconds: float) -> Loaded:
    """The request's session: the cookie's if valid and not ended, else a new anonymous one (with the reason)."""
    session = codec.loads(cookie)
    if session is None:
        return Loaded(new_session(now), dirty=True)
    reason = ended(session, now, idle_seconds)
    if reason is not None:
        fresh = new_session(now, (Flash("info", ENDED_MESSAGES[reason]),))
        return Loaded(fresh, dirty=True, cleared=True, notes=[reason])
    if not session.signed_in and now - session.seen_at >= idle_seconds:
        # An anonymous session's CSRF token does not live for ever either.
        return Loaded(new_session(now), dirty=True)
    return Loaded(session)
