"""`GET /auth` starts an install; `GET /auth/callback` finishes it (PLATFORM.md section 1)."""

import hmac
import logging

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from .. import oauth, shop_tokens, token_grants
from ..keys import signer, unsign
from ..verify import VerificationError, parse_query, sanitize_shop_domain, verify_query_hmac
from .responses import get_without_head, page, tag_shop

log = logging.getLogger(__name__)
STATE_COOKIE = "shopify_app_oauth_state"
STATE_PURPOSE = "oauth-state"


async def begin(request: Request) -> Response:
    settings = request.app.state.settings
    items = parse_query(request.scope["query_string"])
    shop = sanitize_shop_domain(request.query_params.get("shop"))
    if shop is None:
        return page(400, "Cannot install", "The shop must be a your-store.myshopify.com address.")
    tag_shop(request, shop)
    if "hmac" in request.query_params:
        try:
            verify_query_hmac(settings.SHOPIFY_API_SECRET, items, clock=request.app.state.clock)
        except VerificationError as exc:
            log.warning("install request refused", extra={"reason": str(exc)})
            return page(
                400,
                "Cannot install",
                "This install link is not signed by Shopify. Start again from your Shopify admin.",
            )
    nonce = await run_in_threadpool(oauth.new_state, request.app.state.engine, settings, shop)
    response = RedirectResponse(oauth.authorize_url(settings, shop, nonce), status_code=302)
    response.set_cookie(
        STATE_COOKIE,
        signer(settings.SECRET_KEY, STATE_PURPOSE).dumps({"nonce": nonce, "shop": shop}),
        max_age=settings.OAUTH_STATE_TTL,
        path="/auth",
        httponly=True,
        secure=settings.app_is_https,
        samesite="lax",
    )
    return response


def _state_from_cookie(request: Request, shop: str) -> str | None:
    settings = request.app.state.settings
    raw = request.cookies.get(STATE_COOKIE)
    data = (
        unsign(settings.secret_keys, STATE_PURPOSE, raw, settings.OAUTH_STATE_TTL) if raw else None
    )
    if (
        not isinstance(data, dict)
        or data.get("shop") != shop
        or not isinstance(data.get("nonce"), str)
    ):
        return None
    return data["nonce"]


async def callback(request: Request) -> Response:
    settings = request.app.state.settings
    items = parse_query(request.scope["query_string"])
    shop = sanitize_shop_domain(request.query_params.get("shop"))
    if shop is None:
        return page(400, "Cannot install", "The shop must be a your-store.myshopify.com address.")
    tag_shop(request, shop)
    try:
        verify_query_hmac(settings.SHOPIFY_API_SECRET, items, clock=request.app.state.clock)
    except VerificationError as exc:
        log.warning("install callback refused", extra={"reason": str(exc)})
        return page(
            401,
            "Cannot install",
            "This request is not signed by Shopify. Start again from your Shopify admin.",
        )
    state = request.query_params.get("state", "")
    nonce = _state_from_cookie(request, shop)
    if nonce is None or not hmac.compare_digest(nonce.encode(), state.encode()):
        log.warning(
            "install callback refused", extra={"reason": "state does not match this browser's"}
        )
        return page(
            401,
            "Cannot install",
            "This install link has expired or was opened in another browser. Start again.",
        )
    if not await run_in_threadpool(oauth.consume_state, request.app.state.engine, shop, nonce):
        log.warning("install callback refused", extra={"reason": "state already used or expired"})
        return page(
            401, "Cannot install", "This install link was already used or has expired. Start again."
        )
    code = request.query_params.get("code", "")
    if not code:
        return page(400, "Cannot install", "Shopify did not send an authorization code.")
    try:
        await run_in_threadpool(
            shop_tokens.acquire_and_store,
            request.app.state.engine,
            settings,
            shop,
            token_grants.code_grant(settings, code),
        )
    except (shop_tokens.TokenUnavailable, shop_tokens.TokenRefused) as exc:
        log.error("token exchange failed", extra={"reason": str(exc)})
        return page(
            502,
            "Shopify did not answer",
            "We could not finish the install with Shopify. Please try again.",
        )
    response = RedirectResponse(
        settings.admin_url(shop, f"/admin/apps/{settings.SHOPIFY_API_KEY}"), status_code=302
    )
    response.delete_cookie(STATE_COOKIE, path="/auth")
    return response


routes = [
    get_without_head("/auth", begin),  # stores a state nonce
    get_without_head("/auth/callback", callback),  # spends the state and the code
]
