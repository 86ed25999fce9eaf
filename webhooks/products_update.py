"""`products/update`: keep the variant cache (titles, sku, price, handle, image, inventory item id
and quantity, whether the product is published) that messages are written from; a variant whose
product was published or unpublished is evaluated again (stock_scope.py). Fields are coerced to their columns
(shopify_app/coerce.py): text cut to 255 characters and NUL-free, ids 1..2**63-1, quantities
clamped to 32 bits, prices finite and at most 32 characters, image URLs http(s); a variant without
a usable id is left out, and what was left out or changed is logged by field name."""

import logging

from sqlalchemy.orm import Session

from shopify_app import inventory, jobs
from shopify_app.models import JobKind
from shopify_app.shops import find_installed

from .receive import Delivery, endpoint

TOPIC = "products/update"
log = logging.getLogger(__name__)

# Payload field -> VariantInfo attribute, for saying what was adjusted.
PRODUCT_FIELDS = {"title": "product_title", "handle": "handle"}
VARIANT_FIELDS = {
    "id": "shopify_variant_id",
    "inventory_item_id": "inventory_item_id",
    "sku": "sku",
    "inventory_quantity": "inventory_quantity",
}


def _adjusted(payload: dict, variants: list[inventory.VariantInfo]) -> list[str]:
    """The fields whose stored value is not what the payload said (dropped, cut, clamped)."""
    fields = set()
    sent = (
        [v for v in payload.get("variants") or [] if isinstance(v, dict)]
        if isinstance(payload.get("variants"), list)
        else []
    )
    if isinstance(payload.get("variants"), list) and len(sent) != len(payload["variants"]):
        fields.add("variants[]")
    kept = {v.shopify_variant_id: v for v in variants}
    for raw in sent:
        raw_id = raw.get("id")
        info = kept.get(raw_id) if isinstance(raw_id, int) else None
        if info is None:
            fields.add("variants[].id")
            continue
        for name, attribute in VARIANT_FIELDS.items():
            if raw.get(name) not in (None, "") and raw.get(name) != getattr(info, attribute):
                fields.add(f"variants[].{name}")
        for name, attribute in PRODUCT_FIELDS.items():
            if payload.get(name) not in (None, "") and payload.get(name) != getattr(
                info, attribute
            ):
                fields.add(name)
    return sorted(fields)


def apply(session: Session, delivery: Delivery) -> None:
    shop = find_installed(session, delivery.shop)
    if shop is None or not isinstance(delivery.payload, dict):
        return
    variants = inventory.variants_from_product(delivery.payload)
    stored = inventory.stored_variants(session, shop.id, [v.shopify_variant_id for v in variants])
    for variant in variants:
        inventory.upsert_variant(session, shop.id, variant)
    # Published or unpublished (stock_scope.py): what may alert changed, so decide again.
    jobs.enqueue_many(
        session,
        JobKind.inventory,
        [
            (
                f"{shop.id}:{row['inventory_item_id']}",
                shop.id,
                {"inventory_item_id": row["inventory_item_id"], "trigger": "published"},
            )
            for v in variants
            if (row := stored.get(v.shopify_variant_id)) is not None
            and v.published is not None
            and v.published != row["published"]
            and row["inventory_item_id"] is not None
            and row["levels_synced_at"] is not None
        ],
    )
    adjusted = _adjusted(delivery.payload, variants)
    if adjusted:
        log.warning(
            "product fields dropped or coerced",
            extra={"webhook_id": delivery.webhook_id, "fields": adjusted},
        )


handle = endpoint(TOPIC, apply)
