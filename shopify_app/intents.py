"""Creating and de-duplicating signups: the one service behind every entry point (public API,
app proxy, merchant API). Callers parse and authenticate; this decides what is stored."""

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, bindparam, func, select, update
from sqlalchemy.orm import Session

from .contacts import ContactError, normalize_email, normalize_phone, parse_push_subscription
from .db import PerDialect, dialect_insert_for
from .models import Channel, Customer, Intent, IntentSource, IntentStatus, new_uuid, utcnow
from .schemas import CustomerIn, IntentPublic, IntentRequest

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
_INSERT_CUSTOMER = PerDialect(lambda d: dialect_insert_for(d, customers).on_conflict_do_nothing()
                              .returning(customers.c.id))
_INSERT_INTENT = PerDialect(lambda d: dialect_insert_for(d, intents).on_conflict_do_nothing()
                            .returning(intents.c.id))
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


@dataclass(frozen=True)
class ShopRef:
    """What the service needs to know of the shop it files the signup under."""

    id: int
    double_optin: bool = False


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


def _resolve_customer(session: Executor, shop_id: int, cust: CustomerIn, contacts: Contacts):
    now = utcnow()
    row = _find_customer(session, shop_id, cust, contacts)
    if row is None:
        values = {
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
        inserted = session.execute(_INSERT_CUSTOMER.of(session), values).first()
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
    spec, product = request.intent, request.product
    market = spec.shopify_market_id or request.customer.shopify_market_id
    now = utcnow()
    values = {
        "shop_id": shop.id,
        "customer_id": customer["id"],
        "channel": spec.channel,
        "email": contacts.email,
        "phone": contacts.phone,
        "push_subscription": contacts.push if spec.channel == Channel.push else None,
        "quantity": spec.quantity,
        "source": source.value,
        "status": IntentStatus.pending.value,
        "shopify_variant_id": spec.shopify_variant_id,
        "shopify_product_id": spec.shopify_product_id,
        "shopify_market_id": market,
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
    inserted = session.execute(_INSERT_INTENT.of(session), values).first()
    if inserted is not None:
        return CreateResult(intents=[to_public({**values, "id": inserted.id}, customer)], created=True)
    existing = _pending_intent(session, customer["id"], values)
    if existing is None:
        raise RuntimeError("pending intent vanished between insert and select")
    return CreateResult(intents=[to_public(dict(existing), customer)])
