"""The enterprise's pages: no account, phone first, under /public/ — the same paths as the services' own links.

Intake builds status links as `<INTAKE_PUBLIC_URL>/public/status/<token>` and evaluation rating links as
`<EVALUATION_PUBLIC_URL>/public/ratings/<token>`; with both public addresses set to the console's, every link
already printed on a notice, shown to a clerk or sent by SMS opens these pages. The services' public JSON endpoints
stay as they are: the console calls them with no token (the link is the only authority) and passes the
enterprise's address on (X-Forwarded-For), so their per-address rate limits count enterprises, not the console.

- /public/submit?station=<id>        网上申报: the catalogue, the enterprise, the need; field errors at their fields
- /public/status/<token>             查询办理进度: 受理 → 办理中 → 办结 → 评价 → 归档 with their moments, rounds, what
                                     is still needed; after 办结, until rated, 去评价 (the round's own one-time link)
- /public/status/<token>/receipt     申报成功: the tracking number, the private link and its QR code
- /public/status/<token>/notice.pdf  受理通知书 (the materials still needed, 一次告知)
- /public/status/<token>/complaints  网上投诉 and the answers
- /public/ratings/<token>            服务评价 through the one-time link

Nothing here links to a staff page, and no page needs a session; the forms still carry the anonymous session's
CSRF token (web.check_csrf runs on every route, as on the sign-in page). Every failure is a page of this layout with
a way on (web.public_error): a form whose token has expired (the page stayed open past the session's idle time) or
that a service could not take comes back with what was typed, to send again; a link that is no more says what that
means; any other address under /public/ is the enterprise's not-found page, never the staff's sign-in.
"""

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from shared.auth import Role, mint

from ..client import ServiceError, Services
from ..enterprise import (
    COMPLAINT_FIELDS,
    COMPLAINT_SUBJECTS,
    ENDING_LABELS,
    PUBLIC_DEMAND_FIELDS,
    PUBLIC_TEXT_FIELDS,
    STATION,
    Step,
    cn_day,
    cn_moment,
    complaint_body,
    needed,
    public_demand_body,
    qr_data_uri,
    steps,
    token_of,
    valid_token,
)
from ..forms import RATING_FIELDS, STAR_ITEMS, TECHNICIAN_ITEMS, Errors, place_errors, rating_body
from ..web import Api, csrf_refused_shows, flash, public_error, render, services, settings_of

router = APIRouter()
OVERALL_LABELS = {"very_satisfied": "非常满意", "satisfied": "满意", "average": "一般", "dissatisfied": "不满意"}
DOCUMENT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; font-src data:; frame-ancestors 'none'"
BUSY = "您的操作过于频繁，系统暂时无法受理。请稍候几分钟再试；如有急事，请直接致电服务站。"
# The session ended while the form was open (or the browser lost its cookie): nothing was sent, the form comes back.
EXPIRED = (
    "页面停留时间较长，已经过期，本次提交未被受理。您填写的内容已保留，请核对后再次提交。"
    "（如果反复出现此提示，请确认浏览器没有禁用 Cookie。）"
)
UNAVAILABLE = "系统暂时无法受理，本次提交未能完成。您填写的内容已保留，请稍后再次提交；如有急事，请直接致电服务站。"


def _client(request: Request) -> str | None:
    """The enterprise's address for the services' limits: the chain so far, then the peer (as a proxy appends)."""
    peer = request.client.host if request.client else None
    chain = request.headers.get("x-forwarded-for")
    return ", ".join(a for a in (chain, peer) if a) or None


def _public_url(request: Request, path: str) -> str:
    return str(settings_of(request).public_url).rstrip("/") + path


def _page(request: Request, name: str, status_code: int = 200, **context) -> Response:
    return render(request, f"public/{name}", status_code=status_code, cn_day=cn_day, cn_moment=cn_moment, **context)


