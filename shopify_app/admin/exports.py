"""CSV exports, streamed: rows are read in chunks by id (keyset), each chunk on a short-lived
connection, and written out as they come; nothing holds the whole export."""

import csv
import io
from collections.abc import Iterator
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine

from . import delivery_log, listings

CHUNK = 1000  # rows per read: about 2 MB of Python objects
SIGNUP_FIELDS = [
    "id",
    "created_at",
    "status",
    "channel",
    "email",
    "phone",
    "quantity",
    "shopify_product_id",
    "shopify_variant_id",
    "product_title",
    "variant_title",
    "source",
    "optin_confirmed",
    "notified_at",
    "unsubscribed_at",
]
DELIVERY_FIELDS = [
    "id",
    "created_at",
    "kind",
    "channel",
    "status",
    "attempts",
    "sent_at",
    "last_error",
    "intent_id",
    "contact",
    "shopify_variant_id",
    "product_title",
    "variant_title",
    "restock_event_id",
    "stock_before",
    "stock_after",
    "policy",
    "trigger",
]
# The columns that hold text someone outside the app wrote (shoppers, merchants' titles, providers'
# errors); every other column is a number, a date or one of our own words, and is written as it is.
SIGNUP_TEXT = ("email", "phone", "product_title", "variant_title")
DELIVERY_TEXT = ("contact", "product_title", "variant_title", "last_error")


def _cell(value: Any) -> Any:
    # A spreadsheet runs a cell starting with = + - @ as a formula: shoppers write some of these texts.
    if (
        isinstance(value, str)
        and value[:1] in ("=", "+", "-", "@", "\t", "\r")
        and not value[1:].isdigit()
    ):
        return "'" + value
    return value


def _stream(
    engine: Engine, header: list[str], fetch, to_row, text: tuple[str, ...]
) -> Iterator[bytes]:
    positions = [header.index(name) for name in text]
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    after = None
    while True:
        with engine.connect() as connection:
            rows = fetch(connection, after)
        for row in rows:
            values = to_row(row)
            for i in positions:
                values[i] = _cell(values[i])
            writer.writerow(values)
        yield buffer.getvalue().encode()
        buffer.seek(0)
        buffer.truncate()
        if len(rows) < CHUNK:
            return
        after = rows[-1].id


def signups_csv(engine: Engine, shop_id: int, query) -> Iterator[bytes]:
    where = listings.intent_filters(shop_id, query)  # raises ValueError before the response starts
    table = listings.intents

    def fetch(connection, after):
        cond = [*where] + ([table.c.id < after] if after is not None else [])
        return connection.execute(
            select(*listings.INTENT_COLUMNS).where(*cond).order_by(table.c.id.desc()).limit(CHUNK)
        ).all()

    def to_row(row):
        public = listings.intent_public(row)
        return [public[f] for f in SIGNUP_FIELDS]

    return _stream(engine, SIGNUP_FIELDS, fetch, to_row, SIGNUP_TEXT)


def deliveries_csv(engine: Engine, shop_id: int, query) -> Iterator[bytes]:
    where = delivery_log.delivery_filters(shop_id, query)
    table = delivery_log.notifications

    def fetch(connection, after):
        cond = [*where] + ([table.c.id < after] if after is not None else [])
        return connection.execute(
            delivery_log.delivery_select(cond).order_by(table.c.id.desc()).limit(CHUNK)
        ).all()

    def to_row(row):
        public = delivery_log.delivery_public(row)
        why = public.pop("why") or {}
        public.update(
            {
                k: why.get(k)
                for k in ("restock_event_id", "stock_before", "stock_after", "policy", "trigger")
            }
        )
        return [public[f] for f in DELIVERY_FIELDS]

    return _stream(engine, DELIVERY_FIELDS, fetch, to_row, DELIVERY_TEXT)
