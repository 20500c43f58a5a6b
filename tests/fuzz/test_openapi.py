"""Property-based fuzzing of every service's OpenAPI document (schemathesis), with hostile data on purpose.

For every operation of the five services, generated requests — valid and invalid, with the tokens of
each role so they get past authentication — must never produce a server error, every reply must
match what the operation documents (every 4xx is the project's bilingual `Error`), and no reply may
show that a value the input rules refuse was accepted (tests/fuzz/checks.py).

Most cases are rewritten by tests/fuzz/hostile.py before they are sent: NUL and other controls, lone
surrogates, bidi and zero-width characters, LIKE wildcards, huge strings and numbers, dates at the
ends of the calendar — spliced into otherwise valid requests whose identifiers pass the services'
checks, so they reach the database.

Bounded and reproducible: `derandomize` makes the examples the same on every run; `FUZZ_EXAMPLES`
(default 10) sets how many per operation.
"""

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from tests.fuzz import checks, hostile
from tests.fuzz.conftest import APPS
from tests.support import auth

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "10"))
# A station's staff, a city supervisor, an organization and operations: every branch of authorization.
ROLES = {"head": auth.HEAD, "supervisor": auth.SUPERVISOR, "org": auth.ORG, "admin": auth.ADMIN}
CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance, *checks.CHECKS]


def _schema(service: str):
    app = APPS[service]
    schema = schemathesis.openapi.from_dict(app.openapi())
    schema.app = app  # requests go to the app in-process (ASGI), not over the network
    hostile.install(schema)
    return schema


schemas = schemathesis.pytest.parametrize(**{service: _schema(service) for service in APPS})


@schemas
@settings(
    max_examples=EXAMPLES, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck)
)
def test_no_server_error_and_replies_match_their_schema(case):
    statuses = {
        role: case.call_and_validate(headers=headers, checks=CHECKS).status_code for role, headers in ROLES.items()
    }
    # The fixed hostile variants go with a role the request got through with (best: a 2xx).
    through = [r for r, s in statuses.items() if 200 <= s < 300] or [
        r for r, s in statuses.items() if s not in (401, 403)
    ]
    if through and hostile.is_positive(case):
        for variant in hostile.VARIANTS.values():
            with hostile.applied(case, variant(case)):
                case.call_and_validate(headers=ROLES[through[0]], checks=CHECKS)
