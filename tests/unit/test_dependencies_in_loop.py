"""No request hops to FastAPI's thread pool (shared.api.in_the_loop says why)."""

import importlib
import inspect

import pytest
from fastapi.routing import APIRoute

from shared.contracts.topology import SERVICES


def _runs_in_the_loop(call) -> bool:
    # An instance with an async __call__ (e.g. the HTTPBearer scheme) runs in the loop too.
    return inspect.iscoroutinefunction(call) or (
        not inspect.isclass(call) and inspect.iscoroutinefunction(call.__call__)
    )


def _api_routes(routes):
    """Every APIRoute, also those of included routers (FastAPI >= 0.160 keeps them behind an `_IncludedRouter`)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif (included := getattr(route, "original_router", None)) is not None:
            yield from _api_routes(included.routes)


def _calls(dependant):
    for sub in dependant.dependencies:
        yield sub.call
        yield from _calls(sub)


@pytest.mark.parametrize("service", [*SERVICES, "console"])
def test_every_dependency_of_every_route_runs_in_the_event_loop(service):
    app_module = importlib.import_module(f"services.{service}.app")
    app = app_module.create_app() if service != "console" else app_module.create_app(app_module.Settings())
    routes = list(_api_routes(app.routes))
    assert len(routes) > 5
    offending = {
        f"{route.path}: {getattr(call, '__qualname__', call)}"
        for route in routes
        for call in _calls(route.dependant)
        if not _runs_in_the_loop(call)
    }
    assert not offending
    assert all(inspect.iscoroutinefunction(route.endpoint) for route in routes)
