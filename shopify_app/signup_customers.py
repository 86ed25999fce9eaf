"""The customer a signup belongs to: found by the id a request proves (and then updated), or by
the signup's address, or created; never taking an address another customer of the shop holds."""

from typing import Any

from sqlalchemy import bindparam, select, update

from .contacts import normalize_locale
from .db import dialect_of
from .models import Channel, Customer, Intent, new_uuid, utcnow
from .notify.render import available_locales
from .schemas import CustomerIn
from .signup_contacts import Contacts, contact_key
from .signup_rows import Executor, first_row, insert_returning_id

customers = Customer.__table__
intents = Intent.__table__
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


def customer_by_id(session: Executor, shop_id: int, customer_id: str) -> dict[str, Any] | None:
    return first_row(session, _CUSTOMER_BY["id"], shop_id=shop_id, value=customer_id)


def customer_by_address(session: Executor, shop_id: int, channel: str, contacts: Contacts):
    if channel == Channel.push:
        return first_row(
            session,
            _CUSTOMER_BY_SUBSCRIPTION,
            shop_id=shop_id,
            value=contact_key(channel, contacts.address),
        )
    column = "email" if channel == Channel.email else "phone"
    return first_row(session, _CUSTOMER_BY[column], shop_id=shop_id, value=contacts.address)


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


def update_proven_customer(
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


def new_customer(shop_id: int | None, cust: CustomerIn, contacts: Contacts, now) -> dict[str, Any]:
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


def create_customer(
    session: Executor, shop_id: int, cust: CustomerIn, contacts: Contacts, channel: str
) -> dict[str, Any] | None:
    """A new customer with the request's details, minus contacts another customer holds; None if a
    concurrent request created the same one first (the signup's own address is held now: it was
    not a moment ago, when the caller looked for its customer)."""
    values = new_customer(shop_id, cust, contacts, utcnow())
    own = {Channel.email: "email", Channel.sms: "phone"}.get(Channel(channel))
    for column in ("email", "phone"):
        if _taken(session, shop_id, column, values[column]):
            if column == own:
                return None
            values[column] = None
    inserted = session.execute(insert_returning_id(dialect_of(session), customers), values).first()
    return values if inserted is not None else None
