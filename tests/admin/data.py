"""Rows for the admin's tests, written straight to the tables."""

import uuid
from datetime import timedelta

from sqlalchemy import insert

from shopify_app.models import (
    Customer,
    Intent,
    Location,
    Notification,
    RestockEvent,
    Variant,
    utcnow,
)


def add_intents(
    engine,
    shop_id: int,
    n: int,
    *,
    channel: str = "email",
    status: str = "pending",
    variant: int = 1001,
    product_title: str = "Linen shirt",
    created_at=None,
    start: int = 0,
    source: str = "proxy",
    accepts_marketing: bool = False,
) -> list[int]:
    now = created_at or utcnow()
    ids = []
    with engine.begin() as connection:
        for i in range(start, start + n):
            customer = str(uuid.uuid4())
            email = f"shopper{i}@example.com" if channel == "email" else None
            phone = f"+1415555{i:04d}" if channel == "sms" else None
            connection.execute(
                insert(Customer.__table__).values(
                    id=customer,
                    shop_id=shop_id,
                    email=email,
                    phone=phone,
                    created_at=now,
                    updated_at=now,
                )
            )
            result = connection.execute(
                insert(Intent.__table__).values(
                    shop_id=shop_id,
                    customer_id=customer,
                    channel=channel,
                    email=email,
                    phone=phone,
                    contact_key=f"{channel}:{i}:{uuid.uuid4().hex[:8]}",
                    status=status,
                    shopify_variant_id=variant,
                    shopify_product_id=variant + 5000,
                    product_title=product_title,
                    variant_title="Blue / M",
                    source=source,
                    accepts_marketing=accepts_marketing,
                    consent_at=now if accepts_marketing else None,
                    notified_at=now if status == "notified" else None,
                    created_at=now,
                    updated_at=now,
                )
            )
            ids.append(result.inserted_primary_key[0])
    return ids


def add_variant(
    engine,
    shop_id: int,
    variant: int = 1001,
    sellable: int = 0,
    restocked_days_ago: int | None = 3,
    *,
    product_title: str = "Linen shirt",
    variant_title: str | None = "Blue / M",
    sku: str | None = "LS-BM",
) -> None:
    with engine.begin() as connection:
        connection.execute(
            insert(Variant.__table__).values(
                shop_id=shop_id,
                shopify_variant_id=variant,
                shopify_product_id=variant + 5000,
                product_title=product_title,
                variant_title=variant_title,
                sku=sku,
                sellable=sellable,
                restocked_at=utcnow() - timedelta(days=restocked_days_ago)
                if restocked_days_ago is not None
                else None,
            )
        )


def add_delivery(
    engine,
    shop_id: int,
    intent_id: int,
    *,
    status: str = "sent",
    channel: str = "email",
    error: str | None = None,
    variant: int = 1001,
    when=None,
    policy: str = "all",
    trigger: str = "webhook",
    stock_before: int | None = 0,
    stock_after: int = 5,
    batch_number: int = 1,
    chosen: int = 1,
    waiting: int | None = None,
    batch_size: int | None = None,
    location_ids: str | None = None,
) -> tuple[int, int]:
    now = when or utcnow()
    with engine.begin() as connection:
        event = connection.execute(
            insert(RestockEvent.__table__).values(
                shop_id=shop_id,
                shopify_variant_id=variant,
                stock_before=stock_before,
                stock_after=stock_after,
                policy=policy,
                trigger=trigger,
                batch_number=batch_number,
                chosen=chosen,
                waiting=waiting,
                batch_size=batch_size,
                location_ids=location_ids,
                created_at=now,
            )
        ).inserted_primary_key[0]
        notification = connection.execute(
            insert(Notification.__table__).values(
                shop_id=shop_id,
                intent_id=intent_id,
                restock_event_id=event,
                kind="alert",
                channel=channel,
                status=status,
                attempts=0 if status in ("pending", "held") else 1,
                last_error=error,
                sent_at=now if status == "sent" else None,
                next_attempt_at=now,
                created_at=now,
                updated_at=now,
            )
        ).inserted_primary_key[0]
    return event, notification


def add_location(engine, shop_id: int, location_id: int, name: str) -> None:
    with engine.begin() as connection:
        connection.execute(
            insert(Location.__table__).values(
                shop_id=shop_id, location_id=location_id, name=name, updated_at=utcnow()
            )
        )
