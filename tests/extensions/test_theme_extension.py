"""The theme app extension as the Shopify CLI and Theme Check expect it (PLATFORM.md section 4):
layout, block schemas, locales, and the limits on size and render-blocking scripts."""

import json
import re
import tomllib
from pathlib import Path

import pytest

from shopify_app import devshop, devshop_liquid

EXTENSION = Path(__file__).resolve().parents[2] / "extensions" / "back-in-stock"
BLOCKS = sorted((EXTENSION / "blocks").glob("*.liquid"))
LIQUID = sorted(EXTENSION.rglob("*.liquid"))
LOCALES = EXTENSION / "locales"
KNOWN_DIRS = {"assets", "blocks", "locales", "snippets"}
SCHEMA = re.compile(r"{%-?\s*schema\s*-?%}(.*?){%-?\s*endschema\s*-?%}", re.S)
NO_ID_SETTINGS = {"header", "paragraph"}
URL = re.compile(r"(?:https?:)?//[A-Za-z0-9.-]+\.[A-Za-z]{2,}[^\s\"')]*")


def schema_of(path: Path) -> dict:
    found = SCHEMA.findall(path.read_text(encoding="utf-8"))
    assert len(found) == 1, f"{path.name}: one {{% schema %}} expected, found {len(found)}"
    return json.loads(found[0])


def keys(tree: dict, prefix: str = "") -> set[str]:
    found = set()
    for key, value in tree.items():
        path = f"{prefix}{key}"
        found |= keys(value, path + ".") if isinstance(value, dict) else {path}
    return found


def test_layout_is_what_the_cli_expects() -> None:
    config = tomllib.loads((EXTENSION / "shopify.extension.toml").read_text(encoding="utf-8"))
    assert config["type"] == "theme"
    assert config["name"].strip()
    dirs = {p.name for p in EXTENSION.iterdir() if p.is_dir()}
    assert dirs <= KNOWN_DIRS, f"the CLI only knows {KNOWN_DIRS}, found {dirs - KNOWN_DIRS}"
    assert BLOCKS, "no block"
    assert (LOCALES / "en.default.json").is_file()
    assert {p.name for p in LOCALES.glob("*.json")} >= {"fr.json", "de.json"}
    for path in EXTENSION.rglob("*"):
        assert (
            path.is_dir() or path.parent.name in KNOWN_DIRS or path.name == "shopify.extension.toml"
        ), path
    assert sum(p.stat().st_size for p in EXTENSION.rglob("*") if p.is_file()) <= 10 * 1024 * 1024


@pytest.mark.parametrize("block", BLOCKS, ids=lambda p: p.name)
def test_block_schema_is_valid(block: Path) -> None:
    schema = schema_of(block)
    assert schema["name"] and schema["target"] == "section"
    assert isinstance(schema["settings"], list) and schema["settings"]
    ids = []
    for setting in schema["settings"]:
        assert "type" in setting, setting
        if setting["type"] in NO_ID_SETTINGS:
            assert setting.get("content"), setting
            continue
        assert setting.get("id") and setting.get("label"), setting
        ids.append(setting["id"])
        if setting["type"] == "range":
            assert setting["min"] <= setting["default"] <= setting["max"]
            assert (setting["max"] - setting["min"]) / setting["step"] <= 101
    assert len(ids) == len(set(ids)), "setting ids must be unique"
    for key in ("javascript", "stylesheet"):
        if key in schema:
            assert (EXTENSION / "assets" / schema[key]).is_file(), schema[key]


def test_block_lets_the_merchant_set_texts_colours_channels_consent_and_country() -> None:
    settings = {
        s["id"]: s
        for s in schema_of(EXTENSION / "blocks" / "notify-me.liquid")["settings"]
        if "id" in s
    }
    assert {"heading", "description", "button_label", "consent_label"} <= settings.keys()
    switches = ("offer_email", "offer_sms", "offer_push", "show_marketing_consent")
    assert {settings[k]["type"] for k in switches} == {"checkbox"}
    colours = {s["id"] for s in settings.values() if s["type"] == "color"}
    assert colours >= {"background", "text_color", "button_background", "button_text"}
    assert "default_country" in settings


def test_schema_names_fit_the_theme_editor() -> None:
    """Block names are at most 25 characters in every language."""
    for block in BLOCKS:
        name = schema_of(block)["name"]
        if not name.startswith("t:"):
            assert len(name) <= 25
            continue
        for path in LOCALES.glob("*.schema.json"):
            text = json.loads(path.read_text(encoding="utf-8"))
            for part in name[2:].split("."):
                text = text[part]
            assert len(text) <= 25, f"{path.name}: {text!r}"


@pytest.mark.parametrize("suffix", [".json", ".schema.json"])
def test_locales_are_json_with_the_default_keys(suffix: str) -> None:
    default = json.loads((LOCALES / f"en.default{suffix}").read_text(encoding="utf-8"))
    others = [
        p
        for p in LOCALES.glob(f"*{suffix}")
        if not p.name.startswith("en.default")
        and (suffix == ".schema.json") == p.name.endswith(".schema.json")
    ]
    assert len(others) >= 2
    for path in others:
        assert keys(json.loads(path.read_text(encoding="utf-8"))) == keys(default), path.name


