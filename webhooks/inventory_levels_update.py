"""`inventory_levels/update`: record one location's `available` (unless a later update is already
stored: deliveries arrive out of order) and enqueue a job to re-evaluate the variant. No call to
Shopify and no sending here: the worker does that."""

import logging

from sqlalchemy.orm import Session

from shopify_app import inventory, jobs
from shopify_app.models import JobKind, utcnow
from shopify_app.shops import find_installed

from .receive import Delivery, endpoint

TOPIC = "inventory_levels/update"
log = logging.getLogger(__name__)


def _positive_int(value) -> int | None:
    if isinstance(value, bool):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None


def apply(session: Session, delivery: Delivery) -> None:
    payload = delivery.payload if isinstance(delivery.payload, dict) else {}
    item_id = _positive_int(payload.get("inventory_item_id"))
    location_id = _positive_int(payload.get("location_id"))
    if item_id is None or location_id is None:
        # Never guess: a level without its item must not alert anyone.
        log.warning("inventory level without item or location ignored", extra={"webhook_id": delivery.webhook_id})
        return
    shop = find_installed(session, delivery.shop)
    if shop is None:
        return
    available = payload.get("available")
    level = inventory.Level(
        location_id=location_id,
        available=available if isinstance(available, int) and not isinstance(available, bool) else None,
        updated_at=inventory.parse_time(payload.get("updated_at")) or delivery.triggered_at or utcnow(),
    )
    if inventory.record_level(session, shop.id, item_id, level):
        jobs.enqueue(session, JobKind.inventory, f"{shop.id}:{item_id}", shop_id=shop.id,
                     payload={"inventory_item_id": item_id})


handle = endpoint(TOPIC, apply)
