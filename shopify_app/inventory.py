"""What we know of the shop's stock: inventory levels per location (from webhooks and the API),
the variant cache (from products/update and the API); which of it counts is `stock_scope.py`. The Admin
API documents that read stock are in `inventory_queries.py`; applying recorded
inventory_levels/update deliveries in `inventory_deliveries.py`."""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, update
from sqlalchemy.orm import Session

from . import coerce, stock_scope
from .db import dialect_insert
from .models import InventoryLevel, Location, Variant, utcnow

levels = InventoryLevel.__table__
variants = Variant.__table__
locations = Location.__table__
TEXT = 255  # the String(255) columns of the variant cache
LOCATIONS_KEPT = 10  # a restock event names at most this many locations holding its stock


@dataclass
class VariantInfo:
    shopify_variant_id: int
    shopify_product_id: int
    inventory_item_id: int | None = None
    product_title: str | None = None
    variant_title: str | None = None
    sku: str | None = None
    price: str | None = None
    handle: str | None = None
    image_url: str | None = None
    inventory_quantity: int | None = None
    published: bool | None = None  # active and on the Online Store (stock_scope.py)


@dataclass
class Level:
    location_id: int
    available: int | None
    updated_at: datetime


@dataclass
class ItemStock:
    variant: VariantInfo
    levels: list[Level] = field(default_factory=list)


def variant_title(value: Any) -> str | None:
    title = coerce.text(value, TEXT)
    return None if title == "Default Title" else title


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def variants_from_product(payload: dict[str, Any]) -> list[VariantInfo]:
    """The variants of a `products/update` payload (REST representation), each field coerced to
    its column (shopify_app/coerce.py); a variant without a usable id is left out."""
    product_id = coerce.shopify_id(payload.get("id"))
    if product_id is None:
        return []
    images: dict[int | None, str] = {}  # looked up by a variant's image id, None if it has none
    for image in _list(payload.get("images")):
        image_id, src = (
            coerce.shopify_id(_dict(image).get("id")),
            coerce.url(_dict(image).get("src")),
        )
        if image_id is not None and src is not None:
            images[image_id] = src
    first_image = coerce.url(_dict(payload.get("image")).get("src"))
    published = stock_scope.published_from_rest(payload)
    product_title, handle = (
        coerce.text(payload.get("title"), TEXT),
        coerce.text(payload.get("handle"), TEXT),
    )
    found = []
    for v in _list(payload.get("variants")):
        variant_id = coerce.shopify_id(_dict(v).get("id"))
        if variant_id is None:
            continue
        found.append(
            VariantInfo(
                shopify_variant_id=variant_id,
                shopify_product_id=product_id,
                inventory_item_id=coerce.shopify_id(v.get("inventory_item_id")),
                product_title=product_title,
                variant_title=variant_title(v.get("title")),
                sku=coerce.text(v.get("sku"), TEXT),
                price=coerce.price(v.get("price")),
                handle=handle,
                image_url=images.get(coerce.shopify_id(v.get("image_id"))) or first_image,
                inventory_quantity=coerce.int32(v.get("inventory_quantity")),
                published=published,
            )
        )
    return found


def upsert_variant(
    session: Session, shop_id: int, info: VariantInfo, *, levels_synced: bool = False
) -> None:
    now = utcnow()
    values = dict(vars(info).items())
    values.update(shop_id=shop_id, updated_at=now)
    if levels_synced:
        values["levels_synced_at"] = now
    changed = {
        k: v
        for k, v in values.items()
        if v is not None and k not in ("shop_id", "shopify_variant_id")
    }
    stmt = dialect_insert(session, variants).values(**values)
    session.execute(
        stmt.on_conflict_do_update(index_elements=["shop_id", "shopify_variant_id"], set_=changed)
    )


