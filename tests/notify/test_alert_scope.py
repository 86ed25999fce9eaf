"""Which stock alerts whom (issue 18, items 1-3; shopify_app/stock_scope.py): only a published
product's, only at the locations the shop counts, and for a market's shoppers only at the locations
that ship to it. Driven through the webhooks, the signup API, the settings API and the worker, with
the fake Admin API answering the markets and delivery-profile reads."""

import json
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from shopify_app import shop_markets, shop_profile, stock_scope
from shopify_app.db import session_scope
from shopify_app.models import MarketLocation, Shop, Variant, utcnow

from ..admin.data import add_location
from ..admin.tokens import bearer
from ..fakes.admin_schema import validation_errors
from ..fakes.shopify import CatalogItem
from ..support import webhook_headers
from .helpers import (
    ITEM,
    LOCATION,
    LOCATION2,
    PRODUCT,
    SHOP,
    VARIANT,
    drain,
    level_webhook,
    recording_channels,
    run,
    setup_shop,
    signup,
)

EU, US = 9001, 9002  # markets
LOCATION3 = 655441493


def alerted(settings, engine) -> list[str]:
    channels = recording_channels()
    run(drain(settings, engine, channels))
    return sorted(m.to for m in channels["email"].sent)


def product_webhook(client, *, status="active", published_at="2026-11-01T10:00:00-05:00"):
    payload = {
        "id": PRODUCT,
        "title": "Linen Shirt",
        "handle": "linen-shirt",
        "status": status,
        "published_at": published_at,
        "variants": [
            {"id": VARIANT, "title": "Green / M", "inventory_item_id": ITEM, "sku": "LS-G-M"}
        ],
    }
    body = json.dumps(payload).encode()
    headers = webhook_headers(body, "products/update", SHOP, webhook_id=uuid.uuid4().hex)
    assert (
        client.post("/webhooks/products/update", content=body, headers=headers).status_code == 200
    )


def put_settings(client, **values):
    response = client.put("/app/api/settings", json=values, headers=bearer(SHOP))
    assert response.status_code == 200, response.text


def published(engine) -> bool | None:
    with engine.connect() as connection:
        return connection.execute(select(Variant.__table__.c.published)).scalar_one()


def name_locations(engine) -> None:
    with engine.connect() as connection:
        shop_id = connection.execute(select(Shop.__table__.c.id)).scalar_one()
    add_location(engine, shop_id, LOCATION, "Main warehouse")
    add_location(engine, shop_id, LOCATION2, "Shop floor")


def deliveries(client) -> list[dict]:
    return client.get("/app/api/deliveries", headers=bearer(SHOP)).json()["deliveries"]


# -- published only -------------------------------------------------------------------------------


def test_the_product_status_queries_are_valid_against_the_admin_schema():
    assert validation_errors(shop_markets.MARKETS_QUERY) == []
    assert validation_errors(shop_markets.DELIVERY_QUERY) == []


def test_a_hidden_product_alerts_no_one_until_it_is_published_while_in_stock(
    client, engine, settings, fake_shopify
):
    item = setup_shop(engine, settings, fake_shopify)
    name_locations(engine)
    item.on_online_store = False  # what the Admin API says when the app first reads the stock
    signup(client, email="waiting@example.com")
    level_webhook(client, 5)
    assert alerted(settings, engine) == []  # in stock, but not on the Online Store
    assert published(engine) is False
    assert deliveries(client) == []
    # The merchant publishes it: products/update says so, and the stock alerts now.
    product_webhook(client)
    assert alerted(settings, engine) == ["waiting@example.com"]
    assert published(engine) is True
    [row] = deliveries(client)
    assert row["why_text"].startswith(
        "Published to the Online Store with 5 units at Main warehouse"
    )


def test_a_draft_product_does_not_alert_and_the_setting_off_alerts_anyway(
    client, engine, settings, fake_shopify
):
    setup_shop(engine, settings, fake_shopify)
    signup(client, email="waiting@example.com")
    level_webhook(client, 0, updated_at="2026-11-22T11:00:00-05:00")
    run(drain(settings, engine, recording_channels()))
    product_webhook(client, status="draft")
    level_webhook(client, 4)
    assert alerted(settings, engine) == []
    # The inventory moved back to 0 and in again: still a draft, still no one.
    level_webhook(client, 0, updated_at="2026-11-22T12:30:00-05:00")
    level_webhook(client, 6, updated_at="2026-11-22T13:00:00-05:00")
    assert alerted(settings, engine) == []
    put_settings(client, published_only=False)
    level_webhook(client, 0, updated_at="2026-11-22T13:30:00-05:00")
    level_webhook(client, 6, updated_at="2026-11-22T14:00:00-05:00")
    assert alerted(settings, engine) == ["waiting@example.com"]


