"""Token verification: signature, issuer, audience, expiry, role and scope claims; RS256 through a JWKS URL."""

import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import ValidationError

from services.dispatch.settings import Settings
from shared.auth import AUDIENCE, DEV_ISSUER, DEV_KEY, Principal, Role, TokenVerifier, in_scope, mint
from shared.errors import Unauthenticated

STATION = "210100/210112/hunnan-01"
VERIFIER = TokenVerifier(key=DEV_KEY, issuer=DEV_ISSUER, audience=AUDIENCE)


def test_a_development_token_names_role_station_and_person():
    p = VERIFIER.verify(mint(role=Role.head, station=STATION, name="周站长"))
    assert (p.role, p.station, p.name, p.org) == (Role.head, STATION, "周站长", None)
    assert p.db_scope == STATION


def test_a_long_display_name_is_cut_to_what_events_hold():
    p = VERIFIER.verify(mint(role=Role.head, station=STATION, name="周" * 500))
    assert p.name == "周" * 200


@pytest.mark.parametrize(
    "token",
    [
        mint(role=Role.head, station=STATION, ttl=timedelta(seconds=-1)),
        mint(role=Role.head, station=STATION, key="another-key-of-sufficient-length-0123456789"),
        mint(role=Role.head, station=STATION, issuer="someone-else"),
        mint(role=Role.head, station=STATION, audience="another-system"),
        mint(role=Role.clerk, station=None),  # a clerk without a station
        mint(role=Role.clerk, station="210100"),  # a clerk's scope is one station, not a prefix
        mint(role=Role.org, org=None),
        "not-a-token",
    ],
)
def test_bad_tokens_are_refused(token):
    with pytest.raises(Unauthenticated) as refused:
        VERIFIER.verify(token)
    assert refused.value.status == 401 and refused.value.zh


def test_a_token_with_an_unknown_role_is_refused():
    token = jwt.encode(
        {"sub": "x", "role": "root", "iss": DEV_ISSUER, "aud": AUDIENCE, "iat": 0, "exp": 2**40},
        DEV_KEY,
        algorithm="HS256",
    )
    with pytest.raises(Unauthenticated):
        VERIFIER.verify(token)


def test_scope_is_a_path_prefix_not_a_string_prefix():
    assert in_scope("210100/210112/hunnan-01", "210100")
    assert in_scope("210100/210112/hunnan-01", "210100/210112/hunnan-01")
    assert not in_scope("210100/210112/hunnan-011", "210100/210112/hunnan-01")
    assert not in_scope("2101001/x", "210100")


def test_the_database_scope_is_the_station_for_staff_and_nothing_for_organizations():
    supervisor = Principal(subject="s", name="市局", role=Role.supervisor, station="210100")
    assert supervisor.db_scope == "210100"
    org = Principal(subject="o", name="机构", role=Role.org, org="org-01")
    assert org.db_scope == ""


def test_production_refuses_the_development_key():
    with pytest.raises(ValidationError, match="development signing key"):
        Settings(environment="production")
    assert Settings(environment="production", auth_jwks_url="https://idp.example/jwks").environment == "production"
    assert Settings(environment="production", auth_signing_key="a-real-secret-" * 4).environment == "production"


@pytest.fixture
def jwks_server():
    """An identity provider's JWKS endpoint on loopback, serving one RSA public key."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    body = json.dumps({"keys": [{**jwk, "kid": "k1", "use": "sig", "alg": "RS256"}]}).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield key, f"http://127.0.0.1:{server.server_port}/jwks"
    server.shutdown()


def test_rs256_tokens_are_verified_against_the_identity_providers_jwks(jwks_server):
    key, url = jwks_server
    verifier = TokenVerifier(key="unused", issuer="https://idp.example", audience=AUDIENCE, jwks_url=url)
    claims = {
        "sub": "u1",
        "name": "周站长",
        "role": "head",
        "station": STATION,
        "iss": "https://idp.example",
        "aud": AUDIENCE,
        "iat": 1_700_000_000,
        "exp": 4_000_000_000,
    }
    token = jwt.encode(claims, key, algorithm="RS256", headers={"kid": "k1"})
    assert verifier.verify(token).station == STATION
    # An HS256 token signed with a guessable key is no RS256 token.
    with pytest.raises(Unauthenticated):
        verifier.verify(mint(role=Role.head, station=STATION, issuer="https://idp.example"))


def test_only_a_token_whose_key_is_not_resolved_yet_may_block_on_the_identity_provider(jwks_server):
    """shared.api verifies in the event loop unless `may_block`: then the JWKS fetch runs in the thread pool."""
    key, url = jwks_server
    verifier = TokenVerifier(key="unused", issuer="https://idp.example", audience=AUDIENCE, jwks_url=url)
    claims = {"sub": "u1", "role": "head", "station": STATION, "iss": "https://idp.example", "aud": AUDIENCE}
    claims |= {"iat": 1_700_000_000, "exp": 4_000_000_000}
    token = jwt.encode(claims, key, algorithm="RS256", headers={"kid": "k1"})
    assert verifier.may_block(token)
    assert verifier.verify(token).station == STATION
    assert not verifier.may_block(token)
    assert verifier.may_block(jwt.encode(claims, key, algorithm="RS256", headers={"kid": "k2"}))
    assert not verifier.may_block("not a token")
    assert not TokenVerifier(key="k" * 32, issuer="i", audience=AUDIENCE).may_block(token)