def record_level(session: Session, shop_id: int, item_id: int, level: Level) -> bool:
    """Store one location's level unless a later update is already stored. True if stored."""
    stmt = dialect_insert(session, levels).values(
        shop_id=shop_id,
        inventory_item_id=item_id,
        location_id=level.location_id,
        available=level.available,
        updated_at=level.updated_at,
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=["shop_id", "inventory_item_id", "location_id"],
        set_={"available": stmt.excluded.available, "updated_at": stmt.excluded.updated_at},
        where=levels.c.updated_at <= stmt.excluded.updated_at,
    ).returning(levels.c.location_id)
    return session.execute(stmt).first() is not None


def record_levels(
    connection: Session | Connection, updates: dict[tuple[int, int, int], Level]
) -> set[tuple[int, int]]:
    """`record_level` for many (shop_id, item_id, location_id) keys at once (one statement):
    each stored unless a later update is already there. The (shop_id, item_id) of those stored."""
    if not updates:
        return set()
    stmt = dialect_insert(connection, levels)
    stmt = stmt.on_conflict_do_update(
        index_elements=["shop_id", "inventory_item_id", "location_id"],
        set_={"available": stmt.excluded.available, "updated_at": stmt.excluded.updated_at},
        where=levels.c.updated_at <= stmt.excluded.updated_at,
    ).returning(levels.c.shop_id, levels.c.inventory_item_id)
    # In key order, so that two workers writing overlapping keys lock them in the same order.
    rows = [
        {
            "shop_id": shop_id,
            "inventory_item_id": item_id,
            "location_id": location_id,
            "available": level.available,
            "updated_at": level.updated_at,
        }
        for (shop_id, item_id, location_id), level in sorted(updates.items())
    ]
    return {(row.shop_id, row.inventory_item_id) for row in connection.execute(stmt, rows)}


def name_locations(session: Session, shop_id: int, named: dict[int, str]) -> None:
    """Keep the shop's location names as the Admin API gave them (shop_profile.py)."""
    if not named:
        return
    now = utcnow()
    stmt = dialect_insert(session, locations)
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=["shop_id", "location_id"],
            set_={"name": stmt.excluded.name, "updated_at": stmt.excluded.updated_at},
        ),
        [
            {"shop_id": shop_id, "location_id": lid, "name": name, "updated_at": now}
            for lid, name in sorted(named.items())
        ],
    )


def location_names(connection: Session | Connection, shop_id: int) -> dict[int, str]:
    return dict(
        connection.execute(
            select(locations.c.location_id, locations.c.name).where(locations.c.shop_id == shop_id)
        ).all()
    )


def stocked_locations(
    session: Session, shop_id: int, item_id: int, among: frozenset[int] | None = None
) -> str | None:
    """The locations holding the item's stock (of `among`, if given), most first, as a restock
    event keeps them."""
    ids = (
        session.execute(
            select(levels.c.location_id)
            .where(
                levels.c.shop_id == shop_id,
                levels.c.inventory_item_id == item_id,
                levels.c.available > 0,
                *([levels.c.location_id.in_(sorted(among))] if among is not None else []),
            )
            .order_by(levels.c.available.desc(), levels.c.location_id)
            .limit(LOCATIONS_KEPT)
        )
        .scalars()
        .all()
    )
    return ",".join(str(i) for i in ids) or None


def stored_variants(session: Session, shop_id: int, variant_ids: list[int]) -> dict[int, Any]:
    """The cached rows of these variants, by id."""
    if not variant_ids:
        return {}
    rows = session.execute(
        select(variants).where(
            variants.c.shop_id == shop_id, variants.c.shopify_variant_id.in_(variant_ids)
        )
    ).mappings()
    return {row["shopify_variant_id"]: row for row in rows}


def variant_for_item(session: Session, shop_id: int, item_id: int):
    return (
        session.execute(
            select(variants).where(
                variants.c.shop_id == shop_id, variants.c.inventory_item_id == item_id
            )
        )
        .mappings()
        .first()
    )


def mark_levels_synced(session: Session, shop_id: int, variant_id: int) -> None:
    session.execute(
        update(variants)
        .where(variants.c.shop_id == shop_id, variants.c.shopify_variant_id == variant_id)
        .values(levels_synced_at=utcnow())
    )
