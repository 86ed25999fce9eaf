"""Who is asking: a Shopify session token (App Bridge; PLATFORM.md section 1), from the `id_token`
query parameter on a page load or `Authorization: Bearer` on a JSON call. The shop is the token's
`dest`, never a `shop` parameter; a `shop` parameter naming another shop is refused."""

import logging
from dataclasses import dataclass

from sqlalchemy import select
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from .. import shop_tokens, token_grants
from ..errors import ApiError
from ..logs import tag_shop
from ..models import Shop
from ..shop_tokens import TokenKind
from ..shops import INSTALLED, missing_scopes
from ..verify import VerificationError, decode_session_token, sanitize_shop_domain

shops = Shop.__table__
log = logging.getLogger(__name__)


class NotInstalled(Exception):
    """A valid token for a shop that has not installed the app (or uninstalled it)."""

    def __init__(self, shop: str) -> None:
        super().__init__(shop)
        self.shop = shop


@dataclass(frozen=True)
class AdminSession:
    shop_id: int
    shop: str
    user: str | None  # the token's `sub`: the Shopify staff member
    token: str
    scopes: str = ""  # what the shop granted
    token_kind: TokenKind = (
        TokenKind.expiring
    )  # of the shop's offline token; "reconnect needed" shows on the dashboard


def bearer(request: Request) -> str | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return value.strip() or None if scheme.lower() == "bearer" else None


def verify(request: Request, token: str | None) -> dict:
    """The token's claims, or ApiError 401 (missing, forged, expired, wrong audience, other shop)."""
    if not token:
        raise ApiError(401, "session token: missing; open the app from your Shopify admin")
    settings = request.app.state.settings
    try:
        claims = decode_session_token(
            token,
            api_key=settings.SHOPIFY_API_KEY,
            secret=settings.SHOPIFY_API_SECRET,
            clock=request.app.state.clock,
        )
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
        row = connection.execute(
            select(
                shops.c.id,
                shops.c.scopes,
                shops.c.access_token_expires_at,
                shops.c.reconnect_needed_at,
            ).where(shops.c.domain == claims["shop"], INSTALLED)
        ).first()
    if row is None:
        raise NotInstalled(claims["shop"])
    sub = claims.get("sub")
    kind = (
        TokenKind.reconnect_needed
        if row.reconnect_needed_at is not None
        else TokenKind.expiring
        if row.access_token_expires_at is not None
        else TokenKind.non_expiring
    )
    return AdminSession(
        shop_id=row.id,
        shop=claims["shop"],
        user=str(sub)[:64] if sub is not None else None,
        token=token,
        scopes=row.scopes or "",
        token_kind=kind,
    )


async def exchange_token(request: Request, shop: str, session_token: str) -> None:
    """Shopify's token exchange (PLATFORM.md section 1): a valid session token buys the shop an
    expiring offline token (with its refresh token), stored like an OAuth install's, under the
    shop's token lock. Any failure is NotInstalled: the shop goes through the install flow instead."""
    settings = request.app.state.settings
    try:
        await run_in_threadpool(
            shop_tokens.acquire_and_store,
            request.app.state.engine,
            settings,
            shop,
            token_grants.id_token_grant(settings, session_token),
        )
    except (shop_tokens.TokenUnavailable, shop_tokens.TokenRefused) as exc:
        log.warning("token exchange failed", extra={"shop": shop, "reason": str(exc)})
        raise NotInstalled(shop) from None


async def authenticate(request: Request, token: str | None) -> AdminSession:
    """The session for a token (ApiError 401 if it is not valid); a shop we hold no access token
    for is given one by token exchange first; NotInstalled if that fails."""
    claims = verify(request, token)
    assert token is not None  # verify refuses a missing token
    try:
        return await run_in_threadpool(load, request, claims, token)
    except NotInstalled:
        await exchange_token(request, claims["shop"], token)
        return await run_in_threadpool(load, request, claims, token)


async def on_page_load(request: Request, session: AdminSession) -> tuple[AdminSession, list[str]]:
    """What a page load (with a session token) fixes by token exchange: a shop whose token is
    non-expiring or was refused (Shopify takes only expiring offline tokens from 2027-01-01), and a
    shop that granted fewer scopes than this version asks (under a managed install Shopify has
    asked the merchant already and the new token carries them). Returns the session as it is now
    and the scopes still missing, which need the merchant's consent (OAuth)."""
    wanted = request.app.state.settings.scopes
    if session.token_kind == TokenKind.expiring and not missing_scopes(session.scopes, wanted):
        return session, []
    try:
        await exchange_token(request, session.shop, session.token)
    except NotInstalled:
        # A non-expiring token still works until Shopify stops taking it (the worker migrates it
        # too); a refused one leaves the dashboard saying "reconnect needed".
        return session, missing_scopes(session.scopes, wanted)
    renewed = await run_in_threadpool(load, request, verify(request, session.token), session.token)
    return renewed, missing_scopes(renewed.scopes, wanted)


async def api_session(request: Request) -> AdminSession:
    """For `/app/api/…`: the Bearer token's installed shop, or 401."""
    try:
        return await authenticate(request, bearer(request))
    except NotInstalled:
        raise ApiError(
            401,
            "shop: the app is not installed on this shop; open it from your Shopify admin to install it",
        ) from None
