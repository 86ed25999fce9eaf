import json

from sqlalchemy import select

from shopify_app.db import session_scope
from shopify_app.models import Variant, WebhookDelivery

from ..support import webhook_headers

SHOP = "demo-shop.myshopify.com"
PRODUCT = {
    "id": 632910392,
    "title": "IPod Nano - 8GB",
    "handle": "ipod-nano",
    "vendor": "Apple",
    "image": {"id": 850703190, "src": "https://cdn.shopify.com/ipod-nano.png"},
    "images": [
        {"id": 850703190, "src": "https://cdn.shopify.com/ipod-nano.png"},
        {"id": 562641783, "src": "https://cdn.shopify.com/ipod-nano-2.png"},
    ],
    "variants": [
        {
            "id": 808950810,
            "product_id": 632910392,
            "title": "Pink",
            "sku": "IPOD2008PINK",
            "price": "199.00",
            "inventory_item_id": 808950810,
            "inventory_quantity": 10,
            "image_id": 562641783,
            "inventory_policy": "continue",
            "inventory_management": "shopify",
        },
        {
            "id": 49148385,
            "product_id": 632910392,
            "title": "Default Title",
            "sku": "",
            "price": "199.00",
            "inventory_item_id": 49148385,
            "inventory_quantity": 0,
            "image_id": None,
        },
    ],
}


def deliver(client, payload, webhook_id="p1"):
    body = json.dumps(payload).encode()
    return client.post(
        "/webhooks/products/update",
        content=body,
        headers=webhook_headers(body, "products/update", SHOP, webhook_id=webhook_id),
    )


def cached(engine) -> dict[int, Variant]:
    with session_scope(engine) as session:
        return {v.shopify_variant_id: v for v in session.execute(select(Variant)).scalars()}


def test_caches_the_variants(client, engine, shop):
    assert deliver(client, PRODUCT).status_code == 200
    variants = cached(engine)
    pink = variants[808950810]
    assert (
        pink.product_title,
        pink.variant_title,
        pink.sku,
        pink.price,
        pink.handle,
        pink.inventory_item_id,
        pink.inventory_quantity,
    ) == ("IPod Nano - 8GB", "Pink", "IPOD2008PINK", "199.00", "ipod-nano", 808950810, 10)
    assert pink.image_url == "https://cdn.shopify.com/ipod-nano-2.png"
    default = variants[49148385]
    assert (
        default.variant_title is None
        and default.image_url == "https://cdn.shopify.com/ipod-nano.png"
    )


def test_later_updates_change_the_cache(client, engine, shop):
    deliver(client, PRODUCT)
    renamed = {
        **PRODUCT,
        "title": "iPod Nano",
        "variants": [{**PRODUCT["variants"][0], "price": "149.00"}],
    }
    deliver(client, renamed, webhook_id="p2")
    pink = cached(engine)[808950810]
    assert pink.product_title == "iPod Nano" and pink.price == "149.00"


def test_unknown_shop_and_odd_payloads_are_ignored(client, engine, shop):
    body = json.dumps(PRODUCT).encode()
    other = webhook_headers(body, "products/update", "nobody.myshopify.com", webhook_id="x")
    assert client.post("/webhooks/products/update", content=body, headers=other).status_code == 200
    assert deliver(client, {"variants": "nope"}, webhook_id="y").status_code == 200
    assert deliver(client, [1, 2], webhook_id="z").status_code == 200
    assert cached(engine) == {}


def test_any_shaped_product_is_answered_and_stored_within_the_columns(
    backend, client, engine, shop
):
    from hypothesis import given

    from .strategies import EXAMPLES, post, products, tally

    @EXAMPLES
    @given(payload=products())
    def check(payload):
        response = post(client, "products/update", payload)
        tally(f"webhook products/update: shaped [{backend}]", response.status_code)
        assert response.status_code == 200
        with session_scope(engine) as session:
            assert "failed" not in session.execute(select(WebhookDelivery.state)).scalars().all()
        for v in cached(engine).values():
            assert 1 <= v.shopify_variant_id < 2**63 and 1 <= v.shopify_product_id < 2**63
            assert v.inventory_item_id is None or 1 <= v.inventory_item_id < 2**63
            assert v.inventory_quantity is None or -(2**31) <= v.inventory_quantity < 2**31
            for text, limit in (
                (v.product_title, 255),
                (v.variant_title, 255),
                (v.sku, 255),
                (v.handle, 255),
                (v.price, 32),
                (v.image_url, 2048),
            ):
                assert text is None or (len(text) <= limit and "\x00" not in text)

    check()


def test_awkward_fields_are_coerced_and_logged_by_name(client, engine, shop, caplog):
    variants = [
        {
            **PRODUCT["variants"][0],
            "sku": "PINK\x00",
            "price": "9" * 5000,
            "inventory_quantity": 2**63,
            "inventory_item_id": 2**64 - 1,
            "image_id": [1],
        },
        {**PRODUCT["variants"][1], "id": [49148385]},
        {**PRODUCT["variants"][1], "id": 2**64 - 1},
    ]
    payload = {
        **PRODUCT,
        "title": "T" * 10_000,
        "handle": ["ipod"],
        "images": [{"id": [1], "src": "x"}],
        "variants": variants,
    }
    with caplog.at_level("WARNING"):
        assert deliver(client, payload).status_code == 200
    pink = cached(engine)[808950810]
    assert (
        pink.product_title,
        pink.handle,
        pink.sku,
        pink.price,
        pink.inventory_quantity,
        pink.inventory_item_id,
        pink.image_url,
    ) == ("T" * 255, None, "PINK", None, 2**31 - 1, None, "https://cdn.shopify.com/ipod-nano.png")
    assert list(cached(engine)) == [808950810]
    [warning] = [r for r in caplog.records if r.getMessage() == "product fields dropped or coerced"]
    assert warning.fields == [
        "handle",
        "title",
        "variants[].id",
        "variants[].inventory_item_id",
        "variants[].inventory_quantity",
        "variants[].sku",
    ]
