"""Who is asking: a Shopify session token (App Bridge; PLATFORM.md section 1), from the `id_token`
query parameter on a page load or `Authorization: Bearer` on a JSON call. The shop is the token's
`dest`, never a `shop` parameter; a `shop` parameter naming another shop is refused."""

import logging
from dataclasses import dataclass

import httpx
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from .. import oauth
from ..models import Shop
from ..routes.responses import ApiError, tag_shop
from ..shops import INSTALLED, missing_scopes
from ..verify import VerificationError, decode_session_token, sanitize_shop_domain

shops = Shop.__table__
log = logging.getLogger(__name__)
TOKEN_EXCHANGE = {
    "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
    "subject_token_type": "urn:ietf:params:oauth:token-type:id_token",
    "requested_token_type": "urn:shopify:params:oauth:token-type:offline-access-token",
}


class NotInstalled(Exception):
    """A valid token for a shop that has not installed the app (or uninstalled it)."""

    def __init__(self, shop: str) -> None:
        super().__init__(shop)
        self.shop = shop


@dataclass(frozen=True)
class AdminSession:
    shop_id: int
    shop: str
    user: str | None     # the token's `sub`: the Shopify staff member
    token: str
    scopes: str = ""     # what the shop granted


def bearer(request: Request) -> str | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return value.strip() or None if scheme.lower() == "bearer" else None


def verify(request: Request, token: str | None) -> dict:
    """The token's claims, or ApiError 401 (missing, forged, expired, wrong audience, other shop)."""
    if not token:
        raise ApiError(401, "session token: missing; open the app from your Shopify admin")
    settings = request.app.state.settings
    try:
        claims = decode_session_token(token, api_key=settings.SHOPIFY_API_KEY, secret=settings.SHOPIFY_API_SECRET,
                                      clock=request.app.state.clock)
    except VerificationError as exc:
        raise ApiError(401, str(exc)) from None
    asked = request.query_params.get("shop")
    if asked is not None and sanitize_shop_domain(asked) != claims["shop"]:
        raise ApiError(401, "shop: the session token is for another shop")
    tag_shop(request, claims["shop"])
    return claims


def load(request: Request, claims: dict, token: str) -> AdminSession:
    """The installed shop the claims name (sync: call from a thread), else NotInstalled."""
    with request.app.state.engine.connect() as connection:
        row = connection.execute(select(shops.c.id, shops.c.scopes).where(shops.c.domain == claims["shop"], INSTALLED)).first()
    if row is None:
        raise NotInstalled(claims["shop"])
    sub = claims.get("sub")
    return AdminSession(shop_id=row.id, shop=claims["shop"], user=str(sub)[:64] if sub is not None else None, token=token,
                        scopes=row.scopes or "")


async def exchange_token(request: Request, shop: str, session_token: str) -> None:
    """Shopify's token exchange (PLATFORM.md section 1): a valid session token from a shop we hold
    no access token for (managed install, or a reinstall) buys its offline token, stored like an
    OAuth install's. Any failure is NotInstalled: the shop goes through the install flow instead."""
    settings = request.app.state.settings
    body = {"client_id": settings.SHOPIFY_API_KEY, "client_secret": settings.SHOPIFY_API_SECRET,
            "subject_token": session_token, **TOKEN_EXCHANGE}
    try:
        response = await request.app.state.http.post(settings.admin_url(shop, "/admin/oauth/access_token"), json=body,
                                                     timeout=settings.SHOPIFY_HTTP_TIMEOUT)
        data = response.json() if response.status_code == 200 else None
    except (httpx.HTTPError, ValueError) as exc:
        log.warning("token exchange failed", extra={"shop": shop, "error": type(exc).__name__})
        raise NotInstalled(shop) from None
    token = data.get("access_token") if isinstance(data, dict) else None
    if not isinstance(token, str) or not token:
        log.warning("token exchange refused", extra={"shop": shop, "status": response.status_code})
        raise NotInstalled(shop)
    scope = data.get("scope")
    grant = oauth.Grant(access_token=token, scope=scope if isinstance(scope, str) else "")
    await run_in_threadpool(oauth.store_shop, request.app.state.engine, settings, shop, grant)


async def authenticate(request: Request, token: str | None) -> AdminSession:
    """The session for a token (ApiError 401 if it is not valid); a shop we hold no access token
    for is given one by token exchange first; NotInstalled if that fails."""
    claims = verify(request, token)
    try:
        return await run_in_threadpool(load, request, claims, token)
    except NotInstalled:
        await exchange_token(request, claims["shop"], token)
        return await run_in_threadpool(load, request, claims, token)


async def with_scopes(request: Request, session: AdminSession) -> list[str]:
    """After the app asked for more scopes (a new version): the scopes the shop still has not
    granted. Token exchange first (under a managed install Shopify has asked the merchant already
    and the new token carries them); what is still missing needs the merchant's consent (OAuth)."""
    wanted = request.app.state.settings.scopes
    if not missing_scopes(session.scopes, wanted):
        return []
    try:
        await exchange_token(request, session.shop, session.token)
    except NotInstalled:
        return missing_scopes(session.scopes, wanted)
    renewed = await run_in_threadpool(load, request, verify(request, session.token), session.token)
    return missing_scopes(renewed.scopes, wanted)


async def api_session(request: Request) -> AdminSession:
    """For `/app/api/…`: the Bearer token's installed shop, or 401."""
    try:
        return await authenticate(request, bearer(request))
    except NotInstalled:
        raise ApiError(401, "shop: the app is not installed on this shop; open it from your Shopify admin to install it") from None