def test_unpublishing_then_publishing_again_while_in_stock_alerts_those_waiting(
    client, engine, settings, fake_shopify
):
    setup_shop(engine, settings, fake_shopify)
    signup(client, email="early@example.com")
    level_webhook(client, 3)
    assert alerted(settings, engine) == ["early@example.com"]
    product_webhook(client, published_at=None)  # hidden from the Online Store, stock unchanged
    run(drain(settings, engine, recording_channels()))
    signup(client, email="later@example.com")
    assert alerted(settings, engine) == []
    product_webhook(client)
    assert alerted(settings, engine) == ["later@example.com"]


# -- the locations that count ---------------------------------------------------------------------


def test_stock_at_a_location_the_shop_does_not_count_alerts_no_one(
    client, engine, settings, fake_shopify
):
    setup_shop(engine, settings, fake_shopify)
    name_locations(engine)
    put_settings(client, locations=[LOCATION2])
    signup(client, email="waiting@example.com")
    level_webhook(client, 8, location=LOCATION)  # Main warehouse: not counted
    assert alerted(settings, engine) == []
    level_webhook(client, 2, location=LOCATION2, updated_at="2026-11-22T12:05:00-05:00")
    assert alerted(settings, engine) == ["waiting@example.com"]
    [row] = deliveries(client)
    # The restock's stock and where it is are the counted location's only.
    assert row["why_text"].startswith("Restocked to 2 units at Shop floor")


# -- markets --------------------------------------------------------------------------------------


def install_with_markets(client, engine, settings, fake_shopify) -> None:
    """SHOP installed through the embedded admin (token exchange), so that its shop-profile job
    reads the locations, the markets and the delivery profiles."""
    fake_shopify.locations = {
        LOCATION: "Berlin warehouse",
        LOCATION2: "Ohio warehouse",
        LOCATION3: "Outlet",
    }
    fake_shopify.markets = {EU: ["DE", "FR"], US: ["US"]}
    fake_shopify.delivery_groups = [
        ([LOCATION], ["DE", "FR", "AT"], False),
        ([LOCATION2], ["US"], False),
    ]
    fake_shopify.add_item(
        CatalogItem(ITEM, VARIANT, PRODUCT, levels={LOCATION: 0, LOCATION2: 0, LOCATION3: 0})
    )
    assert client.get("/app/api/settings", headers=bearer(SHOP)).status_code == 200
    run(drain(settings, engine, recording_channels()))


def market_signup(client, email, market=None):
    payload = {
        "intent": {
            "shopify_variant_id": VARIANT,
            "shopify_product_id": PRODUCT,
            "channel": "email",
            "quantity": 1,
            "source": "api",
            **({"shopify_market_id": market} if market else {}),
        },
        "customer": {"email": email},
    }
    response = client.post(
        "/api/v1/intents.json", json=payload, headers={"X-Shopify-Shop-Domain": SHOP}
    )
    assert response.status_code == 201, response.text


def test_an_install_reads_which_locations_serve_each_market(client, engine, settings, fake_shopify):
    install_with_markets(client, engine, settings, fake_shopify)
    calls = [c for c in fake_shopify.graphql_calls if "ShopMarkets" in c["query"]]
    zones = [c for c in fake_shopify.graphql_calls if "ShopDeliveryZones" in c["query"]]
    assert len(calls) == 1 and len(zones) == 1
    assert calls[0]["errors"] == [] and zones[0]["errors"] == []
    with engine.connect() as connection:
        rows = connection.execute(
            select(MarketLocation.market_id, MarketLocation.location_id).order_by(
                MarketLocation.market_id
            )
        ).all()
    assert rows == [(EU, LOCATION), (US, LOCATION2)]
    token = bearer(SHOP)["Authorization"].split()[1]
    page = client.get(f"/app/settings?id_token={token}").text
    assert "Berlin warehouse" in page and "Ohio warehouse" in page and "Outlet" in page


def test_without_the_markets_scopes_markets_are_not_read_and_every_signup_counts_all_stock(
    client, engine, settings, fake_shopify
):
    fake_shopify.granted_scope = "read_products,read_inventory,read_locations,read_orders"
    install_with_markets(client, engine, settings, fake_shopify)
    assert [c for c in fake_shopify.graphql_calls if "ShopMarkets" in c["query"]] == []
    market_signup(client, "us@example.com", US)
    level_webhook(client, 4, location=LOCATION)
    assert alerted(settings, engine) == ["us@example.com"]


