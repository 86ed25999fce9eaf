import json

import pytest
from sqlalchemy import select

from shopify_app.db import session_scope
from shopify_app.models import InventoryLevel, Job, WebhookDelivery

from ..support import webhook_headers

SHOP = "demo-shop.myshopify.com"
ITEM, LOCATION = 808950810, 905684977


def deliver(client, available, updated_at, *, webhook_id, item=ITEM, shop=SHOP, body: bytes | None = None):
    body = body if body is not None else json.dumps({"inventory_item_id": item, "location_id": LOCATION,
                                                     "available": available, "updated_at": updated_at}).encode()
    return client.post("/webhooks/inventory_levels/update", content=body,
                       headers=webhook_headers(body, "inventory_levels/update", shop, webhook_id=webhook_id))


def stored(engine) -> tuple[list[tuple], list[tuple]]:
    with session_scope(engine) as session:
        levels = [(lv.inventory_item_id, lv.location_id, lv.available)
                  for lv in session.execute(select(InventoryLevel)).scalars()]
        jobs = [(j.kind, j.key, json.loads(j.payload)) for j in session.execute(select(Job)).scalars()]
    return levels, jobs


def test_records_the_level_and_enqueues_a_job_without_calling_shopify(client, engine, shop, fake_shopify):
    response = deliver(client, 7, "2026-11-22T12:00:00-05:00", webhook_id="w1")
    assert response.status_code == 200
    levels, jobs = stored(engine)
    assert levels == [(ITEM, LOCATION, 7)]
    assert [(kind, payload) for kind, _, payload in jobs] == [("inventory", {"inventory_item_id": ITEM})]
    assert fake_shopify.graphql_calls == []  # the worker asks Shopify, never the webhook


def test_an_older_update_never_moves_stock_back(client, engine, shop):
    assert deliver(client, 0, "2026-11-22T12:10:00Z", webhook_id="newer").status_code == 200
    assert deliver(client, 9, "2026-11-22T12:00:00Z", webhook_id="older").status_code == 200
    assert stored(engine)[0] == [(ITEM, LOCATION, 0)]
    assert deliver(client, 3, "2026-11-22T12:20:00Z", webhook_id="later").status_code == 200
    levels, jobs = stored(engine)
    assert levels == [(ITEM, LOCATION, 3)] and len(jobs) == 1  # pending jobs for one item coalesce


def test_a_redelivery_is_applied_once(client, engine, shop):
    for _ in range(3):
        assert deliver(client, 4, "2026-11-22T12:00:00Z", webhook_id="same").status_code == 200
    with session_scope(engine) as session:
        assert len(session.execute(select(WebhookDelivery)).all()) == 1
    assert stored(engine)[0] == [(ITEM, LOCATION, 4)]


@pytest.mark.parametrize("payload", [
    {"location_id": LOCATION, "available": 4},                       # no item
    {"inventory_item_id": "x", "location_id": LOCATION, "available": 4},
    {"inventory_item_id": ITEM, "available": 4},                     # no location
    [1, 2, 3],
])
def test_a_level_that_names_no_item_and_location_changes_nothing(payload, client, engine, shop):
    response = deliver(client, None, None, webhook_id="odd", body=json.dumps(payload).encode())
    assert response.status_code == 200
    assert stored(engine) == ([], [])


def test_an_unknown_shop_changes_nothing(client, engine, shop):
    assert deliver(client, 4, "2026-11-22T12:00:00Z", webhook_id="w", shop="other-shop.myshopify.com").status_code == 200
    assert stored(engine) == ([], [])


def test_a_bad_hmac_is_refused_before_anything_is_read(client, engine, shop):
    body = json.dumps({"inventory_item_id": ITEM, "location_id": LOCATION, "available": 4}).encode()
    headers = webhook_headers(body, "inventory_levels/update", SHOP, webhook_id="forged", secret="not-the-secret")
    assert client.post("/webhooks/inventory_levels/update", content=body, headers=headers).status_code == 401
    assert stored(engine) == ([], [])
