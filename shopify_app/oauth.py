"""Install (OAuth authorization-code grant, PLATFORM.md section 1): the state nonce and the
consent URL. The code exchange and storing the shop's tokens are `shop_tokens.py`'s."""

import hashlib
import logging
import secrets
from datetime import timedelta
from urllib.parse import urlencode

from sqlalchemy import delete
from sqlalchemy.engine import Engine
from sqlmodel import col

from . import shop_tokens
from .config import Settings
from .db import rowcount, session_scope
from .models import OAuthState, Shop, utcnow
from .shops import upsert_installed
from .token_grants import Grant

__all__ = ["Grant", "authorize_url", "consume_state", "new_state", "store_shop"]
log = logging.getLogger(__name__)


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
