"""Tracebacks in the logs are plain: no local variables, in every format.

Rendering locals (rich / better-exceptions, structlog's console default) costs ~0.6 s per exception and can
print secrets held in local variables (tokens, passwords in a DSN).
"""

import json
import logging

import pytest
import structlog

from shared.observability.logging import configure_logging

LOCAL_VALUE = "local-value-5e1f9c"


def _fail_with_a_local() -> None:
    secret_local = LOCAL_VALUE  # noqa: F841 - what a locals-rendering traceback would print
    raise ValueError("the failure under test")


@pytest.fixture(autouse=True)
def _restore_logging():
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.reset_defaults()


@pytest.mark.parametrize("fmt", ["console", "json"])
@pytest.mark.parametrize("via", ["structlog", "stdlib"])  # our own loggers, and uvicorn/faststream's
def test_exception_is_logged_with_a_plain_traceback_and_no_locals(fmt, via, capsys):
    configure_logging("test-service", "INFO", fmt)
    logger = structlog.get_logger("test.logging") if via == "structlog" else logging.getLogger("test.logging")
    try:
        _fail_with_a_local()
    except ValueError:
        logger.exception("handler crashed")

    out = capsys.readouterr().out
    assert "handler crashed" in out
    assert "Traceback (most recent call last)" in out
    assert "in _fail_with_a_local" in out
    assert "ValueError: the failure under test" in out
    assert LOCAL_VALUE not in out
    assert "secret_local =" not in out
    if fmt == "json":
        [line] = out.splitlines()
        record = json.loads(line)
        assert record["service"] == "test-service"
        assert "Traceback (most recent call last)" in record["exception"]