def _gone(request: Request, kind: str) -> Response:
    """An unknown, expired or used link: one page for all (the services answer them alike, so links cannot be
    probed), saying what each case means and whom to ask."""
    return _page(request, "gone.html", status_code=404, kind=kind)


def _problem(request: Request, exc: ServiceError, kind: str) -> Response:
    """A service's refusal as the enterprise's page: 404 is the link's end, 429 a kind word, the rest a pause; each
    with a way on (the same page again)."""
    if exc.status == 404:
        return _gone(request, kind)
    if exc.status == 429:
        return public_error(request, 429, "请稍后再试", BUSY)
    if exc.status >= 500:
        return public_error(request, 503, "服务暂不可用", "系统暂时无法处理，请稍后再试。")
    return public_error(request, exc.status, "请求无法处理", exc.message)


def _no_station(request: Request, message: str) -> Response:
    return public_error(request, 404, "未找到该服务站", message, back="/public/submit", back_label="选择服务站")


# --- 网上申报 ---


async def _stations(api: Services, request: Request) -> list[dict] | None:
    """The station registry, to name the station the form is for. Intake answers it to signed-in people only, so in
    development the console reads it with a short token of its own (as the sign-in page does); in production, where
    it holds no such key, the form goes by the station id in its link and names no station (see the note)."""
    settings = settings_of(request)
    if settings.production:
        return None
    token = mint(
        role=Role.admin,
        subject="console-directory",
        name="工作台",
        key=settings.auth_signing_key,
        issuer=settings.auth_issuer,
        audience=settings.auth_audience,
        ttl=timedelta(minutes=5),
    )
    try:
        return await api.stations(token)
    except ServiceError:
        return None


def _categories(catalogue: list[dict]) -> list[dict]:
    groups: dict[str, dict] = {}
    for entry in catalogue:
        group = groups.setdefault(
            entry["category"], {"code": entry["category"], "label": entry["category_label"], "items": []}
        )
        group["items"].append(entry)
    return list(groups.values())


def _values(form: Mapping | None) -> dict:
    if form is None:
        return {"items": set(), "idempotency_key": str(uuid.uuid4())}
    values = {name: str(form.get(name) or "") for name in PUBLIC_TEXT_FIELDS}
    values["items"] = set(form.getlist("items"))  # type: ignore[attr-defined]
    values["idempotency_key"] = str(form.get("idempotency_key") or "") or str(uuid.uuid4())
    return values


async def _form(
    request: Request,
    api: Services,
    station_id: str,
    values: dict,
    errors: Errors | None = None,
    status_code: int = 200,
) -> Response:
    registry = await _stations(api, request)
    station = next((s for s in registry or [] if s["station_id"] == station_id), None)
    if registry is not None and station is None:
        return _no_station(request, "申报链接中的服务站不存在。请使用服务站提供的申报链接或二维码，或致电服务站咨询。")
    try:
        catalogue: list[dict] | None = await api.catalogue(station_id)
    except ServiceError as exc:
        if exc.status == 404:
            return _no_station(request, "申报链接中的服务站不存在。请使用服务站提供的申报链接或二维码。")
        if errors is None:  # shown for the first time: nothing typed to keep
            return _problem(request, exc, "status")
        catalogue = None  # the form comes back without the catalogue, the chosen items kept (submit.html)
    return _page(
        request,
        "submit.html",
        status_code=status_code,
        station_id=station_id,
        station=station,
        categories=None if catalogue is None else _categories(catalogue),
        values=values,
        errors=errors or Errors(),
    )


@router.get("/public/submit")
async def submit_form(request: Request, api: Api, station: str | None = None) -> Response:
    if station and STATION.fullmatch(station):
        return await _form(request, api, station, _values(None))
    registry = await _stations(api, request)
    return _page(request, "stations.html", stations=sorted(registry or [], key=lambda s: s["station_id"]))


