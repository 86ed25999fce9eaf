"""Creating and de-duplicating signups: the one service behind every entry point (public API,
app proxy, merchant API). Callers parse and authenticate; `file_signup` decides what is stored.

How a signup finds its customer (the README's "Decisions" lists every case):
- `customer.id` naming a customer of this shop is proof of being that customer: the signup is
  theirs and the request may update their details. It is only ever returned to whoever created
  the customer or sent it.
- Without it, the customer is the one holding the signup's own address (the email of an email
  signup, the phone of an SMS one, the subscription of a push one), else a new one. Nothing
  stored about an existing customer is changed, or shown in the answer.
- The signup's address is the one given in the request, and the alert goes there. A repeat of a
  pending signup (shop, variant, market, channel, address) returns it, whoever's customer it is.
- Marketing consent given in a signup is recorded on that signup with its time and source.
"""

import hashlib
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cache, partial
from typing import Any

import orjson
from sqlalchemy import Connection, Table, bindparam, delete, func, select, text, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from .contacts import (
    ContactError,
    normalize_email,
    normalize_locale,
    normalize_phone,
    parse_push_subscription,
)
from .db import dialect_insert_for, dialect_of, run_async
from .models import (
    Channel,
    Customer,
    Intent,
    IntentSource,
    IntentStatus,
    Notification,
    NotificationKind,
    NotificationStatus,
    new_uuid,
    utcnow,
)
from .notify.render import available_locales
from .schemas import CustomerIn, IntentPublic, IntentRequest
from .shops import INSTALLED, ShopRef, find_installed, shops

customers = Customer.__table__
intents = Intent.__table__
notifications = Notification.__table__
CONFIRMED_CHANNELS = (
    Channel.email,
    Channel.sms,
)  # a push signup is itself the browser's explicit permission
CONFIRMATION_GAP = timedelta(hours=1)
KNOWN_LOCALES = frozenset(available_locales())

# Built once, values bound at execution: this is the hottest path of the public API, and building
# and cache-keying statements per request cost more than running them.
_CUSTOMER_BY = {
    column: select(customers)
    .where(customers.c.shop_id == bindparam("shop_id"), customers.c[column] == bindparam("value"))
    .limit(1)
    for column in ("id", "email", "phone")
}
_CUSTOMER_BY_SUBSCRIPTION = select(customers).where(
    customers.c.id
    == select(intents.c.customer_id)
    .where(
        intents.c.shop_id == bindparam("shop_id"),
        intents.c.contact_key == bindparam("value"),
    )
    .order_by(intents.c.id.desc())
    .limit(1)
    .scalar_subquery()
)
_CONTACT_TAKEN = {
    column: select(customers.c.id)
    .where(customers.c.shop_id == bindparam("shop_id"), customers.c[column] == bindparam("value"))
    .limit(1)
    for column in ("email", "phone")
}
# The latest confirmation to this address (in this shop): when it went, or goes, out (a sent
# one's next_attempt_at is when it was sent), and whether it still waits to be sent.
_LAST_CONFIRMATION = (
    select(notifications.c.status, notifications.c.next_attempt_at)
    .join(intents, intents.c.id == notifications.c.intent_id)
    .where(
        intents.c.shop_id == bindparam("shop_id"),
        intents.c.contact_key == bindparam("contact_key"),
        notifications.c.kind == NotificationKind.optin.value,
    )
    .order_by(notifications.c.next_attempt_at.desc())
    .limit(1)
)
_PENDING_INTENT = (
    select(intents)
    .where(
        intents.c.shop_id == bindparam("shop_id"),
        intents.c.shopify_variant_id == bindparam("shopify_variant_id"),
        func.coalesce(intents.c.shopify_market_id, 0) == bindparam("market"),
        intents.c.channel == bindparam("channel"),
        intents.c.contact_key == bindparam("contact_key"),
        intents.c.status == IntentStatus.pending.value,
    )
    .limit(1)
)


@cache
def _insert_returning_id(dialect: str, table: Table):
    """`INSERT ... ON CONFLICT DO NOTHING RETURNING id` for `table`, built once per dialect."""
    return dialect_insert_for(dialect, table).on_conflict_do_nothing().returning(table.c.id)


Executor = Session | Connection


