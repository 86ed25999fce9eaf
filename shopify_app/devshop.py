"""The development storefront's demo shop (APP_ENV=development only): a few products stored as the
restock worker's caches (variants with their inventory items, every location's level), so that
restocks are decided without calling Shopify, and their stock as the worker computes it. The theme
block rendered over them is devshop_liquid.py."""

import uuid
from dataclasses import dataclass
from datetime import timedelta

import jwt
from sqlalchemy import delete, func, select, update
from sqlalchemy.engine import Engine
from sqlmodel import col

from . import oauth
from .config import Settings
from .db import session_scope
from .inventory import name_locations
from .models import InventoryLevel, Job, JobKind, Shop, Variant, utcnow
from .shops import missing_scopes

SHOP = "demo-shop.myshopify.com"
SHOP_HANDLE = SHOP.removesuffix(".myshopify.com")
SHOP_NAME = "Demo Shop"
PLACEHOLDER_TOKEN = "shpat_development_placeholder"
# Stored as an expiring token that outlives any development session, with every scope the app
# asks for: opening the admin never sends the demo shop to Shopify's token exchange.
PLACEHOLDER_TOKEN_SECONDS = 10 * 365 * 24 * 3600
ADMIN_SESSION_SECONDS = 8 * 3600  # a session token from /dev/admin: a working day
STAFF_ID = "1"
CURRENCY = "USD"
LOCALES = ("en", "fr", "de")


@dataclass(frozen=True)
class Location:
    id: int
    name: str


@dataclass(frozen=True)
class DemoVariant:
    id: int
    title: str
    sku: str
    inventory_item_id: int
    levels: tuple[int, ...]  # available at each location, as first stored


@dataclass(frozen=True)
class DemoProduct:
    id: int
    handle: str
    title: str
    price: str
    option: str
    description: str
    variants: tuple[DemoVariant, ...]


LOCATIONS = (Location(80_001, "Warehouse"), Location(80_002, "High Street shop"))
PRODUCTS = (
    DemoProduct(
        8_100_001,
        "linen-shirt",
        "Linen Shirt",
        "49.00",
        "Size",
        "A relaxed shirt in washed European linen. Breathable, soft from the first wear, and cut to layer.",
        (
            DemoVariant(8_200_001, "Sage / S", "LS-SAGE-S", 8_300_001, (3, 1)),
            DemoVariant(8_200_002, "Sage / M", "LS-SAGE-M", 8_300_002, (0, 0)),
            DemoVariant(8_200_003, "Sage / L", "LS-SAGE-L", 8_300_003, (2, 0)),
        ),
    ),
    DemoProduct(
        8_100_002,
        "wool-beanie",
        "Merino Beanie",
        "29.00",
        "Colour",
        "A rib-knit beanie in soft merino wool, warm without the itch.",
        (
            DemoVariant(8_200_011, "Charcoal", "MB-CHAR", 8_300_011, (0, 0)),
            DemoVariant(8_200_012, "Rust", "MB-RUST", 8_300_012, (6, 2)),
        ),
    ),
)


def product(handle: str | None) -> DemoProduct:
    return next((p for p in PRODUCTS if p.handle == handle), PRODUCTS[0])


def find_variant(variant_id: int) -> tuple[DemoProduct, DemoVariant] | None:
    for p in PRODUCTS:
        for v in p.variants:
            if v.id == variant_id:
                return p, v
    return None


# -- the demo shop in the database ---------------------------------------------------------------


