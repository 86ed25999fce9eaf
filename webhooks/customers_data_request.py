"""`customers/data_request` (mandatory compliance topic): Shopify asks what we hold on a customer so
the merchant can answer them. We acknowledge it and log how many records we hold (masked); the
merchant-facing export of those records belongs to the embedded admin."""

import logging

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from shopify_app import coerce
from shopify_app.models import Intent, Shop

from .customers_redact import customer_contacts
from .receive import Delivery, endpoint

TOPIC = "customers/data_request"
log = logging.getLogger(__name__)


def apply(session: Session, delivery: Delivery) -> None:
    payload = delivery.payload if isinstance(delivery.payload, dict) else {}
    customer = payload.get("customer") if isinstance(payload.get("customer"), dict) else {}
    email, phone, _ = customer_contacts(customer, delivery)
    shop_id = session.execute(select(Shop.id).where(Shop.domain == delivery.shop)).scalar_one_or_none()
    held = 0
    match = [c for c in (Intent.email == email if email else None, Intent.phone == phone if phone else None) if c is not None]
    if shop_id is not None and match:
        held = session.execute(
            select(func.count()).select_from(Intent).where(Intent.shop_id == shop_id, or_(*match))
        ).scalar_one()
    request = payload.get("data_request")
    request_id = coerce.shopify_id(request.get("id")) if isinstance(request, dict) else None
    log.info("customer data requested", extra={"data_request_id": request_id, "signups_held": held})


handle = endpoint(TOPIC, apply)
