"""The Admin API documents that read stock (an inventory item's variant and levels; the variants
with pending signups, for reconciliation), and reading their answers into `inventory` records."""

from typing import Any

from . import coerce, stock_scope
from .inventory import TEXT, ItemStock, Level, VariantInfo, variant_title
from .models import utcnow

# Images through media: ProductVariant.image and Product.featuredImage are deprecated (2026-10).
# A level's location by its `id` only: every other Location field needs the read_locations scope
# (since 2024-07), which a shop that installed before the app asked for it has not granted.
VARIANT_FIELDS = """
fragment VariantFields on ProductVariant {
  id
  legacyResourceId
  title
  sku
  price
  media(first: 1) { nodes { preview { image { url } } } }
  product {
    id legacyResourceId title handle status onlineStoreUrl
    featuredMedia { preview { image { url } } }
  }
}
"""
LEVEL_FIELDS = """
fragment LevelFields on InventoryLevel {
  location { id }
  quantities(names: ["available"]) { name quantity }
  updatedAt
}
"""

# Resolve an inventory item to its variant, with every location's level. An item belongs to one
# variant; `InventoryItem.variant` is deprecated (2026-10) for the `variants` connection.
ITEM_QUERY = (
    VARIANT_FIELDS
    + LEVEL_FIELDS
    + """
query InventoryItemStock($id: ID!) {
  inventoryItem(id: $id) {
    legacyResourceId
    tracked
    variants(first: 1) { nodes { ...VariantFields } }
    inventoryLevels(first: 100) { nodes { ...LevelFields } }
  }
}
"""
)

# Re-read stock for variants that have pending signups (reconciliation).
VARIANTS_QUERY = (
    VARIANT_FIELDS
    + LEVEL_FIELDS
    + """
query VariantsStock($ids: [ID!]!) {
  nodes(ids: $ids) {
    ... on ProductVariant {
      ...VariantFields
      inventoryItem {
        legacyResourceId
        tracked
        inventoryLevels(first: 100) { nodes { ...LevelFields } }
      }
    }
  }
}
"""
)


def gid(kind: str, legacy_id: int) -> str:
    return f"gid://shopify/{kind}/{legacy_id}"


def legacy_id(global_id: str) -> int:
    """`gid://shopify/Location/655441491` -> 655441491."""
    found = coerce.shopify_id(global_id.rsplit("/", 1)[-1])
    if found is None:
        raise ValueError(f"not a Shopify global id: {global_id[:80]!r}")
    return found


def variant_from_api(node: dict[str, Any], item_id: int | None) -> VariantInfo:
    product = _dict(node.get("product"))
    image = _media_image(_first(_dict(node.get("media")).get("nodes"))) or _media_image(
        product.get("featuredMedia")
    )
    return VariantInfo(
        shopify_variant_id=int(node["legacyResourceId"]),
        shopify_product_id=int(product["legacyResourceId"]),
        inventory_item_id=item_id,
        product_title=coerce.text(product.get("title"), TEXT),
        variant_title=variant_title(node.get("title")),
        sku=coerce.text(node.get("sku"), TEXT),
        price=coerce.price(node.get("price")),
        handle=coerce.text(product.get("handle"), TEXT),
        image_url=coerce.url(image),
        published=stock_scope.published_from_api(product),
    )


def _levels_from_api(nodes: list[dict[str, Any]], tracked: bool) -> list[Level]:
    found = []
    for node in nodes:
        quantities = {q["name"]: q["quantity"] for q in node.get("quantities") or []}
        found.append(
            Level(
                location_id=legacy_id(node["location"]["id"]),
                available=coerce.int32(quantities.get("available")) if tracked else None,
                updated_at=coerce.timestamp(node.get("updatedAt")) or utcnow(),
            )
        )
    return found


def _first(nodes: Any) -> Any:
    return nodes[0] if isinstance(nodes, list) and nodes else None


def _media_image(media: Any) -> Any:
    """A Media node's preview image URL (`preview { image { url } }`)."""
    return _dict(_dict(_dict(media).get("preview")).get("image")).get("url")


def parse_item_stock(data: dict[str, Any]) -> ItemStock | None:
    item = data.get("inventoryItem")
    variant = _first(_dict(_dict(item).get("variants")).get("nodes"))
    if not item or not isinstance(variant, dict):
        return None
    item_id = int(item["legacyResourceId"])
    return ItemStock(
        variant=variant_from_api(variant, item_id),
        levels=_levels_from_api(
            (item.get("inventoryLevels") or {}).get("nodes") or [], item.get("tracked", True)
        ),
    )


def parse_variants_stock(data: dict[str, Any]) -> list[ItemStock]:
    found = []
    for node in data.get("nodes") or []:
        if not node or not node.get("legacyResourceId"):
            continue
        item = node.get("inventoryItem") or {}
        item_id = coerce.shopify_id(item.get("legacyResourceId"))
        found.append(
            ItemStock(
                variant=variant_from_api(node, item_id),
                levels=_levels_from_api(
                    (item.get("inventoryLevels") or {}).get("nodes") or [],
                    item.get("tracked", True),
                ),
            )
        )
    return found


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