def test_a_markets_shoppers_wait_for_stock_at_the_locations_that_ship_to_it(
    client, engine, settings, fake_shopify
):
    install_with_markets(client, engine, settings, fake_shopify)
    market_signup(client, "eu@example.com", EU)
    market_signup(client, "us@example.com", US)
    market_signup(client, "anywhere@example.com")
    market_signup(client, "elsewhere@example.com", 9999)  # a market the app has not read
    level_webhook(client, 5, location=LOCATION)  # Berlin: ships to the EU market only
    assert alerted(settings, engine) == [
        "anywhere@example.com",
        "elsewhere@example.com",
        "eu@example.com",
    ]
    level_webhook(client, 3, location=LOCATION2, updated_at="2026-11-22T12:10:00-05:00")
    assert alerted(settings, engine) == ["us@example.com"]
    with engine.connect() as connection:
        decided = json.loads(connection.execute(select(Variant.__table__.c.decided_stock)).scalar())
    assert decided == {"": 8, str(EU): 5, str(US): 3}


def test_a_delivery_profile_changed_later_is_read_again_a_day_after_the_install(
    client, engine, settings, fake_shopify
):
    """Shopify sends no webhook for delivery profiles: the worker reads the shop's profile again a
    day after it last did, and the markets' shoppers then wait for the locations that ship now."""
    install_with_markets(client, engine, settings, fake_shopify)
    fake_shopify.delivery_groups = [  # the merchant now ships to the US from the outlet too
        ([LOCATION], ["DE", "FR", "AT"], False),
        ([LOCATION2, LOCATION3], ["US"], False),
    ]
    market_signup(client, "us@example.com", US)
    with session_scope(engine) as session:
        assert shop_profile.queue_stale(session, utcnow()) == 0  # read at the install
        assert shop_profile.queue_stale(session, utcnow() + timedelta(hours=23)) == 0
        assert shop_profile.queue_stale(session, utcnow() + timedelta(days=1, minutes=1)) == 1
        assert shop_profile.queue_stale(session, utcnow() + timedelta(days=1, minutes=2)) == 0
    run(drain(settings, engine, recording_channels()))
    assert len([c for c in fake_shopify.graphql_calls if "ShopDeliveryZones" in c["query"]]) == 2
    with engine.connect() as connection:
        rows = connection.execute(
            select(MarketLocation.market_id, MarketLocation.location_id).order_by(
                MarketLocation.market_id, MarketLocation.location_id
            )
        ).all()
    assert rows == [(EU, LOCATION), (US, LOCATION2), (US, LOCATION3)]
    level_webhook(client, 2, location=LOCATION3)  # the outlet: now ships to the US market
    assert alerted(settings, engine) == ["us@example.com"]


def test_an_uninstalled_shops_profile_is_not_read_again(client, engine, settings, fake_shopify):
    install_with_markets(client, engine, settings, fake_shopify)
    with session_scope(engine) as session:
        session.execute(update(Shop).values(uninstalled_at=utcnow()))
        assert shop_profile.queue_stale(session, utcnow() + timedelta(days=2)) == 0


def test_a_market_counts_only_the_locations_the_shop_counts(client, engine, settings, fake_shopify):
    install_with_markets(client, engine, settings, fake_shopify)
    put_settings(client, locations=[LOCATION2, LOCATION3])
    market_signup(client, "eu@example.com", EU)
    market_signup(client, "anywhere@example.com")
    level_webhook(client, 5, location=LOCATION)  # Berlin is not counted at all
    assert alerted(settings, engine) == []
    level_webhook(client, 2, location=LOCATION3)  # the outlet ships nowhere: counted for all
    assert alerted(settings, engine) == ["anywhere@example.com"]


@pytest.mark.parametrize(
    ("groups", "served"),
    [
        ([({1}, {"DE"}, False), ({2}, {"US"}, False)], {EU: {1}, US: {2}}),
        ([({1}, set(), True)], {EU: {1}, US: {1}}),  # "Rest of World" ships everywhere
        ([({1, 2}, {"FR"}, False)], {EU: {1, 2}, US: set()}),  # no one ships to the US
    ],
)
def test_which_locations_serve_a_market(groups, served):
    assert stock_scope.serving({EU: {"DE", "FR"}, US: {"US"}}, groups) == served


@pytest.mark.parametrize(
    ("available", "where", "expected"),
    [
        ({1: 3, 2: 4}, None, 7),
        ({1: 3, 2: 4}, frozenset({2}), 4),
        ({1: 3, 2: None}, frozenset({2}), 0),  # tracked stock known, none of it counted
        ({1: None}, None, None),  # nothing tracked
        ({}, None, None),
    ],
)
def test_the_stock_that_counts(available, where, expected):
    assert stock_scope.stock(available, where) == expected
