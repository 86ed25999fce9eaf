"""The theme app extension's real block, rendered for the development storefront as a theme
renders it (APP_ENV=development only): python-liquid with the few Shopify objects and filters the
block uses (`product`, `block`, `shop`, `request`, `localization`; `t`, `asset_url`, `json`), over
the demo shop's products (devshop.py)."""

import functools
import json
import re
import unicodedata
from pathlib import Path
from typing import Any

import liquid
from liquid import ast
from liquid.exceptions import LiquidSyntaxError
from liquid.tag import Tag
from liquid.token import TOKEN_EOF, TOKEN_TAG

from .devshop import CURRENCY, LOCALES, SHOP, SHOP_NAME, DemoProduct

EXTENSION = Path(__file__).resolve().parent.parent / "extensions" / "back-in-stock"
BLOCK = EXTENSION / "blocks" / "notify-me.liquid"
ASSETS = EXTENSION / "assets"
ASSET_URL = "/dev/extension/assets/"


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
# The development shop's markets, as `localization.market` names them: the US, and the rest.
MARKETS = {"US": (90001, "us"), None: (90002, "international")}


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
        "market": dict(zip(("id", "handle"), MARKETS.get(code) or MARKETS[None], strict=True)),
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