class UnknownShop(Exception):
    """The shop has not installed the app (or never did)."""


@dataclass
class CreateResult:
    intents: list[IntentPublic] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    created: bool = False


@dataclass
class Contacts:
    """The request's own contacts, normalised; `address` is the one the signup's channel uses."""

    email: str | None = None
    phone: str | None = None
    push: str | None = None
    push_endpoint: str | None = None
    address: str = ""


def contact_key(channel: str, address: str) -> str:
    """What makes two signups the same signup: their channel and address (fixed length, indexable)."""
    return hashlib.sha256(f"{channel}:{address}".encode()).hexdigest()


def _contacts(request: IntentRequest, push_allowlist: frozenset[str]) -> Contacts:
    """The channel's contact must be valid (ContactError); others are kept only when valid."""
    cust, channel = request.customer, request.intent.channel
    found = Contacts()
    checks = {
        Channel.email: ("email", lambda: normalize_email(cust.email)),
        Channel.sms: (
            "phone",
            lambda: normalize_phone(cust.phone, cust.country_code, cust.country),
        ),
        Channel.push: ("push", lambda: parse_push_subscription(cust.push, push_allowlist)),
    }
    for name, (attr, check) in checks.items():
        given = getattr(cust, attr)
        if name != channel and not given:
            continue
        try:
            setattr(found, attr, check())
        except ContactError:
            if name == channel:
                raise
    if found.push:
        found.push_endpoint = orjson.loads(found.push)["endpoint"]
    addresses: dict[str, str | None] = {
        Channel.email: found.email,
        Channel.sms: found.phone,
        Channel.push: found.push_endpoint,
    }
    address = addresses[channel]
    assert address is not None  # the channel's contact was checked (ContactError otherwise)
    found.address = address
    return found


def contacts_of(request: IntentRequest, push_allowlist: frozenset[str]) -> Contacts | None:
    """The request's contacts, read once by the route (the abuse limits key on the address) and
    handed to `file_signup`; None if the channel's contact is not valid (the service says why)."""
    try:
        return _contacts(request, push_allowlist)
    except ContactError:
        return None


def _row(session: Executor, statement, **params) -> dict[str, Any] | None:
    row = session.execute(statement, params).mappings().first()
    return dict(row) if row is not None else None


def _customer_by_address(session: Executor, shop_id: int, channel: str, contacts: Contacts):
    if channel == Channel.push:
        return _row(
            session,
            _CUSTOMER_BY_SUBSCRIPTION,
            shop_id=shop_id,
            value=contact_key(channel, contacts.address),
        )
    column = "email" if channel == Channel.email else "phone"
    return _row(session, _CUSTOMER_BY[column], shop_id=shop_id, value=contacts.address)


def _taken(session: Executor, shop_id: int, column: str, value: str | None) -> bool:
    return (
        value is not None
        and session.execute(_CONTACT_TAKEN[column], {"shop_id": shop_id, "value": value}).first()
        is not None
    )


def _details(cust: CustomerIn) -> dict[str, Any]:
    return {
        "name": cust.name,
        "locale": normalize_locale(cust.locale, KNOWN_LOCALES),
        "country": cust.country,
        "shopify_customer_id": str(cust.shopify_customer_id) if cust.shopify_customer_id else None,
    }


def _update_proven_customer(
    session: Executor, row: dict[str, Any], cust: CustomerIn, contacts: Contacts
) -> None:
    """STOQ's "update the same customer": only for a request that sent the customer's id."""
    wanted = {
        **_details(cust),
        "accepts_marketing": cust.accepts_marketing,
        "email": contacts.email,
        "phone": contacts.phone,
    }
    changes = {k: v for k, v in wanted.items() if v is not None and row[k] != v}
    for column in ("email", "phone"):  # never take an address another customer of the shop holds
        if column in changes and _taken(session, row["shop_id"], column, changes[column]):
            del changes[column]
    if changes:
        changes["updated_at"] = utcnow()
        session.execute(update(customers).where(customers.c.id == row["id"]).values(**changes))