async def _submit_again(request: Request) -> Response:
    """The submission form refused for its expired token: shown again as it was filled in, nothing sent."""
    form = await request.form()
    station_id = str(form.get("station") or "")
    if not STATION.fullmatch(station_id):
        return _no_station(request, "请使用服务站提供的申报链接。")
    return await _form(request, await services(request), station_id, _values(form), Errors(general=[EXPIRED]), 403)


@router.post("/public/submit")
@csrf_refused_shows(_submit_again)
async def submit(request: Request, api: Api) -> Response:
    form = await request.form()
    station_id = str(form.get("station") or "")
    if not STATION.fullmatch(station_id):
        return _no_station(request, "请使用服务站提供的申报链接。")
    values = _values(form)
    try:
        done = await api.public_submit(
            station_id, public_demand_body(form), values["idempotency_key"], _client(request)
        )
    except ServiceError as exc:
        if exc.status == 404:
            return _no_station(request, "申报链接中的服务站不存在。请使用服务站提供的申报链接或二维码。")
        if exc.status == 429:
            errors = Errors(general=[BUSY])
        elif exc.status in (409, 422):
            if exc.status == 409:
                values["idempotency_key"] = str(uuid.uuid4())  # that key belongs to another submission now
            errors = place_errors(exc.field_errors(), PUBLIC_DEMAND_FIELDS, exc.message)
        else:  # the same key again: if intake did take it and only its answer was lost, it answers that demand
            errors = Errors(general=[UNAVAILABLE if exc.status >= 500 else exc.message])
        status = exc.status if exc.status < 500 else 503
        return await _form(request, api, station_id, values, errors, status_code=status)
    token = token_of(done["status_url"])
    if token is None:  # intake builds its links from a token it validates the same way: not expected
        raise ServiceError(502, "系统返回的查询链接无法识别，请稍后再试", "status url not understood", service="intake")
    return RedirectResponse(f"/public/status/{token}/receipt", status_code=303)


# --- the private status link ---

# The page's five steps (enterprise.STEP_LABELS) and the steps intake dates, in the same order: 办理中 starts at 派单.
STEP_KEYS = ("submitted", "assigned", "resolved", "rated", "archived")


@dataclass(frozen=True)
class DatedStep:
    step: Step
    at: str  # the China date and time intake gives for it (cn_moment), or ""
    at_iso: str  # the same instant for <time datetime>


def dated_steps(status: dict) -> list[DatedStep]:
    """The five steps, each with the moment intake knows of it (its `steps`: 受理, 派单, 办结 and 评价 of the current
    round, 归档). 受理's note, which repeats the 受理 time, goes where the moment is shown."""
    moments = {s.get("key"): s.get("at") for s in status.get("steps") or [] if isinstance(s, dict)}
    dated = []
    for key, step in zip(STEP_KEYS, steps(status), strict=True):
        at = moments.get(key)
        if at and key == "submitted":
            step = Step(step.label, step.state, "")
        dated.append(DatedStep(step, cn_moment(at), str(at or "")))
    return dated


def rating_path(status: dict) -> str | None:
    """The console's own rating page for the link intake offers (`rating_url`, made by evaluation at its public
    address): /public/ratings/<token>, whichever host the URL names; None without a link, or with one not understood."""
    url = status.get("rating_url")
    if not isinstance(url, str):
        return None
    path = urlsplit(url).path
    token = token_of(path)
    if token is None or not path.endswith(f"/public/ratings/{token}"):
        return None
    return f"/public/ratings/{token}"


@router.get("/public/status/{token}")
async def status_page(request: Request, token: str, api: Api) -> Response:
    if not valid_token(token):
        return _gone(request, "status")
    try:
        status = await api.public_status(token, _client(request))
    except ServiceError as exc:
        return _problem(request, exc, "status")
    rating = rating_path(status)
    return _page(
        request,
        "status.html",
        token=token,
        status=status,
        steps=dated_steps(status),
        needed=needed(status, rate_here=rating is not None),
        rating=rating,
        ending_labels=ENDING_LABELS,
    )


