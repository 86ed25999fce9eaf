"""`inventory_levels/update`: one location's `available` for one inventory item. A bulk inventory
import sends one per item and location, so the request only verifies and records the delivery
with its raw payload (one statement, shared with concurrent requests) and answers 200 once that
is committed. The worker then applies pending deliveries in batches
(shopify_app/inventory_deliveries.py). No call to Shopify and no sending here."""

from shopify_app.inventory_deliveries import TOPIC

from .receive import queued_endpoint

__all__ = ["TOPIC", "handle"]

handle = queued_endpoint(TOPIC)
