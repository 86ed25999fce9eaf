"""The development storefront's shop (APP_ENV=development only): a demo shop with a few products
stored as the restock worker's caches (variants with their inventory items, every location's
level), so that restocks are decided without calling Shopify; and the theme app extension's real
block rendered through python-liquid with the few Shopify objects and filters it uses."""

import functools
import json
import re
import unicodedata
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import liquid
from liquid import ast
from liquid.exceptions import LiquidSyntaxError
from liquid.tag import Tag
from liquid.token import TOKEN_EOF, TOKEN_TAG
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlmodel import col

from . import oauth
from .config import Settings
from .db import session_scope
from .models import InventoryLevel, Shop, Variant, utcnow

SHOP = "demo-shop.myshopify.com"
SHOP_NAME = "Demo Shop"
PLACEHOLDER_TOKEN = "shpat_development_placeholder"
CURRENCY = "USD"
EXTENSION = Path(__file__).resolve().parent.parent / "extensions" / "back-in-stock"
BLOCK = EXTENSION / "blocks" / "notify-me.liquid"
ASSETS = EXTENSION / "assets"
ASSET_URL = "/dev/extension/assets/"
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
        installed = shop is not None and shop.is_installed
    if not installed:
        oauth.store_shop(
            engine, settings, SHOP, oauth.Grant(PLACEHOLDER_TOKEN, settings.SHOPIFY_SCOPES)
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


# -- Liquid: the block as a theme renders it ------------------------------------------------------


class SchemaNode(ast.Node):
    """`{% schema %}…{% endschema %}` renders nothing (the theme editor reads it)."""

    __slots__ = ()

    def render_to_output(self, context, buffer) -> int:
        return 0


class SchemaTag(Tag):
    name = "schema"
    end = "endschema"
    node_class = SchemaNode

    def parse(self, stream) -> SchemaNode:
        token = stream.eat(TOKEN_TAG)
        while not (stream.current.kind == TOKEN_TAG and stream.current.value == self.end):
            if stream.current.kind == TOKEN_EOF:
                raise LiquidSyntaxError("schema tag was never closed", token=token)
            next(stream)
        return self.node_class(token)


SCHEMA = re.compile(r"{%-?\s*schema\s*-?%}(.*?){%-?\s*endschema\s*-?%}", re.S)


def block_schema(path: Path = BLOCK) -> dict[str, Any]:
    match = SCHEMA.search(path.read_text(encoding="utf-8"))
    if match is None:
        raise ValueError(f"{path.name} has no {{% schema %}}")
    return json.loads(match.group(1))


def default_settings(schema: dict[str, Any]) -> dict[str, Any]:
    """`block.settings` as a newly added block has them: each setting's default, else blank."""
    blank = {"checkbox": False, "range": 0, "number": None}
    return {
        s["id"]: s.get("default", blank.get(s["type"], "")) for s in schema["settings"] if "id" in s
    }


@functools.cache
def _translations(locale: str) -> dict[str, Any]:
    path = EXTENSION / "locales" / ("en.default.json" if locale == "en" else f"{locale}.json")
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def translate(key: str, locale: str, **values: Any) -> str:
    """Shopify's `t` filter over the extension's locales: the shopper's language, then the
    default (en), else "translation missing: …"; `{{ name }}` placeholders are filled in."""
    for candidate in dict.fromkeys((locale, locale.split("-")[0], "en")):
        found: Any = _translations(candidate)
        for part in key.split("."):
            found = found.get(part) if isinstance(found, dict) else None
        if isinstance(found, str):
            return re.sub(r"{{\s*(\w+)\s*}}", lambda m: str(values.get(m.group(1), "")), found)
    return f"translation missing: {locale}.{key}"


def asset_url(name: str) -> str:
    """Where the storefront serves the extension's assets (a CDN URL on Shopify)."""
    path = ASSETS / str(name)
    version = int(path.stat().st_mtime) if path.is_file() else 0
    return f"{ASSET_URL}{name}?v={version}"


def to_json(value: Any) -> str:
    # As in a <script> or an attribute: no "</script>" can close the element early.
    return json.dumps(value).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


@functools.cache
def _environment(locale: str, strict: bool) -> liquid.Environment:
    env = liquid.Environment(undefined=liquid.StrictUndefined if strict else liquid.Undefined)
    env.add_tag(SchemaTag)
    env.add_filter("t", lambda key, **values: translate(str(key), locale, **values))
    env.add_filter("asset_url", asset_url)
    env.add_filter("json", to_json)
    return env


COUNTRIES = {  # localization.available_countries, named in the storefront's language
    "US": ("United States", "États-Unis", "Vereinigte Staaten"),
    "CA": ("Canada", "Canada", "Kanada"),
    "GB": ("United Kingdom", "Royaume-Uni", "Vereinigtes Königreich"),
    "IE": ("Ireland", "Irlande", "Irland"),
    "FR": ("France", "France", "Frankreich"),
    "BE": ("Belgium", "Belgique", "Belgien"),
    "CH": ("Switzerland", "Suisse", "Schweiz"),
    "DE": ("Germany", "Allemagne", "Deutschland"),
    "AT": ("Austria", "Autriche", "Österreich"),
    "NL": ("Netherlands", "Pays-Bas", "Niederlande"),
    "ES": ("Spain", "Espagne", "Spanien"),
    "IT": ("Italy", "Italie", "Italien"),
    "AU": ("Australia", "Australie", "Australien"),
}
LOCALE_COUNTRY = {"en": "US", "fr": "FR", "de": "DE"}


def localization(locale: str, country: str | None) -> dict[str, Any]:
    index = LOCALES.index(locale) if locale in LOCALES else 0
    countries = sorted(
        ({"iso_code": code, "name": names[index]} for code, names in COUNTRIES.items()),
        key=lambda c: unicodedata.normalize("NFD", c["name"]),
    )
    code = country if country in COUNTRIES else LOCALE_COUNTRY.get(locale, "US")
    return {
        "country": next(c for c in countries if c["iso_code"] == code),
        "available_countries": countries,
        "language": {"iso_code": locale},
    }


def liquid_product(
    p: DemoProduct, stock_by_variant: dict[int, int], selected: int | None
) -> dict[str, Any]:
    """`product` with `variants` and `selected_or_first_available_variant` (the `variant` URL
    parameter when it names one of them, else the first available, else the first)."""
    variants = [
        {
            "id": v.id,
            "title": v.title,
            "sku": v.sku,
            "price": p.price,
            "available": stock_by_variant.get(v.id, 0) > 0,
            "inventory_quantity": stock_by_variant.get(v.id, 0),
        }
        for v in p.variants
    ]
    chosen = (
        next((v for v in variants if v["id"] == selected), None)
        or next((v for v in variants if v["available"]), None)
        or variants[0]
    )
    return {
        "id": p.id,
        "title": p.title,
        "handle": p.handle,
        "description": p.description,
        "price": p.price,
        "available": any(v["available"] for v in variants),
        "variants": variants,
        "selected_or_first_available_variant": chosen,
        "selected_variant": chosen if selected else None,
    }


def render_block(
    product_data: dict[str, Any],
    *,
    locale: str = "en",
    country: str | None = None,
    settings: dict[str, Any] | None = None,
    block_id: str = "AbCdEf123",
    strict: bool = False,
) -> str:
    """The block file as Shopify renders it into a product section."""
    locale = locale if locale in LOCALES else "en"
    block_settings = {**default_settings(block_schema()), **(settings or {})}
    template = _environment(locale, strict).from_string(BLOCK.read_text(encoding="utf-8"))
    return template.render(
        product=product_data,
        block={
            "id": block_id,
            "type": "notify-me",
            "settings": block_settings,
            "shopify_attributes": "",
        },
        shop={"name": SHOP_NAME, "permanent_domain": SHOP, "currency": CURRENCY},
        request={
            "locale": {"iso_code": locale, "primary": locale == "en"},
            "design_mode": False,
            "page_type": "product",
        },
        localization=localization(locale, country),
    )


def head_tags() -> str:
    """What Shopify adds to the page's head for the block's schema `stylesheet` and `javascript`."""
    schema = block_schema()
    tags = []
    if schema.get("stylesheet"):
        tags.append(f'<link rel="stylesheet" href="{asset_url(schema["stylesheet"])}">')
    if schema.get("javascript"):
        tags.append(f'<script src="{asset_url(schema["javascript"])}" defer></script>')
    return "\n".join(tags)
