"""The first signup for a variant the app has not seen queues a `variant_read` job: its product and
variant titles, SKU, price, handle and image are read from the Admin API into the variant cache, so
lists, exports and alerts name it from Shopify (never from what a shopper sent) before any
`products/update` arrives. Stock is left alone: levels are read when stock changes or on
reconciliation, and only those decide restocks."""

from datetime import datetime
from typing import TYPE_CHECKING, Any

from anyio import to_thread
from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from . import coerce, inventory, inventory_queries, jobs
from .models import JobKind, Variant

if TYPE_CHECKING:  # the signup path imports this module: it needs none of the worker's
    from .job_context import JobContext, ShopRow

variants = Variant.__table__

VARIANT_QUERY = (
    inventory_queries.VARIANT_FIELDS
    + """
query VariantDetails($id: ID!) {
  productVariant(id: $id) {
    ...VariantFields
    inventoryItem { legacyResourceId }
  }
}
"""
)


def job_key(shop_id: int, variant_id: int) -> str:
    return f"{shop_id}:{variant_id}"


def job_row(variant_id: int, now: datetime) -> dict[str, Any]:
    """The job's row with a placeholder shop and key, for the first-signup statement: it knows the
    shop's id only inside the statement and sets both there (as `job_key` does)."""
    return jobs.job_row(JobKind.variant_read, "", None, {"variant_id": variant_id}, None, now)


def queue_if_unseen(session: Session | Connection, shop_id: int, variant_id: int) -> None:
    """Queue the read unless the variant is in the cache (or a read of it is pending)."""
    known = session.execute(
        select(variants.c.id).where(
            variants.c.shop_id == shop_id, variants.c.shopify_variant_id == variant_id
        )
    ).first()
    if known is None:
        jobs.enqueue(
            session,
            JobKind.variant_read,
            job_key(shop_id, variant_id),
            shop_id=shop_id,
            payload={"variant_id": variant_id},
        )


def parse(data: dict[str, Any]) -> inventory.VariantInfo | None:
    node = data.get("productVariant")
    if not isinstance(node, dict) or not node.get("legacyResourceId"):
        return None  # deleted since the signup, or not a variant: nothing to cache
    item = node.get("inventoryItem")
    item_id = coerce.shopify_id(item.get("legacyResourceId") if isinstance(item, dict) else None)
    return inventory_queries.variant_from_api(node, item_id)


async def read_variant(ctx: "JobContext", shop: "ShopRow", job: jobs.ClaimedJob) -> None:
    variant_id = int(job.payload["variant_id"])
    data = await ctx.api(shop).query(
        VARIANT_QUERY, {"id": inventory_queries.gid("ProductVariant", variant_id)}
    )
    info = parse(data)
    if info is not None:
        await to_thread.run_sync(ctx.in_session, _store, shop["id"], info)


def _store(session: Session, shop_id: int, info: inventory.VariantInfo) -> None:
    inventory.upsert_variant(session, shop_id, info)
