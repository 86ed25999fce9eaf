"""The mandatory compliance topics."""

import json

import pytest
from sqlalchemy import func, select

from shopify_app.db import session_scope
from shopify_app.models import Customer, Intent, Shop, WebhookDelivery

from ..support import install_shop, webhook_headers

SHOP = "demo-shop.myshopify.com"


def signup(client, email, shop=SHOP, variant=1):
    payload = {
        "intent": {
            "shopify_variant_id": variant,
            "shopify_product_id": 2,
            "channel": "email",
            "quantity": 1,
            "source": "api",
        },
        "customer": {"email": email},
    }
    response = client.post(
        "/api/v1/intents.json", json=payload, headers={"X-Shopify-Shop-Domain": shop}
    )
    assert response.status_code == 201


def deliver(client, topic, payload, shop=SHOP, webhook_id="w1"):
    body = json.dumps(payload).encode()
    return client.post(
        f"/webhooks/{topic}",
        content=body,
        headers=webhook_headers(body, topic, shop, webhook_id=webhook_id),
    )


def counts(engine):
    with session_scope(engine) as session:
        return tuple(
            session.execute(select(func.count()).select_from(m)).scalar_one()
            for m in (Shop, Customer, Intent)
        )


def test_customers_redact_erases_one_customer_only(client, engine, settings, shop):
    install_shop(engine, settings, "other-shop.myshopify.com")
    signup(client, "gone@example.com")
    signup(client, "gone@example.com", variant=2)
    signup(client, "stays@example.com")
    signup(client, "gone@example.com", shop="other-shop.myshopify.com")
    payload = {
        "shop_id": 1,
        "shop_domain": SHOP,
        "customer": {"id": 5, "email": "Gone@Example.com", "phone": None},
        "orders_to_redact": [],
    }
    assert deliver(client, "customers/redact", payload).status_code == 200
    assert counts(engine) == (
        2,
        3,
        4,
    )  # the rows stay, as figures (tests/test_privacy.py walks every table)
    with session_scope(engine) as session:
        # only the other shop's customer with that address is left
        assert session.execute(
            select(Customer.email).where(Customer.email == "gone@example.com")
        ).all() == [("gone@example.com",)]
        assert (
            session.execute(
                select(func.count()).select_from(Intent).where(Intent.email == "gone@example.com")
            ).scalar_one()
            == 1
        )
        assert session.execute(
            select(Intent.email).where(Intent.email == "stays@example.com")
        ).all()


def test_shop_redact_erases_the_shop(client, engine, settings, shop):
    install_shop(engine, settings, "other-shop.myshopify.com")
    signup(client, "a@example.com")
    signup(client, "b@example.com", shop="other-shop.myshopify.com")
    assert deliver(client, "shop/redact", {"shop_id": 1, "shop_domain": SHOP}).status_code == 200
    assert counts(engine) == (1, 1, 1)
    assert (
        deliver(
            client, "shop/redact", {"shop_id": 1, "shop_domain": SHOP}, webhook_id="w2"
        ).status_code
        == 200
    )


def test_data_request_is_acknowledged(client, engine, shop):
    signup(client, "a@example.com")
    payload = {
        "shop_id": 1,
        "shop_domain": SHOP,
        "orders_requested": [],
        "customer": {"id": 1, "email": "a@example.com"},
        "data_request": {"id": 9999},
    }
    assert deliver(client, "customers/data_request", payload).status_code == 200
    assert counts(engine) == (1, 1, 1)


def test_compliance_topics_refuse_a_bad_hmac(client, shop):
    for topic in ("customers/data_request", "customers/redact", "shop/redact"):
        response = client.post(
            f"/webhooks/{topic}",
            content=b"{}",
            headers={
                "X-Shopify-Hmac-Sha256": "invalid",
                "X-Shopify-Topic": topic,
                "X-Shopify-Shop-Domain": SHOP,
                "X-Shopify-Webhook-Id": "x",
            },
        )
        assert response.status_code == 401


@pytest.mark.parametrize("topic", ["customers/redact", "customers/data_request", "shop/redact"])
def test_any_shaped_payload_is_answered_2xx(topic, backend, client, engine, shop):
    from hypothesis import given

    from .strategies import EXAMPLES, compliance, post, tally

    signup(client, "john@example.com")

    @EXAMPLES
    @given(payload=compliance(topic))
    def check(payload):
        response = post(client, topic, payload)
        tally(f"webhook {topic}: shaped [{backend}]", response.status_code)
        assert response.status_code == 200
        with session_scope(engine) as session:
            assert "failed" not in session.execute(select(WebhookDelivery.state)).scalars().all()

    check()


@pytest.mark.parametrize("topic", ["customers/redact", "customers/data_request"])
@pytest.mark.parametrize(
    "customer",
    [
        {"id": 1, "email": 123},
        {"id": 1, "email": ["a@example.com"]},
        {"id": "\x00", "email": "a@example.com"},
        {"id": [1], "phone": {"n": 1}},
        {"id": 2**64, "email": "a\x00@example.com", "phone": "+1415555\x002671"},
    ],
)
def test_unusable_customer_fields_are_dropped_and_logged_without_values(
    topic, customer, client, engine, shop, caplog
):
    signup(client, "a@example.com")
    with caplog.at_level("INFO"):
        assert (
            deliver(
                client,
                topic,
                {
                    "shop_id": 1,
                    "shop_domain": SHOP,
                    "customer": customer,
                    "data_request": {"id": "\x00"},
                },
            ).status_code
            == 200
        )
    with session_scope(engine) as session:
        assert session.execute(select(WebhookDelivery.state)).scalars().all() == ["applied"]
    logged = " ".join(f"{r.getMessage()} {vars(r)}" for r in caplog.records)
    assert "customer fields unusable" in logged
    assert "example.com" not in logged and "1415555" not in logged
