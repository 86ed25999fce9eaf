"""`customers/data_request` (mandatory compliance topic): Shopify asks, for the merchant, what we
hold on one customer. The request is filed with the job that assembles it, in the delivery's
transaction, and answered 200 at once; the worker assembles the customer's data, and emails the
merchant that it is ready to download in the admin (`shopify_app/data_requests.py`)."""

import logging

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlmodel import col

from shopify_app import coerce, data_requests
from shopify_app.models import Shop

from .customers_redact import customer_contacts
from .receive import Delivery, endpoint

TOPIC = "customers/data_request"
log = logging.getLogger(__name__)


def apply(session: Session, delivery: Delivery) -> None:
    payload = delivery.payload if isinstance(delivery.payload, dict) else {}
    customer = payload.get("customer")
    customer = customer if isinstance(customer, dict) else {}
    email, phone, shopify_id = customer_contacts(customer, delivery)
    request = payload.get("data_request")
    shopify_request_id = coerce.shopify_id(request.get("id")) if isinstance(request, dict) else None
    shop_id = session.execute(
        select(col(Shop.id)).where(col(Shop.domain) == delivery.shop)
    ).scalar_one_or_none()
    if shop_id is None:
        log.info(
            "customer data requested from an unknown shop: we hold nothing",
            extra={"data_request_id": shopify_request_id},
        )
        return
    request_id = data_requests.file(
        session,
        shop_id,
        shopify_request_id=shopify_request_id,
        email=email,
        phone=phone,
        shopify_customer_id=shopify_id,
    )
    log.info(
        "customer data requested",
        extra={
            "data_request_id": shopify_request_id,
            "request": request_id,
            "identified": bool(email or phone or shopify_id),
        },
    )


handle = endpoint(TOPIC, apply)
