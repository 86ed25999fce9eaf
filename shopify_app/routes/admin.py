"""The embedded admin: its pages (`/`, `/app/…`) and its JSON interface (`/app/api/…`). Every
request is authenticated by a Shopify session token (`admin/session.py`); the shop is the token's."""

import functools
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from .. import events_out, jobs, unsent
from ..admin import (
    delivery_log,
    exports,
    listings,
    pages,
    preview,
    privacy_requests,
    sending,
    stats,
)
from ..admin import settings as shop_settings
from ..admin.session import AdminSession, NotInstalled, api_session, authenticate, on_page_load
from ..coerce import shopify_id
from ..db import session_scope
from ..errors import ApiError, PageError
from ..logs import tag_shop
from ..models import JobKind
from ..notify.channels import sendable_channels
from ..request_body import BodyTooLarge, NotJson, json_body, read_body
from ..verify import VerificationError, parse_query, sanitize_shop_domain, verify_query_hmac
from .responses import JSON, get_without_head, page

BODY_LIMIT = 65536


def framing(shop: str) -> dict[str, str]:
    """Shopify's rule for embedded apps: only the shop's own admin may frame the app's pages."""
    return {
        "Content-Security-Policy": f"frame-ancestors https://{shop} https://admin.shopify.com",
        "Referrer-Policy": "strict-origin-when-cross-origin",
    }


def framed_by(shop: str, response: Response) -> Response:
    response.headers.update(framing(shop))
    return response


# -- JSON interface ------------------------------------------------------------------------------
def api(method):
    """An `/app/api/…` endpoint: token first (401), then the body (PUT/POST JSON), then `method`
    (sync, in a thread) with the session."""

    @functools.wraps(method)
    async def endpoint(request: Request) -> Response:
        session = await api_session(request)
        body = None
        if request.method in ("PUT", "POST") and method.__name__ != "rotate_api_key":
            try:
                raw = await read_body(request, BODY_LIMIT)
            except BodyTooLarge:
                raise ApiError(413, "body: larger than 64 KB") from None
            try:
                body = json_body(raw or b"null")
            except NotJson as exc:
                raise ApiError(400, f"body: {exc}") from None
        result = await run_in_threadpool(method, request, session, body)
        return result if isinstance(result, Response) else JSON(result)

    return endpoint


def _engine(request: Request):
    return request.app.state.engine


@api
def get_settings(request: Request, session: AdminSession, body: Any) -> dict:
    with _engine(request).connect() as connection:
        return shop_settings.with_can_send(
            shop_settings.read(connection, session.shop_id), request.app.state.settings
        )


@api
def put_settings(request: Request, session: AdminSession, body: Any) -> dict:
    app_settings = request.app.state.settings
    # ApiError (400) before anything is written
    values = shop_settings.parse(body, app_settings.webhook_local_hosts)
    with _engine(request).begin() as connection:
        written = shop_settings.write(
            connection, session.shop_id, values, session.user, app_settings.secret_keys
        )
    return shop_settings.with_can_send(written, app_settings)


@api
def get_event_deliveries(request: Request, session: AdminSession, body: Any) -> dict:
    """The latest events sent to the shop's webhook and to Shopify Flow (events_out.py)."""
    with _engine(request).connect() as connection:
        return {"deliveries": events_out.recent(connection, session.shop_id)}


@api
def preview_settings(request: Request, session: AdminSession, body: Any) -> dict:
    values = preview.parse(body)
    with _engine(request).connect() as connection:
        return preview.render(
            connection, request.app.state.settings, session.shop_id, session.shop, values
        )


def days_param(request: Request) -> int:
    raw = request.query_params.get("days") or "30"
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 4 or not 1 <= int(raw) <= stats.MAX_DAYS:
        raise ApiError(400, f"days: must be a whole number from 1 to {stats.MAX_DAYS}")
    return int(raw)


@api
def get_stats(request: Request, session: AdminSession, body: Any) -> dict:
    days = days_param(request)
    return stats.compute(_engine(request), session.shop_id, days, request.app.state.clock())[0]


@api
def get_intents(request: Request, session: AdminSession, body: Any) -> dict:
    with _engine(request).connect() as connection:
        return listings.list_intents(connection, session.shop_id, request.query_params)


