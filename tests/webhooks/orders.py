"""Shared by the orders/create and kept-days tests: an alerted signup as the app stores one, an
order as Shopify sends it, and its signed delivery."""

import json
import uuid
from datetime import timedelta

from sqlalchemy import insert, select

from shopify_app.models import Customer, Intent, Notification, RestockEvent, Shop, utcnow

from ..support import webhook_headers

SHOP = "demo-shop.myshopify.com"
OTHER = "other-shop.myshopify.com"
VARIANT, OTHER_VARIANT = 40001, 40002
# Alerts are sent well in the past, so every order time here is one Shopify could send (coerce
# refuses times more than a day ahead).
SENT = utcnow().replace(microsecond=0) - timedelta(days=20)


def shop_id(engine, domain=SHOP) -> int:
    with engine.connect() as connection:
        return connection.execute(
            select(Shop.__table__.c.id).where(Shop.__table__.c.domain == domain)
        ).scalar_one()


def alerted(
    engine,
    domain=SHOP,
    *,
    email=None,
    phone=None,
    shopify_customer_id=None,
    variant=VARIANT,
    sent_at=SENT,
    status="sent",
    kind="alert",
    customer_email=None,
) -> int:
    """A signup (and its customer) alerted at `sent_at`: the notification's id."""
    shop = shop_id(engine, domain)
    channel = "email" if email else "sms" if phone else "push"
    customers = Customer.__table__
    with engine.begin() as connection:
        customer = connection.execute(
            select(customers.c.id).where(  # one customer per shop and address
                customers.c.shop_id == shop, customers.c.email == (customer_email or email)
            )
        ).scalar()
        if customer is None:
            customer = str(uuid.uuid4())
            connection.execute(
                insert(customers).values(
                    id=customer,
                    shop_id=shop,
                    email=customer_email or email,
                    phone=phone,
                    shopify_customer_id=shopify_customer_id,
                    created_at=sent_at,
                    updated_at=sent_at,
                )
            )
        intent = connection.execute(
            insert(Intent.__table__).values(
                shop_id=shop,
                customer_id=customer,
                channel=channel,
                email=email,
                phone=phone,
                contact_key=uuid.uuid4().hex,
                status="notified",
                shopify_variant_id=variant,
                shopify_product_id=9,
                notified_at=sent_at,
                created_at=sent_at - timedelta(days=3),
                updated_at=sent_at,
            )
        ).inserted_primary_key[0]
        event = connection.execute(
            insert(RestockEvent.__table__).values(
                shop_id=shop,
                shopify_variant_id=variant,
                stock_before=0,
                stock_after=5,
                policy="all",
                trigger="webhook",
                created_at=sent_at,
            )
        ).inserted_primary_key[0]
        return connection.execute(
            insert(Notification.__table__).values(
                shop_id=shop,
                intent_id=intent,
                restock_event_id=None if kind == "optin" else event,
                kind=kind,
                channel=channel,
                status=status,
                attempts=1,
                sent_at=sent_at if status == "sent" else None,
                next_attempt_at=sent_at,
                created_at=sent_at,
                updated_at=sent_at,
            )
        ).inserted_primary_key[0]


def order(
    *,
    at,
    order_id=820982911946154508,
    email=None,
    phone=None,
    customer=None,
    lines=None,
    currency="EUR",
):
    return {
        "id": order_id,
        "email": email,
        "phone": phone,
        "customer": customer,
        "currency": currency,
        "created_at": at.isoformat(),
        "total_price": "59.97",
        "line_items": lines
        if lines is not None
        else [
            {
                "id": 466157049,
                "variant_id": VARIANT,
                "product_id": 9,
                "quantity": 3,
                "price": "19.99",
            },
        ],
    }


def deliver(client, payload, *, webhook_id=None, event_id=None, shop=SHOP, body=None):
    body = body if body is not None else json.dumps(payload).encode()
    headers = webhook_headers(
        body,
        "orders/create",
        shop,
        webhook_id=webhook_id or uuid.uuid4().hex,
        event_id=event_id or uuid.uuid4().hex,
    )
    response = client.post("/webhooks/orders/create", content=body, headers=headers)
    assert response.status_code == 200, response.text
    return response
