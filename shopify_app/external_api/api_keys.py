"""Merchant API keys (`X-Auth-Token`). A key is shown once, when made; only its SHA-256 is kept,
with the time it was made. Making a new one (`rotate`) replaces the old, which stops working."""

import hashlib
import secrets
from typing import Any

from sqlalchemy import Connection, Row, select, update
from sqlalchemy.orm import Session

from ..db import rowcount
from ..models import utcnow
from ..shops import INSTALLED, shops

PREFIX = "bis_"
MAX_KEY_LENGTH = 200  # anything longer is not one of ours: not even hashed


class UnknownShop(LookupError):
    """No installed shop by that domain."""


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def new_key() -> str:
    return PREFIX + secrets.token_urlsafe(32)


def rotate(connection: Connection | Session, shop_domain: str) -> str:
    """A new key for the installed shop `shop_domain` (raises UnknownShop); the old one stops
    working in the same statement. The caller commits."""
    key = new_key()
    now = utcnow()
    result = connection.execute(
        update(shops)
        .where(shops.c.domain == shop_domain.strip().lower(), INSTALLED)
        .values(api_key_hash=hash_key(key), api_key_created_at=now, updated_at=now)
    )
    if rowcount(result) != 1:
        raise UnknownShop(shop_domain)
    return key


def shop_for_key(connection: Connection | Session, key: str | None) -> Row[Any] | None:
    """The installed shop whose key this is (by its hash, an indexed lookup), or None."""
    if not key or len(key) > MAX_KEY_LENGTH:
        return None
    return connection.execute(
        select(shops).where(shops.c.api_key_hash == hash_key(key), INSTALLED)
    ).first()