def _path_id(request: Request, param: str = "intent_id", what: str = "intent") -> int:
    """The row id in the path, or 404 naming it (what cannot be an id cannot be found)."""
    raw = request.path_params[param]
    if (found := shopify_id(raw)) is not None:
        return found
    raise ApiError(404, f"{what} {raw[:20]}: not found")


@api
def delete_intent(request: Request, session: AdminSession, body: Any) -> Response:
    """Delete an unsent signup of this shop, with its unsent messages (unsent.py says what unsent is)."""
    intent_id = _path_id(request)
    try:
        with _engine(request).begin() as connection:
            found = unsent.delete_unsent(connection, session.shop_id, [intent_id])
    except unsent.SentIntents:
        why = "only unsent signups can be deleted (this one has been notified)"
        raise ApiError(422, f"intent {intent_id}: {why}") from None
    if not found:
        raise ApiError(404, f"intent {request.path_params['intent_id'][:20]}: not found")
    return Response(status_code=204)


@api
def notify_intent(request: Request, session: AdminSession, body: Any) -> dict:
    """Notify now: release the signup's held alert, or write one (admin/sending.py)."""
    intent_id, allow_resend = _path_id(request), sending.parse_one(body)
    with _engine(request).begin() as connection:
        return sending.notify_one(connection, session.shop_id, intent_id, allow_resend)


@api
def notify_intents(request: Request, session: AdminSession, body: Any) -> dict:
    """Notify now for `intent_ids`, or `all_held`; all or nothing (admin/sending.py)."""
    ids, allow_resend = sending.parse_bulk(body)
    with _engine(request).begin() as connection:
        return sending.notify_many(connection, session.shop_id, ids, allow_resend)


@api
def send_test_alert(request: Request, session: AdminSession, body: Any) -> Response:
    """The setup guide's test: the shop's alert email, to the merchant's own address (a job: the
    worker looks the address up in Shopify and sends it through its email channel)."""
    if "email" not in sendable_channels(request.app.state.settings):
        raise ApiError(409, "This app cannot send email yet: SMTP_HOST and MAIL_FROM must be set.")
    with session_scope(_engine(request)) as db:
        jobs.enqueue(
            db, JobKind.test_alert, f"test-alert-{session.shop_id}", shop_id=session.shop_id
        )
    return JSON({"queued": True}, status_code=202)


@api
def get_demand(request: Request, session: AdminSession, body: Any) -> dict:
    with _engine(request).connect() as connection:
        return listings.list_demand(connection, session.shop_id, request.query_params)


@api
def get_deliveries(request: Request, session: AdminSession, body: Any) -> dict:
    with _engine(request).connect() as connection:
        return delivery_log.list_deliveries(connection, session.shop_id, request.query_params)


def _attachment(name: str) -> dict[str, str]:
    return {
        "Content-Disposition": f'attachment; filename="{name}"'
    }  # not cached: middleware.SecurityHeaders


def _csv(name: str, rows) -> StreamingResponse:
    return StreamingResponse(rows, media_type="text/csv; charset=utf-8", headers=_attachment(name))


@api
def export_signups(request: Request, session: AdminSession, body: Any) -> Response:
    return _csv(
        "signups.csv",
        exports.signups_csv(_engine(request), session.shop_id, session.shop, request.query_params),
    )


@api
def export_deliveries(request: Request, session: AdminSession, body: Any) -> Response:
    return _csv(
        "deliveries.csv",
        exports.deliveries_csv(
            _engine(request), session.shop_id, session.shop, request.query_params
        ),
    )


@api
def get_data_requests(request: Request, session: AdminSession, body: Any) -> dict:
    with _engine(request).connect() as connection:
        return privacy_requests.list_for_shop(connection, session.shop_id)


@api
def download_data_request(request: Request, session: AdminSession, body: Any) -> Response:
    request_id = _path_id(request, "request_id", "data request")
    try:
        with _engine(request).connect() as connection:
            found = privacy_requests.download(connection, session.shop_id, request_id)
    except privacy_requests.NotReady as exc:
        raise ApiError(409, str(exc)) from None
    if found is None:
        raise ApiError(404, f"data request {request.path_params['request_id'][:20]}: not found")
    name, document = found
    return Response(
        document, media_type="application/json; charset=utf-8", headers=_attachment(name)
    )


