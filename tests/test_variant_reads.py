"""The first signup for a variant the app has not seen queues an Admin API read of its names,
SKU, price and image (variant_reads.py): on the one-statement path (PostgreSQL's first signup) and
the general one (SQLite; a double opt-in shop)."""

import pytest
from sqlalchemy import select

from shopify_app.db import session_scope
from shopify_app.models import InventoryLevel, Job, JobKind, Variant

from .notify.helpers import (
    VARIANT,
    drain,
    recording_channels,
    run,
    setup_shop,
    signup,
    stock_reads,
)


def variant_jobs(engine) -> list[tuple[str, str, str]]:
    with session_scope(engine) as session:
        rows = session.execute(
            select(Job.key, Job.status, Job.payload)
            .where(Job.kind == JobKind.variant_read)
            .order_by(Job.id)
        ).all()
    return [tuple(r) for r in rows]


def cached(engine) -> list[Variant]:
    with session_scope(engine) as session:
        found = list(session.execute(select(Variant)).scalars())
        session.expunge_all()
    return found


@pytest.mark.parametrize("double_optin", [False, True], ids=["first-signup", "double-optin"])
def test_a_first_signup_reads_the_variant_from_shopify_not_from_what_the_shopper_sent(
    client, engine, settings, fake_shopify, double_optin
):
    item = setup_shop(engine, settings, fake_shopify, double_optin=double_optin)
    item.product_title, item.variant_title, item.sku = "Merino Beanie", "Charcoal", "MB-CH"
    shop_id = _shop_id(engine)
    signup(client)  # it says "Linen Shirt / Green / M": the shopper's word, not Shopify's
    signup(client)  # a second one while the read is pending adds nothing
    assert variant_jobs(engine) == [
        (f"{shop_id}:{VARIANT}", "pending", f'{{"variant_id": {VARIANT}}}')
    ]
    assert cached(engine) == [] and fake_shopify.graphql_calls == []  # the signup waits for no one

    run(drain(settings, engine, recording_channels()))
    [call] = fake_shopify.graphql_calls
    assert call["errors"] == [] and call["variables"] == {
        "id": f"gid://shopify/ProductVariant/{VARIANT}"
    }
    [variant] = cached(engine)
    assert (
        variant.product_title,
        variant.variant_title,
        variant.sku,
        variant.price,
        variant.handle,
        variant.image_url,
        variant.inventory_item_id,
    ) == (
        "Merino Beanie",
        "Charcoal",
        "MB-CH",
        "49.00",
        "linen-shirt",
        "https://cdn.example.com/linen-shirt.jpg",
        item.inventory_item_id,
    )
    # names only: stock is read when it changes, and only that decides a restock
    assert variant.levels_synced_at is None and variant.sellable is None
    with session_scope(engine) as session:
        assert session.execute(select(InventoryLevel)).all() == []
    assert variant_jobs(engine)[0][1] == "done"

    signup(client)  # known now: no read
    assert len(variant_jobs(engine)) == 1


def test_a_variant_already_cached_is_not_read(client, engine, settings, fake_shopify):
    setup_shop(engine, settings, fake_shopify)
    signup(client)
    run(drain(settings, engine, recording_channels()))
    signup(client, variant=VARIANT + 1)  # another variant the fake does not know
    assert [k for k, _, _ in variant_jobs(engine)] == [
        f"{_shop_id(engine)}:{VARIANT}",
        f"{_shop_id(engine)}:{VARIANT + 1}",
    ]
    run(drain(settings, engine, recording_channels()))
    # deleted in Shopify since (or never a variant): nothing cached, nothing failed
    assert [v.shopify_variant_id for v in cached(engine)] == [VARIANT]
    assert [s for _, s, _ in variant_jobs(engine)] == ["done", "done"]
    assert stock_reads(fake_shopify) == []


def _shop_id(engine) -> int:
    from shopify_app.models import Shop

    with session_scope(engine) as session:
        return session.execute(select(Shop.id)).scalar_one()
