"""A shop's offline access token, from grant to refresh (PLATFORM.md section 1, "Expiring offline
access tokens").

Every way of getting a token for a shop (the install's code exchange, the admin's ID-token exchange,
the migration of a non-expiring token, a refresh) posts to Shopify's token endpoint while holding
the shop's token lock, and stores what it got before letting go: a PostgreSQL advisory lock keyed by
the shop, or SQLite's write lock. So across every `serve` and `worker` process there is one
acquisition at a time per shop, the token stored is the last one issued, and a process that waited
reads the token again instead of spending the refresh token a second time (Shopify rotates it on
every use). The HTTP call runs in the caller's thread with a blocking client: it is rare (an hour
apart per shop) and must not leave the lock held across an event loop's turns.

Tokens are stored encrypted (crypto.py); neither an access token nor a refresh token is ever logged.
"""

import hashlib
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import httpx
from sqlalchemy import Connection, select, text, update
from sqlalchemy.engine import Engine

from . import jobs, metrics, token_grants
from .config import Settings
from .crypto import decrypt_token, encrypt_token
from .models import Shop, utcnow
from .shops import upsert_installed
from .token_grants import Grant, TokenRefused, TokenUnavailable

log = logging.getLogger(__name__)
shops = Shop.__table__

RECONNECT_LOG_INTERVAL = timedelta(hours=1)
# A lost answer (timeout after Shopify rotated) is retried with the same refresh token, which
# Shopify keeps valid until the new access token is used; this many tries in all.
REFRESH_TRIES = 3


class TokenKind(StrEnum):
    expiring = "expiring"
    non_expiring = "non-expiring"
    reconnect_needed = "reconnect needed"
    none = "none"  # uninstalled: no token held


class ReconnectNeeded(Exception):
    """The shop holds no token Shopify accepts; the merchant must open the app (or reinstall)."""

    def __init__(self, shop: str) -> None:
        super().__init__(
            f"{shop}: Shopify refused this app's token; the merchant must open the app to reconnect"
        )
        self.shop = shop


# -- The per-shop lock --------------------------------------------------------------------------------
def _lock_key(shop: str) -> int:
    """A stable signed 64-bit key for PostgreSQL's advisory locks."""
    return int.from_bytes(
        hashlib.sha256(f"shop-token:{shop}".encode()).digest()[:8], "big", signed=True
    )


@contextmanager
def locked(engine: Engine, shop: str) -> Iterator[Connection]:
    """A transaction holding `shop`'s token lock until it ends (commit on success)."""
    with engine.connect() as connection:
        if connection.dialect.name == "sqlite":
            connection.exec_driver_sql(
                "BEGIN IMMEDIATE"
            )  # the database's write lock, across processes
        else:
            connection.begin()
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _lock_key(shop)})
        try:
            yield connection
        except BaseException:
            connection.rollback()
            raise
        connection.commit()


# -- Storing ------------------------------------------------------------------------------------------
def grant_values(settings: Settings, grant: Grant, now: datetime) -> dict[str, Any]:
    """The shop columns a grant sets: both tokens encrypted, both expiries, reconnect state cleared."""
    return {
        "access_token_encrypted": encrypt_token(settings.secret_keys, grant.access_token),
        "access_token_expires_at": now + timedelta(seconds=grant.expires_in)
        if grant.expires_in
        else None,
        "access_token_issued_at": now,
        "refresh_token_encrypted": encrypt_token(settings.secret_keys, grant.refresh_token)
        if grant.refresh_token
        else None,
        "refresh_token_expires_at": (
            now + timedelta(seconds=grant.refresh_token_expires_in)
            if grant.refresh_token and grant.refresh_token_expires_in
            else None
        ),
        "reconnect_needed_at": None,
        "reconnect_logged_at": None,
        "updated_at": now,
    }


def store(connection: Connection, settings: Settings, shop_id: int, grant: Grant) -> None:
    connection.execute(
        update(shops).where(shops.c.id == shop_id).values(**grant_values(settings, grant, utcnow()))
    )
    jobs.resume_waiting(connection, shop_id)