def seed(engine: Engine, settings: Settings) -> None:
    """Install the demo shop and store its products as the worker's caches; idempotent: what is
    already there (a restocked variant, say) is left as it is."""
    with session_scope(engine) as session:
        shop = session.execute(select(Shop).where(col(Shop.domain) == SHOP)).scalar_one_or_none()
        ready = (
            shop is not None
            and shop.is_installed
            and shop.access_token_expires_at is not None
            and not missing_scopes(shop.scopes or "", settings.scopes)
        )
    if not ready:
        oauth.store_shop(
            engine,
            settings,
            SHOP,
            oauth.Grant(
                PLACEHOLDER_TOKEN, settings.SHOPIFY_SCOPES, expires_in=PLACEHOLDER_TOKEN_SECONDS
            ),
        )
        # What the install's shop_profile job would read from Shopify, which the demo shop is not
        # on: its name and currency, stored here, and the job dropped.
        with session_scope(engine) as session:
            session.execute(
                update(Shop)
                .where(col(Shop.domain) == SHOP)
                .values(name=SHOP_NAME, currency=CURRENCY)
            )
            session.execute(
                delete(Job).where(
                    col(Job.kind) == JobKind.shop_profile.value,
                    col(Job.shop_id).in_(select(col(Shop.id)).where(col(Shop.domain) == SHOP)),
                )
            )
    now = utcnow()
    as_of = now - timedelta(days=1)  # older than any webhook the storefront sends
    with session_scope(engine) as session:
        shop_id = session.execute(select(col(Shop.id)).where(col(Shop.domain) == SHOP)).scalar_one()
        known = set(
            session.execute(
                select(col(Variant.shopify_variant_id)).where(col(Variant.shop_id) == shop_id)
            ).scalars()
        )
        levels = {
            tuple(row)
            for row in session.execute(
                select(
                    col(InventoryLevel.inventory_item_id), col(InventoryLevel.location_id)
                ).where(col(InventoryLevel.shop_id) == shop_id)
            )
        }
        for p in PRODUCTS:
            for v in p.variants:
                if v.id not in known:
                    session.add(
                        Variant(
                            shop_id=shop_id,
                            shopify_variant_id=v.id,
                            shopify_product_id=p.id,
                            inventory_item_id=v.inventory_item_id,
                            product_title=p.title,
                            variant_title=v.title,
                            sku=v.sku,
                            price=p.price,
                            currency=CURRENCY,
                            handle=p.handle,
                            inventory_quantity=sum(v.levels),
                            sellable=sum(v.levels),
                            levels_synced_at=now,
                        )
                    )
                for location, available in zip(LOCATIONS, v.levels, strict=False):
                    if (v.inventory_item_id, location.id) not in levels:
                        session.add(
                            InventoryLevel(
                                shop_id=shop_id,
                                inventory_item_id=v.inventory_item_id,
                                location_id=location.id,
                                available=available,
                                updated_at=as_of,
                            )
                        )
        name_locations(session, shop_id, {location.id: location.name for location in LOCATIONS})


def session_token(settings: Settings, now: float) -> str:
    """A session token for the demo shop's staff, as App Bridge would mint it (HS256 with the app's
    secret; PLATFORM.md section 1), valid for ADMIN_SESSION_SECONDS: `/dev/admin` opens the admin
    with it in a plain browser. Development only."""
    if not settings.is_development:
        raise RuntimeError("session tokens are minted here in development only")
    claims = {
        "iss": f"https://{SHOP}/admin",
        "dest": f"https://{SHOP}",
        "aud": settings.SHOPIFY_API_KEY,
        "sub": STAFF_ID,
        "exp": int(now + ADMIN_SESSION_SECONDS),
        "nbf": int(now - 1),
        "iat": int(now),
        "jti": uuid.uuid4().hex,
        "sid": uuid.uuid4().hex,
    }
    return jwt.encode(claims, settings.SHOPIFY_API_SECRET, algorithm="HS256")


def shop_id(engine: Engine) -> int | None:
    with session_scope(engine) as session:
        return session.execute(
            select(col(Shop.id)).where(col(Shop.domain) == SHOP)
        ).scalar_one_or_none()


def stock(engine: Engine) -> dict[int, int]:
    """Sellable units per demo variant: the sum over locations, as the worker computes it."""
    items = {v.inventory_item_id: v.id for p in PRODUCTS for v in p.variants}
    with session_scope(engine) as session:
        rows = session.execute(
            select(
                col(InventoryLevel.inventory_item_id),
                func.coalesce(func.sum(col(InventoryLevel.available)), 0),
            )
            .join(Shop, col(Shop.id) == col(InventoryLevel.shop_id))
            .where(col(Shop.domain) == SHOP, col(InventoryLevel.inventory_item_id).in_(items))
            .group_by(col(InventoryLevel.inventory_item_id))
        )
        found = {items[item]: int(total) for item, total in rows}
    return {v.id: found.get(v.id, 0) for p in PRODUCTS for v in p.variants}