def _new_customer(shop_id: int | None, cust: CustomerIn, contacts: Contacts, now) -> dict[str, Any]:
    return {
        "id": new_uuid(),
        "shop_id": shop_id,
        "email": contacts.email,
        "phone": contacts.phone,
        **_details(cust),
        "accepts_marketing": cust.accepts_marketing is True,
        "unsubscribed_at": None,
        "created_at": now,
        "updated_at": now,
    }


def _create_customer(
    session: Executor, shop_id: int, cust: CustomerIn, contacts: Contacts
) -> dict[str, Any] | None:
    """A new customer with the request's details, minus contacts another customer holds; None if a
    concurrent request created the same one first."""
    values = _new_customer(shop_id, cust, contacts, utcnow())
    for column in ("email", "phone"):
        if _taken(session, shop_id, column, values[column]):
            values[column] = None
    inserted = session.execute(_insert_returning_id(dialect_of(session), customers), values).first()
    return values if inserted is not None else None


def _new_intent(
    shop: ShopRef,
    customer_id: str | None,
    request: IntentRequest,
    contacts: Contacts,
    source: IntentSource,
    now,
) -> dict[str, Any]:
    spec, product, consent = (
        request.intent,
        request.product,
        request.customer.accepts_marketing is True,
    )
    return {
        "shop_id": shop.id,
        "customer_id": customer_id,
        "channel": spec.channel,
        "email": contacts.email,
        "phone": contacts.phone,
        "push_subscription": contacts.push if spec.channel == Channel.push else None,
        "contact_key": contact_key(spec.channel, contacts.address),
        "quantity": spec.quantity,
        "source": source.value,
        "status": IntentStatus.pending.value,
        "shopify_variant_id": spec.shopify_variant_id,
        "shopify_product_id": spec.shopify_product_id,
        "shopify_market_id": spec.shopify_market_id or request.customer.shopify_market_id,
        "shopify_inventory_item_id": None,
        "product_title": product.title if product else None,
        "variant_title": product.variant_title if product else None,
        "variant_count": product.variant_count if product else None,
        "vendor": product.vendor if product else None,
        "sku": product.sku if product else None,
        "optin_confirmed": not (shop.double_optin and spec.channel in CONFIRMED_CHANNELS),
        "notified_at": None,
        "unsubscribed_at": None,
        "blocked_at": None,
        "sent_notifications_count": 0,
        "accepts_marketing": consent,
        "consent_at": now if consent else None,
        "created_at": now,
        "updated_at": now,
    }


def to_public(
    intent: dict[str, Any],
    request: IntentRequest,
    contacts: Contacts,
    customer: dict[str, Any] | None,
) -> IntentPublic:
    """The answer: the signup, with only what this request sent about the person. `customer` is
    given only when the requester may see it (they created it, or sent its id)."""
    mine = customer is not None and customer["id"] == intent["customer_id"]
    fields = {k: intent[k] for k in IntentPublic.model_fields if k in intent}
    fields.update(
        email=contacts.email,
        phone=contacts.phone,
        contact={"email": contacts.email, "sms": contacts.phone, "push": "push"}[intent["channel"]],
        accepts_marketing=request.customer.accepts_marketing is True,
        customer_id=intent["customer_id"] if mine else None,
        customer_name=request.customer.name,
        customer_unsubscribed_at=customer["unsubscribed_at"] if mine and customer else None,
        notifications_count=intent["sent_notifications_count"],
    )
    return IntentPublic(**fields)


def _ask_to_confirm(session: Executor, intent: dict[str, Any], *, repeat: bool = False) -> None:
    """Queue a confirmation (double opt-in) through the outbox; an address gets at most one an hour.
    One still waiting to be sent covers this signup too (its link, made when it is sent, confirms
    every signup of the address waiting then: shopper_links.py). Otherwise a new signup gets its
    own, an hour after the last one went out if that was less than an hour ago; a repeat of a
    signup (whose link may have been lost) gets another only once the hour is up."""
    now = utcnow()
    last = session.execute(
        _LAST_CONFIRMATION, {"shop_id": intent["shop_id"], "contact_key": intent["contact_key"]}
    ).first()
    if last is not None and last.status == NotificationStatus.pending.value:
        return
    due = now if last is None else max(now, last.next_attempt_at + CONFIRMATION_GAP)
    if repeat and due > now:
        return
    session.execute(
        notifications.insert().values(
            shop_id=intent["shop_id"],
            intent_id=intent["id"],
            restock_event_id=None,
            kind=NotificationKind.optin.value,
            channel=intent["channel"],
            status=NotificationStatus.pending.value,
            attempts=0,
            next_attempt_at=due,
            created_at=now,
            updated_at=now,
        )
    )


