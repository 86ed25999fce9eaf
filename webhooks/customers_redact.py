"""`customers/redact` (mandatory compliance topic): erase what we hold on one customer of a shop:
their customer rows and every signup made with their email or phone."""

import logging

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from shopify_app import coerce
from shopify_app.contacts import normalize_email, normalize_phone
from shopify_app.models import Customer, Intent, Shop

from .receive import Delivery, endpoint

TOPIC = "customers/redact"
log = logging.getLogger(__name__)


def customer_contacts(customer: dict, delivery: Delivery | None = None) -> tuple[str | None, str | None, str | None]:
    """The customer's normalised email, E.164 phone and Shopify id, each None when absent or
    unusable (a number for an email, a list for an id, NUL anywhere); what was unusable is logged
    by field name, never by value."""
    email = phone = None
    raw_email, raw_phone, raw_id = customer.get("email"), customer.get("phone"), customer.get("id")
    text = coerce.text(raw_email, 320)
    if text:
        try:
            email = normalize_email(text)
        except ValueError:  # ContactError, and the IDNA codec's errors
            pass
    text = coerce.text(raw_phone, 64)
    if text:
        try:
            phone = normalize_phone(text)
        except ValueError:
            pass
    shopify_id = coerce.shopify_id(raw_id)
    unusable = [name for name, raw, kept in (("customer.email", raw_email, email), ("customer.phone", raw_phone, phone),
                                              ("customer.id", raw_id, shopify_id)) if raw not in (None, "") and kept is None]
    if unusable:
        log.warning("customer fields unusable", extra={"topic": delivery.topic if delivery else None,
                                                        "webhook_id": delivery.webhook_id if delivery else None,
                                                        "fields": unusable})
    return email, phone, None if shopify_id is None else str(shopify_id)


def apply(session: Session, delivery: Delivery) -> None:
    payload = delivery.payload if isinstance(delivery.payload, dict) else {}
    customer = payload.get("customer") if isinstance(payload.get("customer"), dict) else {}
    shop_id = session.execute(select(Shop.id).where(Shop.domain == delivery.shop)).scalar_one_or_none()
    email, phone, shopify_id = customer_contacts(customer, delivery)
    if shop_id is None or not (email or phone or shopify_id):
        return
    who = [c for c in (
        Customer.email == email if email else None,
        Customer.phone == phone if phone else None,
        Customer.shopify_customer_id == shopify_id if shopify_id else None,
    ) if c is not None]
    ids = select(Customer.id).where(Customer.shop_id == shop_id, or_(*who))
    contact = [c for c in (Intent.email == email if email else None, Intent.phone == phone if phone else None) if c is not None]
    session.execute(delete(Intent).where(Intent.shop_id == shop_id, or_(Intent.customer_id.in_(ids), *contact)))
    session.execute(delete(Customer).where(Customer.shop_id == shop_id, or_(*who)))


handle = endpoint(TOPIC, apply)