@router.get("/public/status/{token}/receipt")
async def receipt(request: Request, token: str, api: Api) -> Response:
    """申报成功: what to keep — the tracking number and the private link, with its QR code for the phone."""
    if not valid_token(token):
        return _gone(request, "status")
    try:
        status = await api.public_status(token, _client(request))
    except ServiceError as exc:
        return _problem(request, exc, "status")
    link = _public_url(request, f"/public/status/{token}")
    return _page(request, "receipt.html", token=token, status=status, link=link, qr=qr_data_uri(link))


@router.get("/public/status/{token}/notice.pdf")
async def notice(request: Request, token: str, api: Api) -> Response:
    if not valid_token(token):
        return _gone(request, "status")
    try:
        document = await api.public_notice(token, _client(request))
    except ServiceError as exc:
        return _problem(request, exc, "status")
    return Response(
        document.content,
        media_type=document.media_type,
        headers={"Content-Disposition": 'inline; filename="notice.pdf"', "Content-Security-Policy": DOCUMENT_CSP},
    )


# --- 网上投诉 through the status link ---


async def _complaints_page(
    request: Request,
    api: Services,
    token: str,
    values: dict,
    errors: Errors | None = None,
    status_code: int = 200,
) -> Response:
    """The form and the complaints filed through this link, with one call: intake counts every call of an address
    against one limit, and a page that just said "too many" (or that the form expired) must not fail for the same
    reason."""
    try:
        filed: list[dict] | None = await api.public_complaints(token, _client(request))
    except ServiceError as exc:
        if not errors or exc.status == 404:
            return _problem(request, exc, "status")
        filed = None  # a form sent back (too many, expired, a service away): it and what was typed still show
    return _page(
        request,
        "complaints.html",
        status_code=status_code,
        token=token,
        complaints=filed,
        subjects=COMPLAINT_SUBJECTS,
        values=values,
        errors=errors or Errors(),
    )


@router.get("/public/status/{token}/complaints")
async def complaints_page(request: Request, token: str, api: Api) -> Response:
    if not valid_token(token):
        return _gone(request, "status")
    return await _complaints_page(request, api, token, {"subject": "station", "idempotency_key": str(uuid.uuid4())})


def _complaint_values(form: Mapping) -> dict:
    values = {name: str(form.get(name) or "") for name in COMPLAINT_FIELDS}
    values["idempotency_key"] = str(form.get("idempotency_key") or "") or str(uuid.uuid4())
    return values


async def _complain_again(request: Request) -> Response:
    """The complaint form refused for its expired token: shown again with what was typed, nothing filed."""
    token = request.path_params.get("token", "")
    if not valid_token(token):
        return _gone(request, "status")
    values = _complaint_values(await request.form())
    return await _complaints_page(request, await services(request), token, values, Errors(general=[EXPIRED]), 403)


@router.post("/public/status/{token}/complaints")
@csrf_refused_shows(_complain_again)
async def complain(request: Request, token: str, api: Api) -> Response:
    if not valid_token(token):
        return _gone(request, "status")
    form = await request.form()
    values = _complaint_values(form)
    try:
        done = await api.public_complain(token, complaint_body(form), values["idempotency_key"], _client(request))
    except ServiceError as exc:
        if exc.status == 429:
            # Each complaint reaches the station's head: one link files only so many a day, whoever asks.
            message = "提交过于频繁：为保证每件投诉都得到认真处理，同一查询链接在一段时间内可提交的投诉数量有限。"
            message += "您已提交的投诉会照常办理，请稍后再试；如有急事，请直接致电服务站。"
            errors = Errors(general=[message])
        elif exc.status in (409, 422):
            if exc.status == 409:
                values["idempotency_key"] = str(uuid.uuid4())
            errors = place_errors(exc.field_errors(), COMPLAINT_FIELDS, exc.message)
        elif exc.status >= 500:
            errors = Errors(general=[UNAVAILABLE])
        else:
            return _problem(request, exc, "status")
        status = exc.status if exc.status < 500 else 503
        return await _complaints_page(request, api, token, values, errors, status_code=status)
    flash(request, "ok", f"投诉已提交，投诉编号 {done['complaint_no']}。服务站会尽快调查处理，答复将显示在本页。")
    return RedirectResponse(f"/public/status/{token}/complaints", status_code=303)