def _pending_intent(session: Executor, values: dict[str, Any]) -> dict[str, Any] | None:
    return _row(
        session,
        _PENDING_INTENT,
        shop_id=values["shop_id"],
        shopify_variant_id=values["shopify_variant_id"],
        market=values["shopify_market_id"] or 0,
        channel=values["channel"],
        contact_key=values["contact_key"],
    )


def create(
    session: Executor,
    shop: ShopRef,
    request: IntentRequest,
    *,
    source: IntentSource,
    push_allowlist: frozenset[str],
    contacts: Contacts | None = None,
) -> CreateResult:
    """File a signup, or return the pending one it repeats. The caller commits."""
    try:
        contacts = contacts or _contacts(request, push_allowlist)
    except ContactError as exc:
        return CreateResult(errors=[str(exc)])
    cust, channel = request.customer, request.intent.channel
    proven = _row(session, _CUSTOMER_BY["id"], shop_id=shop.id, value=cust.id) if cust.id else None
    if proven is not None:
        _update_proven_customer(session, proven, cust, contacts)
    values = _new_intent(shop, None, request, contacts, source, utcnow())
    existing = _pending_intent(session, values)
    if existing is not None:
        if not existing["optin_confirmed"]:
            _ask_to_confirm(session, existing, repeat=True)
        return CreateResult(intents=[to_public(existing, request, contacts, proven)])
    visible, owner = proven, proven or _customer_by_address(session, shop.id, channel, contacts)
    if owner is None:
        owner = visible = _create_customer(session, shop.id, cust, contacts)
        if owner is None:  # a concurrent request filed the same shopper a moment ago: theirs
            owner = _customer_by_address(session, shop.id, channel, contacts)
            if owner is None:
                raise RuntimeError("customer vanished between insert and select")
    values["customer_id"] = owner["id"]
    inserted = session.execute(_insert_returning_id(dialect_of(session), intents), values).first()
    if inserted is not None:
        if not values["optin_confirmed"]:
            _ask_to_confirm(session, {**values, "id": inserted.id})
        return CreateResult(
            intents=[to_public({**values, "id": inserted.id}, request, contacts, visible)],
            created=True,
        )
    # The same signup was filed concurrently: answer with it, and keep no customer made for ours.
    existing = _pending_intent(session, values)
    if existing is None:
        raise RuntimeError("pending intent vanished between insert and select")
    if visible is not None and visible is not proven:
        session.execute(delete(customers).where(customers.c.id == owner["id"]))
    return CreateResult(intents=[to_public(existing, request, contacts, None)])


# -- PostgreSQL: a first signup in one statement ------------------------------------------------
# Most signups come from a shopper the shop has never seen. On PostgreSQL their whole write (the
# shop check, "is this shopper or address known?", the customer, the intent) is one statement with
# data-modifying CTEs instead of four round trips. Anything else (a known shopper or address, a
# repeat, a race, a shop with double opt-in) inserts nothing there and takes the general path
# above, which has the last word.


@cache
def _first_signup_statement(customer_keys: tuple[str, ...], intent_keys: tuple[str, ...]):
    dialect = postgresql.dialect()

    def given(table, prefix: str, key: str) -> str:  # typed, so a NULL is the column's type
        return f"CAST(:{prefix}{key} AS {table.c[key].type.compile(dialect=dialect)})"

    own = {"shop_id": "s.id", "customer_id": "c.id"}
    sql = f"""
WITH s AS (
  SELECT id, double_optin FROM {shops.name}
  WHERE domain = :domain AND {INSTALLED.compile(dialect=dialect)}
), c AS (
  INSERT INTO {customers.name} ({", ".join(customer_keys)})
  SELECT {", ".join("s.id" if k == "shop_id" else given(customers, "c_", k) for k in customer_keys)} FROM s
  WHERE NOT s.double_optin AND NOT EXISTS (SELECT 1 FROM {customers.name} k WHERE k.shop_id = s.id
                    AND (k.email = CAST(:c_email AS VARCHAR) OR k.phone = CAST(:c_phone AS VARCHAR)))
    AND NOT EXISTS (SELECT 1 FROM {intents.name} p WHERE p.shop_id = s.id
                    AND p.contact_key = CAST(:i_contact_key AS VARCHAR))
  ON CONFLICT DO NOTHING RETURNING id
), i AS (
  INSERT INTO {intents.name} ({", ".join(intent_keys)})
  SELECT {", ".join(own.get(k) or given(intents, "i_", k) for k in intent_keys)} FROM s, c
  ON CONFLICT DO NOTHING RETURNING id
)
SELECT s.id, s.double_optin, (SELECT id FROM i) AS intent_id FROM s"""
    return text(sql)


