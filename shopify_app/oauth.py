"""Install (OAuth authorization-code grant, PLATFORM.md section 1): the state nonce, the code
exchange, and storing the shop with its (encrypted) offline access token."""

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlencode

import httpx
from sqlalchemy import delete, select
from sqlalchemy.engine import Engine

from .config import Settings
from .db import session_scope
from .keys import encrypt_token, reencrypt_token
from .models import OAuthState, Shop, utcnow

log = logging.getLogger(__name__)


class TokenExchangeError(Exception):
    """Shopify's token endpoint failed, timed out, or answered something unusable."""


@dataclass(frozen=True)
class Grant:
    access_token: str
    scope: str


def _hash(nonce: str) -> str:
    return hashlib.sha256(nonce.encode()).hexdigest()


def new_state(engine: Engine, settings: Settings, shop: str) -> str:
    """A fresh nonce for `shop`, stored (hashed) until it is used or expires."""
    nonce = secrets.token_hex(32)
    now = utcnow()
    with session_scope(engine) as session:
        session.execute(delete(OAuthState).where(OAuthState.expires_at < now))
        session.add(
            OAuthState(nonce_hash=_hash(nonce), shop=shop, expires_at=now + timedelta(seconds=settings.OAUTH_STATE_TTL))
        )
    return nonce


def consume_state(engine: Engine, shop: str, nonce: str) -> bool:
    """True once for a live nonce issued to `shop`; it is gone afterwards."""
    with session_scope(engine) as session:
        result = session.execute(
            delete(OAuthState).where(
                OAuthState.nonce_hash == _hash(nonce),
                OAuthState.shop == shop,
                OAuthState.expires_at >= utcnow(),
            )
        )
        return result.rowcount == 1


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


async def exchange_code(client: httpx.AsyncClient, settings: Settings, shop: str, code: str) -> Grant:
    url = settings.admin_url(shop, "/admin/oauth/access_token")
    body = {"client_id": settings.SHOPIFY_API_KEY, "client_secret": settings.SHOPIFY_API_SECRET, "code": code}
    try:
        response = await client.post(url, json=body, timeout=settings.SHOPIFY_HTTP_TIMEOUT)
    except httpx.HTTPError as exc:
        raise TokenExchangeError(f"token request failed: {type(exc).__name__}") from None
    if response.status_code != 200:
        raise TokenExchangeError(f"token endpoint answered {response.status_code}")
    try:
        data = response.json()
    except ValueError:
        raise TokenExchangeError("token endpoint answered something that is not JSON") from None
    token = data.get("access_token") if isinstance(data, dict) else None
    if not isinstance(token, str) or not token:
        raise TokenExchangeError("token endpoint gave no access_token")
    scope = data.get("scope")
    return Grant(access_token=token, scope=scope if isinstance(scope, str) else "")


def reencrypt_tokens(engine: Engine, settings: Settings) -> tuple[int, int]:
    """Every stored access token under the current SECRET_KEY (after a rotation, with the old key
    in SECRET_KEY_FALLBACKS). Returns (re-encrypted, unreadable with every key of the ring)."""
    done = unreadable = 0
    with session_scope(engine) as session:
        for row in session.execute(select(Shop).where(Shop.access_token_encrypted.is_not(None))).scalars():
            fresh = reencrypt_token(settings.secret_keys, row.access_token_encrypted)
            if fresh is None:
                unreadable += 1
                log.warning("stored token opens with no key of the ring", extra={"shop": row.domain})
                continue
            row.access_token_encrypted = fresh
            done += 1
    return done, unreadable


def store_shop(engine: Engine, settings: Settings, shop: str, grant: Grant) -> Shop:
    """Create or re-activate the shop with its new token (a re-install clears uninstalled_at)."""
    now = utcnow()
    with session_scope(engine) as session:
        row = session.execute(select(Shop).where(Shop.domain == shop)).scalar_one_or_none()
        if row is None:
            row = Shop(domain=shop, created_at=now)
            session.add(row)
        row.access_token_encrypted = encrypt_token(settings.SECRET_KEY, grant.access_token)
        row.scopes = grant.scope
        row.installed_at = now
        row.uninstalled_at = None
        row.updated_at = now
        session.flush()
        log.info("shop installed", extra={"shop": shop, "scopes": grant.scope})
        return row
