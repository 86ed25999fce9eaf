"""`products/update`: keep the variant cache (titles, sku, price, handle, image, inventory item id
and quantity) that messages are written from."""

from sqlalchemy.orm import Session

from shopify_app import inventory
from shopify_app.shops import find_installed

from .receive import Delivery, endpoint

TOPIC = "products/update"


def apply(session: Session, delivery: Delivery) -> None:
    shop = find_installed(session, delivery.shop)
    if shop is None or not isinstance(delivery.payload, dict):
        return
    for variant in inventory.variants_from_product(delivery.payload):
        inventory.upsert_variant(session, shop.id, variant)


handle = endpoint(TOPIC, apply)