# -- Reading ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class StoredToken:
    shop_id: int
    shop: str
    access_token: str | None
    expires_at: datetime | None
    issued_at: datetime | None
    refresh_token: str | None
    refresh_expires_at: datetime | None
    reconnect_needed: bool

    def __repr__(self) -> str:
        return f"StoredToken(shop={self.shop!r}, expires_at={self.expires_at}, reconnect_needed={self.reconnect_needed})"

    @property
    def kind(self) -> TokenKind:
        if self.access_token is None:
            return TokenKind.none
        if self.reconnect_needed:
            return TokenKind.reconnect_needed
        return TokenKind.expiring if self.expires_at is not None else TokenKind.non_expiring

    def fresh(self, settings: Settings, now: datetime) -> bool:
        """Usable for the next call: an expiring token with more than the refresh margin left. The
        margin is SHOPIFY_TOKEN_REFRESH_MARGIN (5 minutes of Shopify's hour), at most a quarter of
        the token's life, so a short-lived token is not refreshed on every call."""
        if self.access_token is None or self.expires_at is None or self.reconnect_needed:
            return False
        life = (self.expires_at - self.issued_at).total_seconds() if self.issued_at else 3600.0
        margin = min(settings.SHOPIFY_TOKEN_REFRESH_MARGIN, max(0.0, life) / 4)
        return self.expires_at - now > timedelta(seconds=margin)


COLUMNS = (
    shops.c.id,
    shops.c.domain,
    shops.c.access_token_encrypted,
    shops.c.access_token_expires_at,
    shops.c.access_token_issued_at,
    shops.c.refresh_token_encrypted,
    shops.c.refresh_token_expires_at,
    shops.c.reconnect_needed_at,
)


def _stored(settings: Settings, row) -> StoredToken:
    def opened(value: str | None) -> str | None:
        return decrypt_token(settings.secret_keys, value) if value else None

    return StoredToken(
        shop_id=row.id,
        shop=row.domain,
        access_token=opened(row.access_token_encrypted),
        expires_at=row.access_token_expires_at,
        issued_at=row.access_token_issued_at,
        refresh_token=opened(row.refresh_token_encrypted),
        refresh_expires_at=row.refresh_token_expires_at,
        reconnect_needed=row.reconnect_needed_at is not None,
    )


def read(connection: Connection, settings: Settings, shop_id: int) -> StoredToken | None:
    """The shop's token while it is installed, else None."""
    row = connection.execute(
        select(*COLUMNS).where(
            shops.c.id == shop_id,
            shops.c.uninstalled_at.is_(None),
            shops.c.access_token_encrypted.is_not(None),
        )
    ).first()
    return _stored(settings, row) if row is not None else None


# -- Getting a usable token ---------------------------------------------------------------------------
def _mark_reconnect(connection: Connection, stored: StoredToken, reason: str) -> None:
    now = utcnow()
    connection.execute(
        update(shops)
        .where(shops.c.id == stored.shop_id)
        .values(reconnect_needed_at=now, updated_at=now)
    )
    log.warning(
        "shop must reconnect: Shopify refused its token",
        extra={"shop": stored.shop, "reason": reason},
    )


def log_reconnect_needed(engine: Engine, shop_id: int, shop: str) -> None:
    """'This shop must reconnect', at most once an hour per shop across every process."""
    now = utcnow()
    with engine.begin() as connection:
        result = connection.execute(
            update(shops)
            .where(
                shops.c.id == shop_id,
                shops.c.reconnect_needed_at.is_not(None),
                (shops.c.reconnect_logged_at.is_(None))
                | (shops.c.reconnect_logged_at < now - RECONNECT_LOG_INTERVAL),
            )
            .values(reconnect_logged_at=now)
        )
    if result.rowcount == 1:
        log.warning(
            "shop must reconnect before its Admin API work can run; it waits",
            extra={"shop": shop, "action": "the merchant opens the app from the Shopify admin"},
        )


