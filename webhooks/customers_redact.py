"""`customers/redact` (mandatory compliance topic): erase what identifies one customer of a shop:
their customer rows and every signup made by them or with their email or phone keep no contact
(`shopify_app/privacy.py`); the shop's figures stay."""

import contextlib
import logging

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlmodel import col

from shopify_app import coerce, privacy
from shopify_app.contacts import NotAscii, email_forms, normalize_email, normalize_phone
from shopify_app.models import Shop

from .receive import Delivery, endpoint

TOPIC = "customers/redact"
log = logging.getLogger(__name__)


def customer_contacts(
    customer: dict, delivery: Delivery | None = None
) -> tuple[str | None, str | None, str | None]:
    """The customer's normalised email, E.164 phone and Shopify id, each None when absent or
    unusable (a number for an email, a list for an id, NUL anywhere); what was unusable is logged
    by field name, never by value."""
    email = phone = None
    raw_email, raw_phone, raw_id = customer.get("email"), customer.get("phone"), customer.get("id")
    text = coerce.text(raw_email, 320)
    if text:
        try:
            email = normalize_email(text)
        except NotAscii:  # never stored now, but older signups may hold it
            email = next(iter(email_forms(text)), None)
        except ValueError:  # ContactError, and the IDNA codec's errors
            pass
    text = coerce.text(raw_phone, 64)
    if text:
        with contextlib.suppress(ValueError):
            phone = normalize_phone(text)
    shopify_id = coerce.shopify_id(raw_id)
    unusable = [
        name
        for name, raw, kept in (
            ("customer.email", raw_email, email),
            ("customer.phone", raw_phone, phone),
            ("customer.id", raw_id, shopify_id),
        )
        if raw not in (None, "") and kept is None
    ]
    if unusable:
        log.warning(
            "customer fields unusable",
            extra={
                "topic": delivery.topic if delivery else None,
                "webhook_id": delivery.webhook_id if delivery else None,
                "fields": unusable,
            },
        )
    return email, phone, None if shopify_id is None else str(shopify_id)


def apply(session: Session, delivery: Delivery) -> None:
    payload = delivery.payload if isinstance(delivery.payload, dict) else {}
    customer = payload.get("customer")
    customer = customer if isinstance(customer, dict) else {}
    shop_id = session.execute(
        select(col(Shop.id)).where(col(Shop.domain) == delivery.shop)
    ).scalar_one_or_none()
    email, phone, shopify_id = customer_contacts(customer, delivery)
    if shop_id is not None:
        privacy.redact_customer(session, shop_id, email=email, phone=phone, shopify_id=shopify_id)


handle = endpoint(TOPIC, apply)
