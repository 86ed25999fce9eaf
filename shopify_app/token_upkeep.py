"""Operators' views and upkeep of shops' tokens: what `shopify-app shops` lists, the shops whose
token the worker renews before a call needs it, and re-encryption after a key rotation."""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.engine import Engine

from .config import Settings
from .crypto import reencrypt_token
from .models import Shop, utcnow
from .shop_tokens import COLUMNS, TokenKind, read, usable_token

log = logging.getLogger("shopify_app.shop_tokens")
shops = Shop.__table__


@dataclass(frozen=True)
class ShopTokenInfo:
    domain: str
    installed: bool
    kind: TokenKind
    access_expires_at: datetime | None
    refresh_expires_at: datetime | None


def describe(engine: Engine, settings: Settings) -> list[ShopTokenInfo]:
    """Every shop with its token kind and expiries, without secrets (`shopify-app shops`)."""
    with engine.connect() as connection:
        rows = connection.execute(
            select(*COLUMNS, shops.c.uninstalled_at).order_by(shops.c.domain)
        ).all()
    described = []
    for row in rows:
        installed = row.uninstalled_at is None and row.access_token_encrypted is not None
        kind = (
            TokenKind.none
            if not installed
            else TokenKind.reconnect_needed
            if row.reconnect_needed_at
            else TokenKind.expiring
            if row.access_token_expires_at
            else TokenKind.non_expiring
        )
        described.append(
            ShopTokenInfo(
                domain=row.domain,
                installed=installed,
                kind=kind,
                access_expires_at=row.access_token_expires_at if installed else None,
                refresh_expires_at=row.refresh_token_expires_at if installed else None,
            )
        )
    return described


def needing_upkeep(engine: Engine, within: timedelta) -> list[int]:
    """Installed shops whose token should be renewed without waiting for a call: a non-expiring one
    (to migrate before Shopify stops taking them), or a refresh token expiring within `within`
    (kept alive for a shop that has had no Admin API work for weeks)."""
    now = utcnow()
    with engine.connect() as connection:
        return list(
            connection.execute(
                select(shops.c.id).where(
                    shops.c.uninstalled_at.is_(None),
                    shops.c.access_token_encrypted.is_not(None),
                    shops.c.reconnect_needed_at.is_(None),
                    shops.c.access_token_expires_at.is_(None)
                    | (
                        shops.c.refresh_token_expires_at.is_not(None)
                        & (shops.c.refresh_token_expires_at < now + within)
                    ),
                )
            ).scalars()
        )


def renew(engine: Engine, settings: Settings, shop_id: int) -> str:
    """Renew the shop's token now, whatever its expiry (upkeep): `usable_token` as if refused."""
    with engine.connect() as connection:
        stored = read(connection, settings, shop_id)
    if stored is None or stored.access_token is None:
        raise LookupError(f"shop {shop_id} is not installed")
    return usable_token(engine, settings, shop_id, refused=stored.access_token)


ENCRYPTED_COLUMNS = (
    "access_token_encrypted",
    "refresh_token_encrypted",
    "webhook_secret_encrypted",
)


def reencrypt_tokens(engine: Engine, settings: Settings) -> tuple[int, int]:
    """Every stored access and refresh token, and webhook signing secret, under the current
    SECRET_KEY (after a rotation, with the old key in SECRET_KEY_FALLBACKS). Returns (tokens
    re-encrypted, tokens no key of the ring opens)."""
    done = unreadable = 0
    with engine.begin() as connection:
        rows = connection.execute(
            select(
                shops.c.id,
                shops.c.domain,
                shops.c.access_token_encrypted,
                shops.c.refresh_token_encrypted,
                shops.c.webhook_secret_encrypted,
            )
        ).all()
        for row in rows:
            values = {}
            for column in ENCRYPTED_COLUMNS:
                if getattr(row, column) is None:
                    continue
                fresh = reencrypt_token(settings.secret_keys, getattr(row, column))
                if fresh is None:
                    unreadable += 1
                    log.warning(
                        "stored token opens with no key of the ring",
                        extra={"shop": row.domain, "token": column},
                    )
                    continue
                values[column] = fresh
                done += 1
            if values:
                connection.execute(update(shops).where(shops.c.id == row.id).values(**values))
    return done, unreadable
