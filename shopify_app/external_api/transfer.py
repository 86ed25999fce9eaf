"""`POST /intents/transfer_signups`: move a variant's signups to another variant (a product
replaced by a new listing), without making duplicates there."""

from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, Engine, exists, func, select, true, update
from sqlalchemy.exc import IntegrityError

from .. import unsent
from ..errors import ApiError
from ..models import Intent, IntentStatus, Notification, NotificationStatus, Variant, utcnow

intents, notifications, variants = Intent.__table__, Notification.__table__, Variant.__table__

WHICH: dict[str, Callable[[], Any]] = {
    "unsent": lambda: ~unsent.was_sent(),
    "sent": unsent.was_sent,
    "all": true,
}


def transfer(
    engine: Engine, shop_id: int, source: dict[str, Any], target: dict[str, Any], kind: str
) -> dict[str, Any]:
    """`{"transferred_count": N, "duplicates_cancelled": [ids]}`; 409 when signups keep changing."""
    moving = [
        intents.c.shop_id == shop_id,
        intents.c.shopify_variant_id == source["variant"],
        WHICH[kind](),
    ]
    if source["product"] is not None:
        moving.append(intents.c.shopify_product_id == source["product"])
    for attempt in range(3):  # a signup for the target filed meanwhile makes a new twin: try again
        try:
            with engine.begin() as connection:
                moved, cancelled = _transfer_in(connection, shop_id, moving, target)
            return {"transferred_count": moved, "duplicates_cancelled": cancelled}
        except IntegrityError:
            if attempt == 2:
                raise ApiError.stoq(
                    409, "Signups changed during the transfer; please try again"
                ) from None
    raise AssertionError("unreachable")


def _transfer_in(
    connection: Connection, shop_id: int, moving: list[Any], target: dict[str, Any]
) -> tuple[int, list[int]]:
    now = utcnow()
    # An alert held for the old variant's restock says nothing of the new one: it is cancelled, and
    # the signup waits for the new variant's restock (or the merchant's "notify now").
    connection.execute(
        update(notifications)
        .where(
            notifications.c.status == NotificationStatus.held.value,
            notifications.c.intent_id.in_(select(intents.c.id).where(*moving)),
        )
        .values(
            status=NotificationStatus.cancelled.value,
            last_error="signup transferred to another variant",
            updated_at=now,
        )
    )
    twin = intents.alias("twin")
    has_twin = exists().where(
        twin.c.shop_id == shop_id,
        twin.c.shopify_variant_id == target["variant"],
        func.coalesce(twin.c.shopify_market_id, 0) == func.coalesce(intents.c.shopify_market_id, 0),
        twin.c.channel == intents.c.channel,
        twin.c.contact_key == intents.c.contact_key,
        twin.c.status == IntentStatus.pending.value,
    )
    pending = intents.c.status == IntentStatus.pending.value
    # A pending signup whose twin already waits on the target would be a duplicate there: cancelled.
    duplicates = connection.execute(
        update(intents)
        .where(*moving, pending, has_twin)
        .values(status=IntentStatus.cancelled.value, updated_at=now)
        .returning(intents.c.id)
    ).all()
    cached = connection.execute(
        select(
            variants.c.inventory_item_id, variants.c.product_title, variants.c.variant_title
        ).where(variants.c.shop_id == shop_id, variants.c.shopify_variant_id == target["variant"])
    ).first()
    if duplicates:
        moving = [*moving, intents.c.id.not_in([r.id for r in duplicates])]
    moved = connection.execute(
        update(intents)
        .where(*moving)
        .values(
            shopify_variant_id=target["variant"],
            shopify_product_id=target["product"],
            shopify_inventory_item_id=cached.inventory_item_id if cached else None,
            product_title=cached.product_title if cached else None,
            variant_title=cached.variant_title if cached else None,
            updated_at=now,
        )
        .returning(intents.c.id)
    ).all()
    return len(moved), sorted(r.id for r in duplicates)
