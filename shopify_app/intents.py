"""Creating and de-duplicating signups: the one service behind every entry point (public API,
app proxy, merchant API). Callers parse and authenticate; this decides what is stored."""

from dataclasses import dataclass, field
from functools import cache
from typing import Any

from sqlalchemy import Connection, Table, bindparam, func, select, text, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from .contacts import ContactError, normalize_email, normalize_phone, parse_push_subscription
from .db import dialect_insert_for, dialect_of
from .models import Channel, Customer, Intent, IntentSource, IntentStatus, new_uuid, utcnow
from .schemas import CustomerIn, IntentPublic, IntentRequest
from .shops import INSTALLED, ShopRef, shops

customers = Customer.__table__
intents = Intent.__table__

# Built once, values bound at execution: this is the hottest path of the public API, and building
# and cache-keying statements per request cost more than running them.
_CUSTOMER_BY = {
    column: select(customers).where(customers.c.shop_id == bindparam("shop_id"),
                                    customers.c[column] == bindparam("value")).limit(1)
    for column in ("id", "email", "phone")
}
_CONTACT_TAKEN = {
    column: select(customers.c.id).where(customers.c.shop_id == bindparam("shop_id"),
                                         customers.c[column] == bindparam("value")).limit(1)
    for column in ("email", "phone")
}


@cache
def _insert_returning_id(dialect: str, table: Table):
    """`INSERT ... ON CONFLICT DO NOTHING RETURNING id` for `table`, built once per dialect."""
    return dialect_insert_for(dialect, table).on_conflict_do_nothing().returning(table.c.id)


_PENDING_INTENT = select(intents).where(
    intents.c.customer_id == bindparam("customer_id"),
    intents.c.shopify_variant_id == bindparam("shopify_variant_id"),
    func.coalesce(intents.c.shopify_market_id, 0) == bindparam("market"),
    intents.c.channel == bindparam("channel"),
    intents.c.status == IntentStatus.pending.value,
).limit(1)

Executor = Session | Connection


@dataclass
class CreateResult:
    intents: list[IntentPublic] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    created: bool = False


@dataclass
class Contacts:
    email: str | None = None
    phone: str | None = None
    push: str | None = None