def create_first_signup(
    connection: Connection,
    domain: str,
    request: IntentRequest,
    *,
    source: IntentSource,
    push_allowlist: frozenset[str],
    contacts: Contacts | None = None,
) -> tuple[ShopRef | None, CreateResult | None] | None:
    """PostgreSQL only. (None, None): the shop has not installed the app. (shop, result): filed.
    (shop, None): not a first signup, use `create` with that shop. None: not tried (the contact
    is invalid or the request names a customer id), use the general path."""
    if request.customer.id:
        return None
    try:
        contacts = contacts or _contacts(request, push_allowlist)
    except ContactError:
        return None
    now = utcnow()
    customer = _new_customer(None, request.customer, contacts, now)
    intent = _new_intent(ShopRef(0), customer["id"], request, contacts, source, now)
    statement = _first_signup_statement(tuple(customer), tuple(intent))
    params = {
        "domain": domain,
        **{f"c_{k}": v for k, v in customer.items()},
        **{f"i_{k}": v for k, v in intent.items()},
    }
    row = connection.execute(statement, params).first()
    if row is None:
        return None, None
    shop = ShopRef(id=row.id, double_optin=row.double_optin)
    if row.intent_id is None:
        return shop, None
    customer["shop_id"] = intent["shop_id"] = shop.id
    intent["id"] = row.intent_id
    return shop, CreateResult(
        intents=[to_public(intent, request, contacts, customer)], created=True
    )


# -- The one entry point ------------------------------------------------------------------------


def _create_in_transaction(
    connection: Connection,
    domain: str,
    request: IntentRequest,
    source: IntentSource,
    push_allowlist: frozenset[str],
    contacts: Contacts | None,
    shop: ShopRef | None = None,
) -> CreateResult:
    shop = shop or find_installed(connection, domain)
    if shop is None:
        raise UnknownShop(domain)
    return create(
        connection, shop, request, source=source, push_allowlist=push_allowlist, contacts=contacts
    )


def _create_in_thread(engine, *args) -> CreateResult:
    with engine.begin() as connection:
        return _create_in_transaction(connection, *args)


async def file_signup(
    state,
    domain: str,
    request: IntentRequest,
    *,
    source: IntentSource,
    contacts: Contacts | None = None,
) -> CreateResult:
    """File a signup for the shop `domain` (raises UnknownShop). On SQLite, in a thread. On
    PostgreSQL, on an async connection (SQLAlchemy's run_sync runs the same code, each round trip
    yielding to the event loop): first the one-statement path for a shopper the shop has never
    seen (autocommit: one round trip in all), else the general path in a transaction. Core
    connections, not ORM sessions: a session's bookkeeping cost a fifth."""
    allowlist = state.settings.push_allowlist
    if state.async_engine is None:
        return await run_in_threadpool(
            _create_in_thread, state.engine, domain, request, source, allowlist, contacts
        )
    first = await run_async(
        state.async_engine,
        partial(
            create_first_signup,
            domain=domain,
            request=request,
            source=source,
            push_allowlist=allowlist,
            contacts=contacts,
        ),
        autocommit=True,
    )
    shop = None
    if first is not None:
        shop, result = first
        if shop is None:
            raise UnknownShop(domain)
        if result is not None:
            return result
    return await run_async(
        state.async_engine,
        partial(
            _create_in_transaction,
            domain=domain,
            request=request,
            source=source,
            push_allowlist=allowlist,
            contacts=contacts,
            shop=shop,
        ),
    )
