"""`python -m services.console`: the console on CONSOLE_HTTP_PORT (8000)."""

import uvicorn

from shared.observability import configure_logging

from .app import create_app
from .settings import Settings


def main() -> None:
    settings = Settings()
    configure_logging(settings.service_name, settings.log_level, settings.log_format)
    uvicorn.run(
        create_app(settings),
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
        proxy_headers=False,
        timeout_graceful_shutdown=10,
    )


main()
