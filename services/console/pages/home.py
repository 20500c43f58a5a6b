"""The start page: each role lands on the page it works from; the station registry for operations."""

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from shared.auth import Role

from ..web import Api, Signed, allowed, render

router = APIRouter()


@router.get("/")
async def home(caller: Signed) -> Response:
    return RedirectResponse("/stations" if caller.role is Role.admin else "/ledger", status_code=303)


@router.get("/stations")
async def stations(request: Request, api: Api, caller=allowed(Role.admin)) -> Response:
    """服务站名录: intake's registry, the tree of every station."""
    rows = sorted(await api.stations(caller.token), key=lambda s: s["station_id"])
    return render(request, "stations.html", stations=rows)