@api
def rotate_api_key(request: Request, session: AdminSession, body: Any) -> dict:
    from ..external_api import api_keys

    with _engine(request).begin() as connection:
        return {"api_key": api_keys.rotate(connection, session.shop)}


# -- Pages -----------------------------------------------------------------------------------------
async def home(request: Request) -> Response:
    if request.query_params.get("id_token"):
        return await admin_page(request, "dashboard")
    shop = sanitize_shop_domain(request.query_params.get("shop"))
    if shop is None and request.app.state.settings.is_development:
        return RedirectResponse(
            "/dev/storefront", status_code=302
        )  # a newcomer's first stop: the local storefront
    if shop is None:
        return page(200, "Back in stock alerts", "Open this app from your Shopify admin.")
    tag_shop(request, shop)
    settings = request.app.state.settings
    try:
        verify_query_hmac(
            settings.SHOPIFY_API_SECRET,
            parse_query(request.scope["query_string"]),
            clock=request.app.state.clock,
        )
    except VerificationError:
        raise PageError(
            401,
            "Back in stock alerts",
            "This link is not signed by Shopify. Open the app from your Shopify admin.",
            headers=framing(shop),
        ) from None
    # Shopify's own signed load without a session token: App Bridge fetches one and reloads with it.
    return bounce(request, shop)


def bounce(request: Request, shop: str | None, status: int = 200) -> Response:
    response = pages.render(
        "bounce.html",
        status=status,
        api_key=request.app.state.settings.SHOPIFY_API_KEY,
        shop=shop or "",
    )
    if shop:
        return framed_by(shop, response)
    response.headers["Content-Security-Policy"] = "frame-ancestors https://admin.shopify.com"
    return response


async def admin_page(request: Request, name: str | None = None) -> Response:
    name = name or request.path_params.get("page") or "dashboard"
    if name not in pages.PAGES:
        raise PageError(404, "Not found", "There is no such page in this app.")
    if not request.query_params.get("id_token"):
        # App Bridge's navigation (its nav menu) loads a page without a session token: the bounce
        # page gets one from App Bridge and reloads this page with it. It shows nothing of the shop,
        # and says 401: without App Bridge, no session.
        return bounce(request, sanitize_shop_domain(request.query_params.get("shop")), status=401)
    try:
        session = await authenticate(request, request.query_params.get("id_token"))
    except ApiError as exc:
        response = pages.unauthorized(request, exc.messages)
        response.headers["Content-Security-Policy"] = "frame-ancestors https://admin.shopify.com"
        return response
    except NotInstalled as exc:
        return framed_by(exc.shop, pages.install(request, exc.shop))
    session, missing = await on_page_load(request, session)
    if missing:
        return framed_by(session.shop, pages.install(request, session.shop, missing))
    try:
        response = await run_in_threadpool(pages.PAGES[name], request, session)
    except ApiError as exc:
        if exc.status != 400:
            raise
        response = pages.bad_filter(request, session, name, exc)
    return framed_by(session.shop, response)


# Every request may buy a shop its access token (token exchange, admin/session.py): a GET may
# write, so no route here answers HEAD.
routes = [
    get_without_head("/", home),
    get_without_head("/app", admin_page),
    get_without_head("/app/api/settings", get_settings),
    Route("/app/api/settings", put_settings, methods=["PUT"]),
    Route("/app/api/settings/preview", preview_settings, methods=["POST"]),
    get_without_head("/app/api/stats", get_stats),
    get_without_head("/app/api/intents", get_intents),
    Route("/app/api/intents/notify", notify_intents, methods=["POST"]),
    Route("/app/api/intents/{intent_id}/notify", notify_intent, methods=["POST"]),
    Route("/app/api/intents/{intent_id}", delete_intent, methods=["DELETE"]),
    get_without_head("/app/api/demand", get_demand),
    get_without_head("/app/api/deliveries", get_deliveries),
    get_without_head("/app/api/events/deliveries", get_event_deliveries),
    get_without_head("/app/api/export/signups.csv", export_signups),
    get_without_head("/app/api/export/deliveries.csv", export_deliveries),
    Route("/app/api/api-key", rotate_api_key, methods=["POST"]),
    Route("/app/api/test-alert", send_test_alert, methods=["POST"]),
    get_without_head("/app/api/data-requests", get_data_requests),
    get_without_head("/app/api/data-requests/{request_id}", download_data_request),
    get_without_head("/app/{page}", admin_page),
]