def _renew(client: httpx.Client, settings: Settings, stored: StoredToken) -> Grant:
    """A new pair for `stored`: a refresh, or the migration of a non-expiring token. A lost answer
    is asked again with the same token (Shopify keeps it valid until the new pair is used)."""
    body = (
        token_grants.refresh_grant(settings, stored.refresh_token)
        if stored.refresh_token
        else token_grants.migration_grant(settings, stored.access_token or "")
    )
    for attempt in range(1, REFRESH_TRIES + 1):
        try:
            return token_grants.post(client, settings, stored.shop, body)
        except TokenUnavailable as exc:
            if attempt == REFRESH_TRIES:
                raise
            log.info(
                "token refresh answer lost; asking again with the same token",
                extra={"shop": stored.shop, "attempt": attempt, "reason": str(exc)},
            )
    raise AssertionError("unreachable")


def usable_token(
    engine: Engine, settings: Settings, shop_id: int, *, refused: str | None = None
) -> str:
    """An access token Shopify should accept for the shop's next Admin API call (sync: call it from
    a thread). Refreshed when it expires within the margin, migrated when it is non-expiring, and,
    with `refused` (the token a call was just answered 401 with), renewed unless another process
    already did. Raises ReconnectNeeded, TokenUnavailable, or LookupError (not installed)."""
    with engine.connect() as connection:
        stored = read(connection, settings, shop_id)
    if stored is None or stored.access_token is None:
        raise LookupError(f"shop {shop_id} is not installed")
    if stored.reconnect_needed:
        log_reconnect_needed(engine, shop_id, stored.shop)
        raise ReconnectNeeded(stored.shop)
    now = utcnow()
    if refused is None and stored.fresh(settings, now):
        return stored.access_token
    with locked(engine, stored.shop) as connection:
        stored = read(connection, settings, shop_id)  # what the lock's previous holder left
        if stored is None or stored.access_token is None:
            raise LookupError(f"shop {shop_id} is not installed")
        if stored.reconnect_needed:
            raise ReconnectNeeded(stored.shop)
        if (
            refused is not None
            and stored.access_token != refused
            and stored.kind == TokenKind.expiring
        ):
            return stored.access_token  # renewed by someone else since that call
        if refused is None and stored.fresh(settings, utcnow()):
            return stored.access_token
        with token_grants.client(settings) as client:
            try:
                grant = _renew(client, settings, stored)
            except (TokenRefused, TokenUnavailable) as exc:
                metrics.record_token_refresh(
                    "refused" if isinstance(exc, TokenRefused) else "unavailable"
                )
                if stored.kind == TokenKind.non_expiring and refused is None:
                    # Not migrated this time, but Shopify has not refused the token itself yet.
                    log.warning(
                        "non-expiring token not migrated; using it as it is",
                        extra={"shop": stored.shop, "reason": str(exc)},
                    )
                    return stored.access_token
                if isinstance(exc, TokenUnavailable):
                    raise
                refusal = str(exc)
            else:
                metrics.record_token_refresh("renewed")
                store(connection, settings, shop_id, grant)
                log.info(
                    "shop token renewed",
                    extra={
                        "shop": stored.shop,
                        "was": stored.kind.value,
                        "expires_in": grant.expires_in,
                    },
                )
                return grant.access_token
        _mark_reconnect(connection, stored, refusal)
    raise ReconnectNeeded(stored.shop)


def acquire_and_store(engine: Engine, settings: Settings, shop: str, body: dict[str, str]) -> int:
    """Exchange `body` at Shopify and store the shop with its new token, under the shop's lock (the
    install callback and the admin's token exchange). Returns the shop's row id. A re-install
    clears uninstalled_at."""
    with locked(engine, shop) as connection, token_grants.client(settings) as client:
        grant = token_grants.post(client, settings, shop, body)
        shop_id = upsert_installed(connection, shop, grant.scope)
        store(connection, settings, shop_id, grant)
    log.info(
        "shop token stored",
        extra={"shop": shop, "scopes": grant.scope, "expiring": grant.expires_in is not None},
    )
    return shop_id