def test_every_translation_key_used_exists() -> None:
    storefront = keys(json.loads((LOCALES / "en.default.json").read_text(encoding="utf-8")))
    schema_keys = keys(json.loads((LOCALES / "en.default.schema.json").read_text(encoding="utf-8")))
    for path in LIQUID:
        text = path.read_text(encoding="utf-8")
        for key in re.findall(r"'([a-z_.]+)'\s*\|\s*t\b", text):
            assert key in storefront, f"{path.name}: {key}"
        for key in re.findall(r'"t:([a-z_.]+)"', text):
            assert key in schema_keys, f"{path.name}: t:{key}"


def test_theme_check_size_limits() -> None:
    """Theme Check's thresholds: AssetSizeAppBlockJavaScript (10,000 bytes), AssetSizeAppBlockCSS
    (100,000 bytes); Liquid at most 100 KB in all and 500 KB a file."""
    for block in BLOCKS:
        schema = schema_of(block)
        if "javascript" in schema:
            assert (EXTENSION / "assets" / schema["javascript"]).stat().st_size <= 10_000
        if "stylesheet" in schema:
            assert (EXTENSION / "assets" / schema["stylesheet"]).stat().st_size <= 100_000
    for js in (EXTENSION / "assets").glob("*.js"):
        assert js.stat().st_size <= 10_000, js.name
    for css in (EXTENSION / "assets").glob("*.css"):
        assert css.stat().st_size <= 100_000, css.name
    assert all(p.stat().st_size <= 500_000 for p in LIQUID)
    assert sum(p.stat().st_size for p in LIQUID) <= 100_000


def test_no_render_blocking_scripts() -> None:
    """ParserBlockingJavaScript: every <script src> is deferred or async."""
    for path in LIQUID:
        for tag in re.findall(r"<script\b[^>]*>", path.read_text(encoding="utf-8"), re.I):
            if "src=" in tag:
                assert re.search(r"\b(defer|async)\b", tag), f"{path.name}: {tag}"
        assert "script_tag" not in path.read_text(encoding="utf-8"), (
            "script_tag renders a blocking script"
        )


def test_app_blocks_use_only_tags_allowed_in_app_blocks() -> None:
    """AppBlockValidTags: no javascript, stylesheet, include, layout, section or sections tag."""
    for path in LIQUID:
        used = set(re.findall(r"{%-?\s*(\w+)", path.read_text(encoding="utf-8")))
        assert not used & {
            "javascript",
            "stylesheet",
            "include",
            "layout",
            "section",
            "sections",
        }, path.name


def test_nothing_is_loaded_from_other_hosts() -> None:
    """No external script, font, stylesheet or CDN: the block only talks to the shop's own origin."""
    for path in [*LIQUID, *(EXTENSION / "assets").iterdir()]:
        text = path.read_text(encoding="utf-8")
        assert not URL.findall(text), f"{path.name}: {URL.findall(text)}"
        assert "@import" not in text and "@font-face" not in text


def test_block_renders_with_only_the_emulated_objects() -> None:
    """Every object and filter the block uses is one the storefront emulates (strict mode), and
    every text is translated in each language."""
    product = devshop_liquid.liquid_product(
        devshop.PRODUCTS[0], {v.id: 0 for v in devshop.PRODUCTS[0].variants}, None
    )
    everything = {
        "offer_email": True,
        "offer_sms": True,
        "offer_push": True,
        "show_name": True,
        "show_marketing_consent": True,
    }
    for locale in devshop.LOCALES:
        html = devshop_liquid.render_block(product, locale=locale, settings=everything, strict=True)
        assert "translation missing" not in html
        assert 'action="/apps/back-in-stock/intents"' in html
        assert 'aria-live="polite"' in html
        assert f'name="locale" value="{locale}"' in html
    html = devshop_liquid.render_block(
        product, settings={"default_country": "ca", "offer_sms": True}, strict=True
    )
    assert '<option value="CA" selected>' in html


def test_block_is_hidden_while_the_variant_is_available() -> None:
    p = devshop.PRODUCTS[0]
    in_stock = devshop_liquid.liquid_product(p, {v.id: 3 for v in p.variants}, None)
    sold_out = devshop_liquid.liquid_product(p, {v.id: 0 for v in p.variants}, p.variants[1].id)
    root = re.compile(r"<div\b[^>]*\bdata-bis\s[^>]*>")
    assert re.search(r"\shidden\b", root.search(devshop_liquid.render_block(in_stock)).group())
    assert not re.search(r"\shidden\b", root.search(devshop_liquid.render_block(sold_out)).group())
    assert f'name="shopify_variant_id" value="{p.variants[1].id}"' in devshop_liquid.render_block(
        sold_out
    )


def test_honeypot_is_out_of_the_tab_order_and_labels_point_at_fields() -> None:
    html = devshop_liquid.render_block(
        devshop_liquid.liquid_product(devshop.PRODUCTS[0], {}, None),
        settings={"offer_sms": True, "show_name": True},
    )
    assert re.search(r'<input[^>]*name="website"[^>]*tabindex="-1"[^>]*autocomplete="off"', html)
    ids = set(re.findall(r'\bid="([^"]+)"', html))
    for target in re.findall(r'<label[^>]*\bfor="([^"]+)"', html):
        assert target in ids, target
