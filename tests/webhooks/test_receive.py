"""What every webhook endpoint does first: HMAC (401), headers (400), de-duplication."""

import json

import pytest
from hypothesis import given
from sqlalchemy import func, select

from shopify_app.db import session_scope
from shopify_app.models import WebhookDelivery
from webhooks import HANDLERS

from ..support import webhook_headers
from .strategies import ARBITRARY_EXAMPLES, json_values, post, tally

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


@pytest.mark.parametrize(
    "missing", ["X-Shopify-Topic", "X-Shopify-Shop-Domain", "X-Shopify-Webhook-Id"]
)
def test_missing_headers_are_400(missing, client, engine, shop):
    headers = webhook_headers(BODY, "app/uninstalled", SHOP, webhook_id="w1")
    del headers[missing]
    response = client.post(URL, content=BODY, headers=headers)
    assert response.status_code == 400 and missing in response.json()["errors"][0]
    assert deliveries(engine) == 0


def test_wrong_topic_and_bad_shop_are_400(client, engine, shop):
    wrong_topic = webhook_headers(BODY, "orders/create", SHOP, webhook_id="w1")
    assert client.post(URL, content=BODY, headers=wrong_topic).status_code == 400
    bad_shop = webhook_headers(BODY, "app/uninstalled", "evil.com", webhook_id="w1")
    assert client.post(URL, content=BODY, headers=bad_shop).status_code == 400
    assert deliveries(engine) == 0


NOT_JSON = {
    "a byte order mark before the JSON": b'\xef\xbb\xbf{"id": 1, "inventory_item_id": 1, "location_id": 2}',
    "garbage": b"{nope",
    "not UTF-8": b"\xff\xfe\x00{}",
    "empty": b"",
    "NaN": b"NaN",
}


@pytest.mark.parametrize("body", NOT_JSON.values(), ids=NOT_JSON)
@pytest.mark.parametrize("topic", sorted(HANDLERS))
def test_a_signed_body_that_is_not_json_is_answered_2xx_and_recorded_as_failed(
    topic, body, client, engine, shop, caplog
):
    headers = webhook_headers(body, topic, SHOP, webhook_id="w-not-json", event_id="e-not-json")
    response = client.post(f"/webhooks/{topic}", content=body, headers=headers)
    assert response.status_code == 200, response.text
    again = webhook_headers(
        body, topic, SHOP, webhook_id="w-again", event_id="e-not-json"
    )  # Shopify's retry
    assert client.post(f"/webhooks/{topic}", content=body, headers=again).status_code == 200
    settle(engine)  # the worker leaves it alone: nothing to apply
    with session_scope(engine) as session:
        [row] = session.execute(select(WebhookDelivery)).scalars().all()
    assert (row.topic, row.webhook_id, row.event_id, row.state, row.payload) == (
        topic,
        "w-not-json",
        "e-not-json",
        "failed",
        None,
    )
    assert any(
        r.levelname == "WARNING"
        and "not JSON" in r.getMessage()
        and getattr(r, "webhook_id", None) == "w-not-json"
        for r in caplog.records
    )


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


# -- a correctly signed delivery is always answered 2xx ----------------------------------------


def settle(engine) -> None:
    """The worker's part for queued topics: apply what was recorded (raises if that fails)."""
    from shopify_app import inventory_deliveries

    with engine.begin() as connection:
        while inventory_deliveries.apply_pending(connection):
            pass


def states(engine) -> dict[str | None, int]:
    with session_scope(engine) as session:
        return dict(
            session.execute(
                select(WebhookDelivery.state, func.count()).group_by(WebhookDelivery.state)
            ).all()
        )


def assert_answered_and_applied(response, engine) -> None:
    assert 200 <= response.status_code < 300, response.text
    settle(engine)
    # Coercion, not the safety net, must make every delivery applicable.
    assert "failed" not in states(engine)


@pytest.mark.parametrize("topic", sorted(HANDLERS))
def test_any_json_under_a_valid_hmac_is_answered_2xx(topic, backend, client, engine, shop):
    @ARBITRARY_EXAMPLES
    @given(payload=json_values)
    def check(payload):
        response = post(client, topic, payload)
        tally(f"webhook {topic}: any JSON [{backend}]", response.status_code)
        assert_answered_and_applied(response, engine)

    check()


AWKWARD_BODIES = [
    b'{"inventory_item_id": 1, "location_id": 2, "available": ' + b"9" * 5000 + b"}",
    b'{"id": 1, "variants": [{"id": 2, "price": ' + b"9" * 5000 + b"}]}",
    b'{"available": 1e400, "id": -1e400}',
    b'{"customer": {"email": "\\ud800@example.com", "id": "\\u0000"}, "title": "\\udfff"}',
    b"[" * 5000 + b"]" * 5000,
    b'"just a string"',
    b"null",
]


@pytest.mark.parametrize("topic", sorted(HANDLERS))
def test_valid_json_that_orjson_refuses_is_answered_2xx(topic, client, engine, shop):
    for body in AWKWARD_BODIES:
        assert_answered_and_applied(post(client, topic, None, body=body), engine)


def test_header_values_are_coerced(client, engine, shop):
    body = b'{"inventory_item_id": 1, "location_id": 2, "available": 3}'
    awkward = ("9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00", "\xb2", "x" * 5000)
    for n, triggered_at in enumerate(awkward):
        headers = webhook_headers(
            body, "inventory_levels/update", SHOP, webhook_id=f"{n}" + "w" * 500
        )
        headers["X-Shopify-Triggered-At"] = triggered_at.encode("latin-1")
        headers["X-Shopify-Event-Id"] = (f"{n}" + "e\xe9" * 500).encode("latin-1")
        response = client.post("/webhooks/inventory_levels/update", content=body, headers=headers)
        assert_answered_and_applied(response, engine)
    assert deliveries(engine) == 4
