"""What every webhook endpoint does first: HMAC (401), headers (400), de-duplication."""

import json

import pytest
from sqlalchemy import func, select

from shopify_app.db import session_scope
from shopify_app.models import WebhookDelivery

from ..support import webhook_headers

URL = "/webhooks/app/uninstalled"
SHOP = "demo-shop.myshopify.com"
BODY = json.dumps({"id": 1, "domain": SHOP}).encode()


def deliveries(engine) -> int:
    with session_scope(engine) as session:
        return session.execute(select(func.count()).select_from(WebhookDelivery)).scalar_one()


@pytest.mark.parametrize("hmac", [None, "", "bm90IHRoZSBobWFj", "0" * 64])
def test_bad_or_missing_hmac_is_401(hmac, client, engine, shop):
    headers = webhook_headers(BODY, "app/uninstalled", SHOP, webhook_id="w1")
    if hmac is None:
        del headers["X-Shopify-Hmac-Sha256"]
    else:
        headers["X-Shopify-Hmac-Sha256"] = hmac
    response = client.post(URL, content=BODY, headers=headers)
    assert response.status_code == 401
    assert deliveries(engine) == 0


def test_hmac_is_over_the_raw_body(client, engine, shop):
    headers = webhook_headers(BODY, "app/uninstalled", SHOP, webhook_id="w1")
    respaced = json.dumps(json.loads(BODY), indent=2).encode()
    assert client.post(URL, content=respaced, headers=headers).status_code == 401
    assert deliveries(engine) == 0


@pytest.mark.parametrize("missing", ["X-Shopify-Topic", "X-Shopify-Shop-Domain", "X-Shopify-Webhook-Id"])
def test_missing_headers_are_400(missing, client, engine, shop):
    headers = webhook_headers(BODY, "app/uninstalled", SHOP, webhook_id="w1")
    del headers[missing]
    response = client.post(URL, content=BODY, headers=headers)
    assert response.status_code == 400 and missing in response.json()["errors"][0]
    assert deliveries(engine) == 0


def test_wrong_topic_bad_shop_and_non_json_are_400(client, engine, shop):
    wrong_topic = webhook_headers(BODY, "orders/create", SHOP, webhook_id="w1")
    assert client.post(URL, content=BODY, headers=wrong_topic).status_code == 400
    bad_shop = webhook_headers(BODY, "app/uninstalled", "evil.com", webhook_id="w1")
    assert client.post(URL, content=BODY, headers=bad_shop).status_code == 400
    not_json = webhook_headers(b"{nope", "app/uninstalled", SHOP, webhook_id="w1")
    assert client.post(URL, content=b"{nope", headers=not_json).status_code == 400
    assert deliveries(engine) == 0


def test_redelivery_of_one_event_is_recorded_once(client, engine, shop):
    first = webhook_headers(BODY, "app/uninstalled", SHOP, webhook_id="w1", event_id="e1")
    same_delivery = first
    same_event = webhook_headers(BODY, "app/uninstalled", SHOP, webhook_id="w2", event_id="e1")
    for headers in (first, same_delivery, same_event):
        assert client.post(URL, content=BODY, headers=headers).status_code == 200
    assert deliveries(engine) == 1
    other_event = webhook_headers(BODY, "app/uninstalled", SHOP, webhook_id="w3", event_id="e2")
    assert client.post(URL, content=BODY, headers=other_event).status_code == 200
    no_event_id = webhook_headers(BODY, "app/uninstalled", SHOP, webhook_id="w4")
    assert client.post(URL, content=BODY, headers=no_event_id).status_code == 200
    assert client.post(URL, content=BODY, headers=no_event_id).status_code == 200
    assert deliveries(engine) == 3
