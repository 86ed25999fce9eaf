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

from collections.abc import Sequence
from functools import partial
from typing import Any

from sqlalchemy import Connection, bindparam, delete, func, select
from starlette.concurrency import run_in_threadpool

from . import events_out, first_signup, ratelimit, sms_countries, variant_reads
from .contacts import ContactError
from .db import dialect_of, run_async
from .models import Channel, Customer, Intent, IntentSource, IntentStatus, utcnow
from .ratelimit import Counter
from .schemas import IntentRequest
from .shops import ShopRef, find_installed
from .signup_confirmation import ask_to_confirm
from .signup_contacts import Contacts, read_contacts
from .signup_customers import (
    create_customer,
    customer_by_address,
    customer_by_id,
    update_proven_customer,
)
from .signup_rows import (
    CreateResult,
    Executor,
    first_row,
    insert_returning_id,
    new_intent,
    to_public,
)

customers = Customer.__table__
intents = Intent.__table__

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


class UnknownShop(Exception):
    """The shop has not installed the app (or never did)."""


def _pending_intent(session: Executor, values: dict[str, Any]) -> dict[str, Any] | None:
    return first_row(
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
        contacts = contacts or read_contacts(request, push_allowlist)
    except ContactError as exc:
        return CreateResult(errors=[str(exc)])
    cust, channel = request.customer, request.intent.channel
    if channel == Channel.sms and (
        refused := sms_countries.refusal(contacts.address, shop.sms_countries)
    ):
        return CreateResult(errors=[refused])
    proven = customer_by_id(session, shop.id, cust.id) if cust.id else None
    if proven is not None:
        update_proven_customer(session, proven, cust, contacts)
    values = new_intent(shop, None, request, contacts, source, utcnow())
    existing = _pending_intent(session, values)
    if existing is not None:
        if not existing["optin_confirmed"]:
            ask_to_confirm(session, existing, repeat=True)
        return CreateResult(intents=[to_public(existing, request, contacts, proven)])
    visible, owner = proven, proven or customer_by_address(session, shop.id, channel, contacts)
    if owner is None:
        owner = visible = create_customer(session, shop.id, cust, contacts, channel)
        if owner is None:  # a concurrent request filed the same shopper a moment ago: theirs
            owner = customer_by_address(session, shop.id, channel, contacts)
            if owner is None:
                raise RuntimeError("customer vanished between insert and select")
    values["customer_id"] = owner["id"]
    inserted = session.execute(insert_returning_id(dialect_of(session), intents), values).first()
    if inserted is not None:
        if not values["optin_confirmed"]:
            ask_to_confirm(session, {**values, "id": inserted.id})
        variant_reads.queue_if_unseen(session, shop.id, values["shopify_variant_id"])
        signup = {**values, "id": inserted.id}
        events_out.emit(
            session, events_out.SIGNUP_CREATED, [events_out.signup_event(shop.id, signup)]
        )
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


def first_signup_of(
    state,
    domain: str,
    request: IntentRequest,
    *,
    source: IntentSource,
    contacts: Contacts | None,
    counters: Sequence[Counter] = (),
) -> tuple[first_signup.FirstSignup, Contacts] | None:
    """PostgreSQL: the signup as a first signup to try in one statement with others (and with
    the abuse limits' `counters`); None on SQLite, or when it cannot be one."""
    if state.first_signups is None:
        return None
    return first_signup.prepare(
        domain,
        request,
        source=source,
        push_allowlist=state.settings.push_allowlist,
        contacts=contacts,
        counters=counters,
    )


async def file_signup(
    state,
    domain: str,
    request: IntentRequest,
    *,
    source: IntentSource,
    contacts: Contacts | None = None,
    first: tuple[first_signup.FirstSignup, Contacts] | None = None,
) -> CreateResult:
    """File a signup for the shop `domain` (raises UnknownShop). On SQLite, in a thread. On
    PostgreSQL, on an async connection (SQLAlchemy's run_sync runs the same code, each round trip
    yielding to the event loop): first, if `first` is given (`first_signup_of`), the
    one-statement path for a shopper the shop has never seen, group-committed with concurrent
    requests' first signups and counting its abuse-limit counters (ApiError 429 when one is
    spent: then nothing is stored); else, or when that filed nothing, the general path in a
    transaction. Core connections, not ORM sessions: a session's bookkeeping cost a fifth."""
    allowlist = state.settings.push_allowlist
    if state.async_engine is None:
        return await run_in_threadpool(
            _create_in_thread, state.engine, domain, request, source, allowlist, contacts
        )
    shop = None
    if first is not None:
        signup, contacts = first
        filed = await state.first_signups.file(signup)
        ratelimit.raise_if_spent(signup.counters, filed.counts)
        if filed.shop is None:
            raise UnknownShop(domain)
        if filed.intent_id is not None:
            return first_signup.answer(signup, filed, request, contacts)
        shop = filed.shop
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
