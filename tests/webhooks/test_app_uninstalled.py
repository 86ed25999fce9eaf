import json

import pytest
from sqlmodel import select

from shopify_app.db import session_scope
from shopify_app.models import Shop

from ..admin.tokens import bearer
from ..support import consent, start_install, webhook_headers

URL = "/webhooks/app/uninstalled"
MERCHANT = "/api/v1/external/intents"
SHOP = "demo-shop.myshopify.com"


def deliver(client, shop=SHOP, webhook_id="w1", event_id="e1"):
    body = json.dumps(
        {"id": 548380009, "name": "Demo", "domain": shop, "myshopify_domain": shop}
    ).encode()
    return client.post(
        URL,
        content=body,
        headers=webhook_headers(
            body, "app/uninstalled", shop, webhook_id=webhook_id, event_id=event_id
        ),
    )


def the_shop(engine) -> Shop:
    with session_scope(engine) as session:
        return session.exec(select(Shop).where(Shop.domain == SHOP)).one()


def test_marks_the_shop_uninstalled_and_forgets_its_token(client, engine, shop):
    assert deliver(client).status_code == 200
    row = the_shop(engine)
    assert row.uninstalled_at is not None and row.access_token_encrypted is None
    assert row.scopes  # the row stays (shop/redact erases it 48 h later)


def test_repeat_delivery_changes_nothing(client, engine, shop):
    deliver(client)
    first = the_shop(engine)
    assert deliver(client, webhook_id="w2", event_id="e2").status_code == 200
    again = the_shop(engine)
    assert again.uninstalled_at == first.uninstalled_at and again.updated_at == first.updated_at


def test_unknown_shop_answers_200_and_changes_nothing(client, engine, shop):
    assert deliver(client, shop="unknown-shop.myshopify.com").status_code == 200
    assert the_shop(engine).uninstalled_at is None


def test_any_shaped_payload_is_answered_2xx(backend, client, engine, shop):
    from hypothesis import given

    from shopify_app.models import WebhookDelivery

    from .strategies import EXAMPLES, UNINSTALLED, post, shaped, tally

    @EXAMPLES
    @given(payload=shaped(UNINSTALLED))
    def check(payload):
        response = post(client, "app/uninstalled", payload)
        tally(f"webhook app/uninstalled: shaped [{backend}]", response.status_code)
        assert response.status_code == 200
        with session_scope(engine) as session:
            assert "failed" not in session.execute(select(WebhookDelivery.state)).scalars().all()

    check()


@pytest.mark.parametrize("reinstall", ["token exchange", "oauth"])
def test_after_uninstall_and_reinstall_the_old_merchant_api_key_stays_dead(
    reinstall, client, engine, fake_shopify, shop
):
    old = client.post("/app/api/api-key", headers=bearer()).json()["api_key"]
    assert client.get(MERCHANT, headers={"X-Auth-Token": old}).status_code == 200
    assert deliver(client).status_code == 200
    assert the_shop(engine).api_key_hash is None  # nothing left that the old key could match
    if reinstall == "token exchange":  # the embedded admin's next load
        assert client.get("/app/api/settings", headers=bearer()).status_code == 200
    else:
        assert (
            client.get(
                consent(client, fake_shopify, start_install(client, SHOP)), follow_redirects=False
            ).status_code
            == 302
        )
    assert the_shop(engine).uninstalled_at is None
    refused = client.get(MERCHANT, headers={"X-Auth-Token": old})
    assert refused.status_code == 401 and old not in refused.text
    new = client.post("/app/api/api-key", headers=bearer()).json()["api_key"]
    assert client.get(MERCHANT, headers={"X-Auth-Token": new}).status_code == 200
