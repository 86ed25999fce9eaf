"""CSV exports, streamed: rows are read in chunks by id (keyset), each chunk on a short-lived
connection, and written out as they come; nothing holds the whole export."""

import csv
import io
from collections.abc import Iterator
from typing import Any

from sqlalchemy.engine import Engine

from ..inventory import location_names
from ..paging import Page
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
    "product",
    "sku",
    "product_title",
    "variant_title",
    "shopify_product_id",
    "shopify_variant_id",
    "product_admin_url",
    "accepts_marketing",
    "consent_at",
    "signed_up_through",
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
    "what_went_wrong",
    "last_error",
    "intent_id",
    "contact",
    "product",
    "sku",
    "product_title",
    "variant_title",
    "shopify_product_id",
    "shopify_variant_id",
    "product_admin_url",
    "why",
    "restock_event_id",
    "stock_before",
    "stock_after",
    "stock_news_received_at",
    "decided_after_seconds",
    "sent_after_seconds",
]
# The columns that hold text someone outside the app wrote (shoppers, merchants' titles, providers'
# errors); every other column is a number, a date or one of our own words, and is written as it is.
PRODUCT_TEXT = ("product", "sku", "product_title", "variant_title")
SIGNUP_TEXT = ("email", "phone", *PRODUCT_TEXT)
DELIVERY_TEXT = ("contact", *PRODUCT_TEXT, "last_error")


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


def _yes_no(value: bool) -> str:
    return "yes" if value else "no"


def signups_csv(engine: Engine, shop_id: int, shop: str, query) -> Iterator[bytes]:
    where = listings.intent_filters(shop_id, query)  # raises ApiError before the response starts
    table = listings.intents

    def fetch(connection, after):
        cond = [*where] + ([table.c.id < after] if after is not None else [])
        return connection.execute(listings.signups_select(shop_id, cond, Page(1, CHUNK))).all()

    def to_row(row):
        public = listings.intent_public(row)
        public["product_admin_url"] = listings.admin_product_url(shop, public["shopify_product_id"])
        public["accepts_marketing"] = _yes_no(public["accepts_marketing"])
        public["signed_up_through"] = public["door"]
        return [public[f] for f in SIGNUP_FIELDS]

    return _stream(engine, SIGNUP_FIELDS, fetch, to_row, SIGNUP_TEXT)


def deliveries_csv(engine: Engine, shop_id: int, shop: str, query) -> Iterator[bytes]:
    where = delivery_log.delivery_filters(shop_id, query)
    table = delivery_log.notifications

    names: dict[int, str] = {}

    def fetch(connection, after):
        if after is None:
            names.update(location_names(connection, shop_id))
        cond = [*where] + ([table.c.id < after] if after is not None else [])
        return connection.execute(delivery_log.delivery_select(shop_id, cond, CHUNK)).all()

    def to_row(row):
        public = delivery_log.delivery_public(row, names)
        why = public.pop("why") or {}
        public.update({k: why.get(k) for k in ("restock_event_id", "stock_before", "stock_after")})
        public["why"] = public["why_text"]
        public["what_went_wrong"] = public["error_text"]
        timing = public.get("latency") or {}
        public["stock_news_received_at"] = timing.get("received_at")
        public["decided_after_seconds"] = timing.get("decided_after_seconds")
        public["sent_after_seconds"] = timing.get("sent_after_seconds")
        public["product_admin_url"] = listings.admin_product_url(shop, public["shopify_product_id"])
        return [public[f] for f in DELIVERY_FIELDS]

    return _stream(engine, DELIVERY_FIELDS, fetch, to_row, DELIVERY_TEXT)
