"""Errors a use case or domain rule raises; pure, so domain.py may use them.

Every error people see carries Chinese first, English for operations.
"""


class DomainError(Exception):
    status = 409
    code = "conflict"

    def __init__(self, zh: str, en: str, *, field: str | None = None, code: str | None = None) -> None:
        super().__init__(en)
        self.zh = zh
        self.en = en
        self.field = field
        if code:
            self.code = code


class NotFound(DomainError):
    status = 404
    code = "not_found"


class InvalidTransition(DomainError):
    """The demand is not in a state that allows this step."""

    status = 409
    code = "invalid_state"


class Invalid(DomainError):
    """Input that is well-formed but breaks a rule (e.g. an unknown category code)."""

    status = 422
    code = "validation_error"


class Unauthenticated(DomainError):
    status = 401
    code = "unauthenticated"


class Forbidden(DomainError):
    status = 403
    code = "forbidden"


class TooManyRequests(DomainError):
    status = 429
    code = "rate_limited"
