"""The rows a signup writes and the answer it gets: the intent row (`new_intent`) and the public
intent (`to_public`), with the statements' shared helpers."""

from dataclasses import dataclass, field
from functools import cache
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.orm import Session

from .contacts import shown_contact
from .db import dialect_insert_for
from .models import Channel, IntentSource, IntentStatus
from .schemas import IntentPublic, IntentRequest
from .shops import ShopRef
from .signup_contacts import Contacts, contact_key

CONFIRMED_CHANNELS = (
    Channel.email,
    Channel.sms,
)  # a push signup is itself the browser's explicit permission

Executor = Session | Connection


@cache
def insert_returning_id(dialect: str, table: Table):
    """`INSERT ... ON CONFLICT DO NOTHING RETURNING id` for `table`, built once per dialect."""
    return dialect_insert_for(dialect, table).on_conflict_do_nothing().returning(table.c.id)


@dataclass
class CreateResult:
    intents: list[IntentPublic] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    created: bool = False


def first_row(session: Executor, statement, **params) -> dict[str, Any] | None:
    row = session.execute(statement, params).mappings().first()
    return dict(row) if row is not None else None


def new_intent(
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
        contact=shown_contact(intent["channel"], contacts.email, contacts.phone),
        accepts_marketing=request.customer.accepts_marketing is True,
        customer_id=intent["customer_id"] if mine else None,
        customer_name=request.customer.name,
        customer_unsubscribed_at=customer["unsubscribed_at"] if mine and customer else None,
        notifications_count=intent["sent_notifications_count"],
    )
    return IntentPublic(**fields)
