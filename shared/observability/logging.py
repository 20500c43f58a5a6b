"""structlog JSON to stdout; the standard library's loggers (uvicorn, faststream, asyncpg) go through it too.

Tracebacks are plain, as the standard library prints them, in every format: never with local variables.
structlog's console renderer uses rich (or better-exceptions) when installed, which renders every frame's
locals: ~0.6 s of blocked event loop per exception (a service stalled for a minute after a PostgreSQL
restart), and locals may hold secrets. The JSON path's `format_exc_info` is the standard library's
`traceback.print_exception`, which shows no locals either.
"""

import logging
import sys

import structlog

_SHARED = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
]


def configure_logging(service: str, level: str = "INFO", fmt: str = "json") -> None:
    structlog.configure(
        processors=[*_SHARED, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*_SHARED, structlog.stdlib.ExtraAdder()],
        processors=[
            _add_service(service),
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            *(
                [structlog.dev.ConsoleRenderer(colors=False, exception_formatter=structlog.dev.plain_traceback)]
                if fmt == "console"
                else [structlog.processors.format_exc_info, structlog.processors.JSONRenderer(ensure_ascii=False)]
            ),
        ],
    )
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True


def _add_service(service: str):
    def processor(_logger, _method, event_dict):
        event_dict.setdefault("service", service)
        return event_dict

    return processor
