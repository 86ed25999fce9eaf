"""The app proxy: `/proxy/...` as Shopify forwards the theme block's requests, signed."""

import hashlib
import hmac
import json
import time
from urllib.parse import urlencode

import pytest
from sqlalchemy import func, select

from shopify_app.db import session_scope
from shopify_app.models import Customer, Intent

from ..support import API_SECRET, install_shop, proxy_query

SHOP = "demo-shop.myshopify.com"
FORM = {
    "shopify_variant_id": "111",
    "shopify_product_id": "222",
    "channel": "email",
    "email": "Form@Example.com",
    "locale": "fr",
    "website": "",
}


def signups(engine) -> list[Intent]:
    with session_scope(engine) as session:
        return session.execute(select(Intent)).scalars().all()


def post_form(client, fields, query=None, **headers):
    return client.post(
        f"/proxy/intents?{proxy_query(SHOP) if query is None else query}",
        data=fields,
        headers=headers,
    )


def test_the_blocks_form_files_a_proxy_signup(client, engine, shop):
    response = post_form(
        client,
        {**FORM, "accepts_marketing": "on", "quantity": "2"},
        proxy_query(SHOP, logged_in_customer_id="7001"),
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["created"] is True and body["errors"] == []
    [intent] = body["intents"]
    assert (
        intent["email"] == "form@example.com"
        and intent["source"] == "proxy"
        and intent["quantity"] == 2
    )
    [row] = signups(engine)
    assert row.source == "proxy" and row.accepts_marketing is True
    with session_scope(engine) as session:
        customer = session.get(Customer, row.customer_id)
        assert (customer.shopify_customer_id, customer.locale) == ("7001", "fr")
    again = post_form(client, FORM)
    assert again.status_code == 201 and again.json()["created"] is False
    assert again.json()["intents"][0]["id"] == intent["id"]


def test_the_public_apis_json_body_works_too(client, engine, shop):
    body = {
        "intent": {
            "shopify_variant_id": 1,
            "shopify_product_id": 2,
            "channel": "sms",
            "quantity": 1,
            "source": "api",
        },
        "customer": {"phone": "447911123456"},
    }
    response = client.post(
        f"/proxy/intents?{proxy_query(SHOP)}",
        content=json.dumps(body),
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 201, response.text
    assert response.json()["intents"][0]["phone"] == "+447911123456"


@pytest.mark.parametrize(
    ("fields", "status", "problem"),
    [
        ({**FORM, "channel": "sms", "phone": "12"}, 200, "customer.phone"),
        ({**FORM, "email": "not-an-email"}, 200, "customer.email"),
        ({**FORM, "channel": "fax"}, 400, "intent.channel"),
        ({**FORM, "shopify_variant_id": ""}, 400, "intent.shopify_variant_id is required"),
        ({**FORM, "quantity": "lots"}, 400, "intent.quantity"),
    ],
)
def test_bad_forms_are_answered_and_store_nothing(fields, status, problem, client, engine, shop):
    response = post_form(client, fields)
    assert response.status_code == status, response.text
    assert response.json()["errors"][0].startswith(problem)
    assert signups(engine) == []


def test_a_filled_honeypot_looks_like_success_and_stores_nothing(client, engine, shop):
    response = post_form(client, {**FORM, "website": "http://spam.example"})
    assert response.status_code == 201 and response.json()["errors"] == []
    assert signups(engine) == []


def _bad_queries():
    good = proxy_query(SHOP)
    yield "missing", ""
    yield "unsigned", good.split("&signature=")[0]
    yield "tampered", good.replace("demo-shop", "other-shop")
    yield "wrong secret", proxy_query(SHOP, secret="not-the-secret")
    yield "stale", proxy_query(SHOP, timestamp=int(time.time()) - 3600)
    yield "future", proxy_query(SHOP, timestamp=int(time.time()) + 3600)
    yield "shop twice", good + "&shop=other-shop.myshopify.com"
    yield "signature twice", good + "&signature=" + good.split("&signature=")[1]


@pytest.mark.parametrize(("name", "query"), list(_bad_queries()))
def test_unsigned_or_stale_requests_are_refused(name, query, client, engine, shop):
    response = post_form(client, FORM, query)
    assert response.status_code == 401, (name, response.text)
    assert response.json()["errors"]
    assert signups(engine) == []
    assert client.get(f"/proxy/config?{query}").status_code == 401


def test_the_shop_is_only_the_signed_one(client, engine, settings, shop):
    install_shop(engine, settings, "other-shop.myshopify.com")
    body = {
        "intent": {
            "shopify_variant_id": 1,
            "shopify_product_id": 2,
            "channel": "email",
            "quantity": 1,
            "source": "api",
        },
        "customer": {"email": "a@example.com"},
        "shop": "other-shop.myshopify.com",
    }
    response = client.post(
        f"/proxy/intents?{proxy_query(SHOP)}",
        content=json.dumps(body),
        headers={
            "Content-Type": "application/json",
            "X-Shopify-Shop-Domain": "other-shop.myshopify.com",
        },
    )
    assert response.status_code == 201
    with session_scope(engine) as session:
        shops = session.execute(select(Intent.shop_id)).scalars().all()
        assert shops == [response.json()["intents"][0]["shop_id"]]
        assert (
            session.execute(
                select(func.count()).select_from(Intent).where(Intent.shop_id != shops[0])
            ).scalar_one()
            == 0
        )


def test_a_shop_without_the_app_gets_401(client, engine, shop):
    response = post_form(client, FORM, proxy_query("unknown-shop.myshopify.com"))
    assert response.status_code == 401 and signups(engine) == []


def test_config_names_the_channels_and_the_vapid_key(client, shop):
    """Production without SMTP, Twilio or VAPID settings sends nothing (tests/notify/test_channels.py
    goes through every combination)."""
    response = client.get(f"/proxy/config?{proxy_query(SHOP)}")
    assert response.status_code == 200
    assert response.json() == {
        "vapid_public_key": None,
        "channels": {"email": False, "sms": False, "push": False},
        "sms_countries": None,
    }


def signed_as_shopify(items: list[tuple[str, str]]) -> str:
    """A query signed as Shopify signs it, repeated keys and all (PLATFORM.md section 2: values of
    one key joined with commas)."""
    grouped: dict[str, list[str]] = {}
    for key, value in items:
        grouped.setdefault(key, []).append(value)
    message = "".join(f"{k}={','.join(v)}" for k, v in sorted(grouped.items()))
    signature = hmac.new(API_SECRET.encode(), message.encode(), hashlib.sha256).hexdigest()
    return urlencode([*items, ("signature", signature)])


@pytest.mark.parametrize("customer_ids", [["", "42"], ["42", "7"], ["42", "42"]])
def test_a_correctly_signed_query_naming_the_customer_twice_is_refused(
    customer_ids, client, engine, shop
):
    # A shopper's own `?logged_in_customer_id=` beside Shopify's: which one is the logged-in customer?
    items = [
        ("shop", SHOP),
        *[("logged_in_customer_id", c) for c in customer_ids],
        ("path_prefix", "/apps/back-in-stock"),
        ("timestamp", str(int(time.time()))),
    ]
    query = signed_as_shopify(items)
    response = post_form(client, FORM, query)
    assert response.status_code == 401 and response.json()["errors"]
    assert signups(engine) == []
    with session_scope(engine) as session:
        assert session.execute(select(func.count()).select_from(Customer)).scalar_one() == 0
    assert client.get(f"/proxy/config?{query}").status_code == 401
    once = signed_as_shopify(items[:1] + items[2:])
    assert (
        post_form(client, FORM, once).status_code == 201
    )  # the same query with the customer once is fine