def _contacts(request: IntentRequest, push_allowlist: frozenset[str]) -> Contacts:
    """The channel's contact must be valid (ContactError); others are kept only when valid."""
    cust, channel = request.customer, request.intent.channel
    found = Contacts()
    checks = {
        Channel.email: ("email", lambda: normalize_email(cust.email)),
        Channel.sms: ("phone", lambda: normalize_phone(cust.phone, cust.country_code, cust.country)),
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
    return found


def _find_customer(session: Executor, shop_id: int, cust: CustomerIn, contacts: Contacts):
    for column, value in (("id", cust.id), ("email", contacts.email), ("phone", contacts.phone)):
        if value:
            row = session.execute(_CUSTOMER_BY[column], {"shop_id": shop_id, "value": value}).mappings().first()
            if row is not None:
                return row
    return None


def _customer_changes(row, cust: CustomerIn, contacts: Contacts, session: Executor) -> dict[str, Any]:
    wanted = {
        "name": cust.name,
        "locale": cust.locale,
        "country": cust.country.lower() if cust.country else None,
        "accepts_marketing": cust.accepts_marketing,
        "shopify_customer_id": cust.shopify_customer_id,
        "email": contacts.email,
        "phone": contacts.phone,
    }
    changes = {k: v for k, v in wanted.items() if v is not None and row[k] != v}
    for contact in ("email", "phone"):
        # Never take an address another customer of the shop already has.
        if contact in changes and session.execute(
            _CONTACT_TAKEN[contact], {"shop_id": row["shop_id"], "value": changes[contact]}
        ).first():
            del changes[contact]
    return changes


def _new_customer(shop_id: int | None, cust: CustomerIn, contacts: Contacts, now) -> dict[str, Any]:
    return {
        "id": new_uuid(),
        "shop_id": shop_id,
        "email": contacts.email,
        "phone": contacts.phone,
        "name": cust.name,
        "locale": cust.locale,
        "country": cust.country.lower() if cust.country else None,
        "accepts_marketing": bool(cust.accepts_marketing),
        "shopify_customer_id": cust.shopify_customer_id,
        "unsubscribed_at": None,
        "created_at": now,
        "updated_at": now,
    }


def _resolve_customer(session: Executor, shop_id: int, cust: CustomerIn, contacts: Contacts):
    now = utcnow()
    row = _find_customer(session, shop_id, cust, contacts)
    if row is None:
        values = _new_customer(shop_id, cust, contacts, now)
        inserted = session.execute(_insert_returning_id(dialect_of(session), customers), values).first()
        if inserted is not None:
            return values
        # Another request created the same customer a moment ago: use theirs.
        row = _find_customer(session, shop_id, CustomerIn(), contacts)
        if row is None:
            raise RuntimeError("customer vanished between insert and select")
    changes = _customer_changes(row, cust, contacts, session)
    if changes:
        changes["updated_at"] = now
        session.execute(update(customers).where(customers.c.id == row["id"]).values(**changes))
        return {**row, **changes}
    return dict(row)


def _pending_intent(session: Executor, customer_id: str, values: dict[str, Any]):
    return session.execute(_PENDING_INTENT, {
        "customer_id": customer_id, "shopify_variant_id": values["shopify_variant_id"],
        "market": values["shopify_market_id"] or 0, "channel": values["channel"],
    }).mappings().first()


def to_public(intent: dict[str, Any], customer: dict[str, Any]) -> IntentPublic:
    contact = {"email": intent["email"], "sms": intent["phone"], "push": "push"}.get(intent["channel"])
    return IntentPublic(
        **{k: intent[k] for k in IntentPublic.model_fields if k in intent},
        contact=contact,
        accepts_marketing=customer["accepts_marketing"],
        customer_name=customer["name"],
        customer_unsubscribed_at=customer["unsubscribed_at"],
        notifications_count=intent["sent_notifications_count"],
    )


def _new_intent(shop: ShopRef, customer_id: str | None, request: IntentRequest, contacts: Contacts,
                source: IntentSource, now) -> dict[str, Any]:
    spec, product = request.intent, request.product
    return {
        "shop_id": shop.id,
        "customer_id": customer_id,
        "channel": spec.channel,
        "email": contacts.email,
        "phone": contacts.phone,
        "push_subscription": contacts.push if spec.channel == Channel.push else None,
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
        "optin_confirmed": not shop.double_optin,
        "notified_at": None,
        "unsubscribed_at": None,
        "blocked_at": None,
        "sent_notifications_count": 0,
        "created_at": now,
        "updated_at": now,
    }


def create(
    session: Executor,
    shop: ShopRef,
    request: IntentRequest,
    *,
    source: IntentSource,
    push_allowlist: frozenset[str],
) -> CreateResult:
    """File a signup, or return the pending one it repeats. The caller commits."""
    try:
        contacts = _contacts(request, push_allowlist)
    except ContactError as exc:
        return CreateResult(errors=[str(exc)])
    customer = _resolve_customer(session, shop.id, request.customer, contacts)
    values = _new_intent(shop, customer["id"], request, contacts, source, utcnow())
    inserted = session.execute(_insert_returning_id(dialect_of(session), intents), values).first()
    if inserted is not None:
        return CreateResult(intents=[to_public({**values, "id": inserted.id}, customer)], created=True)
    existing = _pending_intent(session, customer["id"], values)
    if existing is None:
        raise RuntimeError("pending intent vanished between insert and select")
    return CreateResult(intents=[to_public(dict(existing), customer)])


# -- PostgreSQL: a first signup in one statement ------------------------------------------------
# Most signups come from a shopper the shop has never seen. On PostgreSQL their whole write (the
# shop check, "is this shopper known?", the customer, the intent) is one statement with
# data-modifying CTEs instead of four round trips. Anything else (a known shopper, a repeat, a
# race) inserts nothing there and takes the general path above, which has the last word.


@cache
def _first_signup_statement(customer_keys: tuple[str, ...], intent_keys: tuple[str, ...]):
    dialect = postgresql.dialect()

    def given(table, prefix: str, key: str) -> str:  # typed, so a NULL is the column's type
        return f"CAST(:{prefix}{key} AS {table.c[key].type.compile(dialect=dialect)})"

    own = {"shop_id": "s.id", "customer_id": "c.id", "optin_confirmed": "NOT s.double_optin"}
    sql = f"""
WITH s AS (
  SELECT id, double_optin FROM {shops.name}
  WHERE domain = :domain AND {INSTALLED.compile(dialect=dialect)}
), c AS (
  INSERT INTO {customers.name} ({", ".join(customer_keys)})
  SELECT {", ".join("s.id" if k == "shop_id" else given(customers, "c_", k) for k in customer_keys)} FROM s
  WHERE NOT EXISTS (SELECT 1 FROM {customers.name} k WHERE k.shop_id = s.id
                    AND (k.email = CAST(:c_email AS VARCHAR) OR k.phone = CAST(:c_phone AS VARCHAR)))
  ON CONFLICT DO NOTHING RETURNING id
), i AS (
  INSERT INTO {intents.name} ({", ".join(intent_keys)})
  SELECT {", ".join(own.get(k) or given(intents, "i_", k) for k in intent_keys)} FROM s, c
  ON CONFLICT DO NOTHING RETURNING id
)
SELECT s.id, s.double_optin, (SELECT id FROM i) AS intent_id FROM s"""
    return text(sql)


def create_first_signup(
    connection: Connection, domain: str, request: IntentRequest, *, source: IntentSource,
    push_allowlist: frozenset[str],
) -> tuple[ShopRef | None, CreateResult | None] | None:
    """PostgreSQL only. (None, None): the shop has not installed the app. (shop, result): filed.
    (shop, None): not a first signup, use `create` with that shop. None: not tried (the contact
    is invalid or the request names a customer id), use the general path."""
    if request.customer.id:
        return None
    try:
        contacts = _contacts(request, push_allowlist)
    except ContactError:
        return None
    now = utcnow()
    customer = _new_customer(None, request.customer, contacts, now)
    intent = _new_intent(ShopRef(0), customer["id"], request, contacts, source, now)
    statement = _first_signup_statement(tuple(customer), tuple(intent))
    params = {"domain": domain, **{f"c_{k}": v for k, v in customer.items()},
              **{f"i_{k}": v for k, v in intent.items()}}
    row = connection.execute(statement, params).first()
    if row is None:
        return None, None
    shop = ShopRef(id=row.id, double_optin=row.double_optin)
    if row.intent_id is None:
        return shop, None
    customer["shop_id"] = intent["shop_id"] = shop.id
    intent.update(id=row.intent_id, optin_confirmed=not shop.double_optin)
    return shop, CreateResult(intents=[to_public(intent, customer)], created=True)