# --- 服务评价 through the one-time link ---


def _rating_page(
    request: Request, token: str, survey: dict, values: dict, errors: Errors | None = None, status_code: int = 200
) -> Response:
    return _page(
        request,
        "rating.html",
        status_code=status_code,
        token=token,
        survey=survey,
        values=values,
        errors=errors or Errors(),
        star_items=[
            (n, i, label) for n, i, label in STAR_ITEMS if survey["technician_items_apply"] or n not in TECHNICIAN_ITEMS
        ],
        overall_labels=OVERALL_LABELS,
    )


@router.get("/public/ratings/{token}")
async def rating_form(request: Request, token: str, api: Api) -> Response:
    if not valid_token(token):
        return _gone(request, "rating")
    try:
        survey = await api.public_rating_link(token, _client(request))
    except ServiceError as exc:
        return _problem(request, exc, "rating")
    return _rating_page(request, token, survey, {})


def _shown_survey(form: Mapping) -> dict:
    """What the rating page showed, carried in its form: asking evaluation again would spend the link's own rate
    limit."""
    return {
        "tracking_no": str(form.get("tracking_no") or ""),
        "round": str(form.get("round") or "1"),
        "technician_items_apply": form.get("technician_items") == "yes",
    }


async def _rate_again(request: Request) -> Response:
    """The rating form refused for its expired token: shown again as it was filled in, nothing sent (the link is
    still unused)."""
    token = request.path_params.get("token", "")
    if not valid_token(token):
        return _gone(request, "rating")
    form = await request.form()
    values = {name: str(form.get(name) or "") for name in RATING_FIELDS}
    return _rating_page(request, token, _shown_survey(form), values, Errors(general=[EXPIRED]), status_code=403)


@router.post("/public/ratings/{token}")
@csrf_refused_shows(_rate_again)
async def rate(request: Request, token: str, api: Api) -> Response:
    if not valid_token(token):
        return _gone(request, "rating")
    form = await request.form()
    survey = _shown_survey(form)
    try:
        await api.public_rate(token, rating_body(form, survey["technician_items_apply"]), _client(request))
    except ServiceError as exc:
        if exc.status == 422:
            values = {name: str(form.get(name) or "") for name in RATING_FIELDS}
            errors = place_errors(exc.field_errors(), RATING_FIELDS, exc.message)
            return _rating_page(request, token, survey, values, errors, status_code=422)
        if exc.status == 429 or exc.status >= 500:  # the link is still unused: the form comes back as filled in
            values = {name: str(form.get(name) or "") for name in RATING_FIELDS}
            busy = Errors(general=[BUSY if exc.status == 429 else UNAVAILABLE])
            return _rating_page(request, token, survey, values, busy, status_code=429 if exc.status == 429 else 503)
        return _problem(request, exc, "rating")
    flash(request, "ok", f"感谢您的评价！跟踪单号 {survey['tracking_no']} 的评价已提交。")
    return RedirectResponse("/public/rated", status_code=303)


@router.get("/public/rated")
async def rated(request: Request) -> Response:
    return _page(request, "rated.html")


@router.get("/public/{rest:path}")
async def nothing_else(request: Request, rest: str) -> Response:
    """Any other /public/ address: the enterprise's not-found page, not the console's (which leads to sign-in)."""
    return public_error(request, 404, "未找到", "您打开的页面不存在，请检查链接是否完整。")
