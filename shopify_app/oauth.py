"""Install (OAuth authorization-code grant, PLATFORM.md section 1): the state nonce and the
consent URL, and the two steps the install routes take (`begin_install`, `finish_install`). The
code exchange and storing the shop's tokens are `shop_tokens.py`'s."""

import hashlib
import hmac
import logging
import secrets
from collections.abc import Callable
from datetime import timedelta
from urllib.parse import urlencode

from sqlalchemy import delete
from sqlalchemy.engine import Engine
from sqlmodel import col

from . import shop_tokens, token_grants
from .config import Settings
from .crypto import signer, unsign
from .db import rowcount, session_scope
from .errors import PageError
from .models import OAuthState, Shop, utcnow
from .shops import upsert_installed
from .token_grants import Grant
from .verify import VerificationError, sanitize_shop_domain, verify_query_hmac

__all__ = [
    "Grant",
    "authorize_url",
    "begin_install",
    "consume_state",
    "finish_install",
    "new_state",
    "store_shop",
]
log = logging.getLogger(__name__)
# The install steps log under the name they always had (the routes' module).
install_log = logging.getLogger("shopify_app.routes.auth")
STATE_COOKIE = "shopify_app_oauth_state"
STATE_PURPOSE = "oauth-state"
CANNOT_INSTALL = "Cannot install"


def _hash(nonce: str) -> str:
    return hashlib.sha256(nonce.encode()).hexdigest()


def new_state(engine: Engine, settings: Settings, shop: str) -> str:
    """A fresh nonce for `shop`, stored (hashed) until it is used or expires."""
    nonce = secrets.token_hex(32)
    now = utcnow()
    with session_scope(engine) as session:
        session.execute(delete(OAuthState).where(col(OAuthState.expires_at) < now))
        session.add(
            OAuthState(
                nonce_hash=_hash(nonce),
                shop=shop,
                expires_at=now + timedelta(seconds=settings.OAUTH_STATE_TTL),
            )
        )
    return nonce


def consume_state(engine: Engine, shop: str, nonce: str) -> bool:
    """True once for a live nonce issued to `shop`; it is gone afterwards."""
    with session_scope(engine) as session:
        result = session.execute(
            delete(OAuthState).where(
                col(OAuthState.nonce_hash) == _hash(nonce),
                col(OAuthState.shop) == shop,
                col(OAuthState.expires_at) >= utcnow(),
            )
        )
        return rowcount(result) == 1


def authorize_url(settings: Settings, shop: str, nonce: str) -> str:
    query = urlencode(
        {
            "client_id": settings.SHOPIFY_API_KEY,
            "scope": ",".join(settings.scopes),
            "redirect_uri": f"{settings.APP_URL}/auth/callback",
            "state": nonce,
        }
    )
    return settings.admin_url(shop, "/admin/oauth/authorize") + "?" + query


def store_shop(engine: Engine, settings: Settings, shop: str, grant: Grant) -> Shop:
    """Create or re-activate the shop with a grant already in hand (the local demo shop, tools); an
    exchange at Shopify goes through `shop_tokens.acquire_and_store`, which stores the same way."""
    with shop_tokens.locked(engine, shop) as connection:
        shop_id = upsert_installed(connection, shop, grant.scope)
        shop_tokens.store(connection, settings, shop_id, grant)
    log.info("shop installed", extra={"shop": shop, "scopes": grant.scope})
    with session_scope(engine) as session:
        row = session.get(Shop, shop_id)
        assert row is not None
        return row


def install_shop(raw: str | None) -> str:
    """The shop an install names, or PageError(400)."""
    shop = sanitize_shop_domain(raw)
    if shop is None:
        raise PageError(400, CANNOT_INSTALL, "The shop must be a your-store.myshopify.com address.")
    return shop


def begin_install(
    engine: Engine,
    settings: Settings,
    shop: str,
    query: list[tuple[str, str]],
    clock: Callable[[], float],
) -> tuple[str, str]:
    """(the consent URL, the state cookie's value). A link that carries an `hmac` must verify
    (PageError 400)."""
    if any(name == "hmac" for name, _ in query):
        try:
            verify_query_hmac(settings.SHOPIFY_API_SECRET, query, clock=clock)
        except VerificationError as exc:
            install_log.warning("install request refused", extra={"reason": str(exc)})
            raise PageError(
                400,
                CANNOT_INSTALL,
                "This install link is not signed by Shopify. Start again from your Shopify admin.",
            ) from None
    nonce = new_state(engine, settings, shop)
    cookie = signer(settings.SECRET_KEY, STATE_PURPOSE).dumps({"nonce": nonce, "shop": shop})
    return authorize_url(settings, shop, nonce), cookie


def _nonce_of(settings: Settings, cookie: str | None, shop: str) -> str | None:
    data = (
        unsign(settings.secret_keys, STATE_PURPOSE, cookie, settings.OAUTH_STATE_TTL)
        if cookie
        else None
    )
    if (
        not isinstance(data, dict)
        or data.get("shop") != shop
        or not isinstance(data.get("nonce"), str)
    ):
        return None
    return data["nonce"]


def _refused(status: int, reason: str, message: str) -> PageError:
    install_log.warning("install callback refused", extra={"reason": reason})
    return PageError(status, CANNOT_INSTALL, message)


def finish_install(
    engine: Engine,
    settings: Settings,
    shop: str,
    query: list[tuple[str, str]],
    cookie: str | None,
    clock: Callable[[], float],
) -> None:
    """Shopify's callback: its HMAC, the state nonce (this browser's, unused, live), the code
    exchanged for the shop's tokens and stored. PageError (400, 401, 502) says why not."""
    try:
        verify_query_hmac(settings.SHOPIFY_API_SECRET, query, clock=clock)
    except VerificationError as exc:
        raise _refused(
            401,
            str(exc),
            "This request is not signed by Shopify. Start again from your Shopify admin.",
        ) from None
    params = dict(query)
    state = params.get("state", "")
    nonce = _nonce_of(settings, cookie, shop)
    if nonce is None or not hmac.compare_digest(nonce.encode(), state.encode()):
        raise _refused(
            401,
            "state does not match this browser's",
            "This install link has expired or was opened in another browser. Start again.",
        )
    if not consume_state(engine, shop, nonce):
        raise _refused(
            401,
            "state already used or expired",
            "This install link was already used or has expired. Start again.",
        )
    code = params.get("code", "")
    if not code:
        raise PageError(400, CANNOT_INSTALL, "Shopify did not send an authorization code.")
    try:
        shop_tokens.acquire_and_store(
            engine, settings, shop, token_grants.code_grant(settings, code)
        )
    except (shop_tokens.TokenUnavailable, shop_tokens.TokenRefused) as exc:
        install_log.error("token exchange failed", extra={"reason": str(exc)})
        raise PageError(
            502,
            "Shopify did not answer",
            "We could not finish the install with Shopify. Please try again.",
        ) from None
