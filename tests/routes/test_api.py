"""`POST /api/v1/intents.json`, the STOQ-compatible signup API."""

import json
from concurrent.futures import ThreadPoolExecutor

import httpx
import jsonschema
import pytest
from sqlalchemy import event, func, select, text

from shopify_app.app import create_app
from shopify_app.db import session_scope
from shopify_app.models import Customer, Intent

from ..support import install_shop, serve_in_thread
from ..support import signup_body as body

URL = "/api/v1/intents.json"
SHOP = "demo-shop.myshopify.com"
P256DH = "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM"
AUTH = "tBHItJI5svbpez7KI4CCXg"


def post(client, payload, shop=SHOP, **kw):
    headers = {"Content-Type": "application/json"}
    if shop is not None:
        headers["X-Shopify-Shop-Domain"] = shop
    data = payload if isinstance(payload, (bytes, str)) else json.dumps(payload)
    return client.post(URL, content=data, headers=headers, **kw)


def count(engine, model) -> int:
    with session_scope(engine) as session:
        return session.execute(select(func.count()).select_from(model)).scalar_one()


def test_email_signup_is_created(client, engine, shop):
    response = post(client, body())
    assert response.status_code == 201, response.text
    data = response.json()
    assert data["errors"] == []
    [intent] = data["intents"]
    for name in (
        "id",
        "customer_id",
        "channel",
        "email",
        "phone",
        "quantity",
        "source",
        "shopify_variant_id",
        "shopify_product_id",
        "shopify_market_id",
        "optin_confirmed",
        "notified_at",
        "unsubscribed_at",
        "created_at",
        "updated_at",
        "blocked_at",
        "sent_notifications_count",
        "contact",
        "accepts_marketing",
        "customer_name",
        "shop_id",
        "shopify_inventory_item_id",
        "notifications_count",
        "type",
    ):
        assert name in intent, name
    assert intent["email"] == "shopper@example.com" and intent["contact"] == "shopper@example.com"
    assert intent["channel"] == "email" and intent["quantity"] == 2 and intent["source"] == "api"
    assert intent["shopify_variant_id"] == 111111111 and intent["shopify_product_id"] == 222222222
    assert intent["notified_at"] is None and intent["optin_confirmed"] is True
    assert "push_subscription" not in intent
    with session_scope(engine) as session:
        row = session.get(Intent, intent["id"])
        assert (row.product_title, row.variant_title, row.variant_count, row.vendor, row.sku) == (
            "Shirt",
            "Green",
            3,
            "Acme",
            "SH-G",
        )


def test_restock_rocket_example_body(client, engine, shop):
    """The example from Restock Rocket's documentation, as written (phone without '+', country 'in')."""
    payload = {
        "intent": {
            "shopify_variant_id": 111111111,
            "shopify_product_id": 222222222,
            "channel": "sms",
            "quantity": 2,
            "source": "api",
        },
        "customer": {
            "email": "",
            "phone": "918123676393",
            "country_code": "91",
            "country": "in",
            "push": "xxxxxxxxxxxx",
            "accepts_marketing": True,
            "locale": "en",
        },
        "product": {"variant_count": 3, "title": "Shirt", "variant_title": "Green"},
    }
    response = post(client, payload)
    assert response.status_code == 201, response.text
    intent = response.json()["intents"][0]
    assert (
        intent["phone"] == "+918123676393"
        and intent["email"] is None
        and intent["accepts_marketing"] is True
    )
    with session_scope(engine) as session:
        customer = session.get(Customer, intent["customer_id"])
        assert (customer.locale, customer.country, customer.phone) == ("en", "in", "+918123676393")


def test_customer_details_are_stored(client, engine, shop):
    customer = {
        "email": "a@example.com",
        "name": "Ada",
        "locale": "fr",
        "country": "FR",
        "accepts_marketing": True,
        "shopify_customer_id": "7001",
    }
    intent = post(client, body(**customer)).json()["intents"][0]
    assert intent["customer_name"] == "Ada"
    with session_scope(engine) as session:
        row = session.get(Customer, intent["customer_id"])
        assert (
            row.name,
            row.locale,
            row.country,
            row.accepts_marketing,
            row.shopify_customer_id,
        ) == ("Ada", "fr", "fr", True, "7001")


def test_push_signup_accepts_object_or_string(client, engine, shop):
    sub = {
        "endpoint": "https://fcm.googleapis.com/fcm/send/abc",
        "keys": {"p256dh": P256DH, "auth": AUTH},
    }
    first = post(client, body("push", push=sub))
    assert first.status_code == 201, first.text
    intent = first.json()["intents"][0]
    assert intent["contact"] == "push" and "keys" not in json.dumps(intent)
    sub2 = {**sub, "endpoint": "https://updates.push.services.mozilla.com/wpush/v2/xyz"}
    second = post(client, body("push", push=json.dumps(sub2), email="p@example.com"))
    assert second.status_code == 201, second.text
    with session_scope(engine) as session:
        stored = session.get(Intent, second.json()["intents"][0]["id"]).push_subscription
        assert json.loads(stored)["endpoint"] == sub2["endpoint"]


@pytest.mark.parametrize(
    ("channel", "customer", "problem"),
    [
        ("email", {"email": "not-an-email"}, "email"),
        ("email", {"email": ""}, "email"),
        ("email", {"phone": "447911123456"}, "email"),
        ("sms", {"phone": "12"}, "phone"),
        ("sms", {"phone": "999999999999"}, "phone"),
        ("sms", {"email": "a@example.com"}, "phone"),
        ("push", {"email": "a@example.com"}, "push"),
        ("push", {"push": "xxxxxxxxxxxx"}, "push"),
        (
            "push",
            {
                "push": {
                    "endpoint": "https://evil.example.com/x",
                    "keys": {"p256dh": P256DH, "auth": AUTH},
                }
            },
            "push",
        ),
        (
            "push",
            {
                "push": {
                    "endpoint": "http://fcm.googleapis.com/x",
                    "keys": {"p256dh": P256DH, "auth": AUTH},
                }
            },
            "push",
        ),
        (
            "push",
            {
                "push": {
                    "endpoint": "https://fcm.googleapis.com/x",
                    "keys": {"p256dh": "AAAA", "auth": AUTH},
                }
            },
            "push",
        ),
    ],
)
def test_well_formed_but_unusable_gets_200_and_stores_nothing(
    channel, customer, problem, client, engine, shop
):
    response = post(client, body(channel, **customer))
    assert response.status_code == 200, response.text
    data = response.json()
    assert data["intents"] == [] and len(data["errors"]) == 1 and problem in data["errors"][0]
    assert count(engine, Intent) == 0 and count(engine, Customer) == 0


def test_phone_in_national_form_with_country(client, shop):
    response = post(client, body("sms", phone="07911 123456", country="gb"))
    assert response.status_code == 201, response.text
    assert response.json()["intents"][0]["phone"] == "+447911123456"
    response = post(client, body("sms", phone="7911123457", country_code="44"))
    assert response.json()["intents"][0]["phone"] == "+447911123457"


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (b"not json", ["The body must be JSON"]),
        (b"[1,2]", ["The body must be a JSON object with intent and customer"]),
        ({}, ["intent is required", "customer is required"]),
        (
            {"intent": {}, "customer": {}},
            [
                "intent.shopify_variant_id is required",
                "intent.shopify_product_id is required",
                "intent.channel is required",
                "intent.quantity is required",
                "intent.source is required",
            ],
        ),
    ],
)
def test_bodies_that_are_not_the_schema(payload, expected, client, engine, shop):
    response = post(client, payload)
    assert response.status_code == 400
    assert response.json() == {"errors": expected}
    assert count(engine, Intent) == 0


def test_every_schema_problem_is_listed(client, engine, shop):
    bad = body()
    bad["intent"].update(
        channel="fax", quantity=0, source="web", shopify_variant_id="abc", shopify_product_id=True
    )
    bad["customer"] = {"email": 5, "country": "india", "accepts_marketing": "maybe"}
    response = post(client, bad)
    assert response.status_code == 400
    errors = response.json()["errors"]
    for field in (
        "intent.channel",
        "intent.quantity",
        "intent.source",
        "intent.shopify_variant_id",
        "intent.shopify_product_id",
        "customer.email",
        "customer.country",
        "customer.accepts_marketing",
    ):
        assert any(e.startswith(field) for e in errors), (field, errors)
    assert count(engine, Intent) == 0


@pytest.mark.parametrize(
    "header",
    [None, "", "evil.com", "unknown-shop.myshopify.com", "demo-shop.myshopify.com.evil.com"],
)
def test_missing_malformed_or_unknown_shop_gets_401(header, client, engine, shop):
    response = post(client, body(), shop=header)
    assert response.status_code == 401
    assert response.json()["errors"]
    assert count(engine, Intent) == 0


def test_uninstalled_shop_gets_401(client, engine, shop):
    from shopify_app.shops import mark_uninstalled

    with session_scope(engine) as session:
        mark_uninstalled(session, SHOP)
    assert post(client, body()).status_code == 401


def test_same_customer_same_variant_gets_the_existing_intent(client, engine, shop):
    first = post(client, body(email="Dup@Example.com")).json()["intents"][0]
    again = post(client, body(email="dup@example.COM"))
    assert again.status_code == 201
    assert again.json()["intents"][0]["id"] == first["id"]
    assert count(engine, Intent) == 1 and count(engine, Customer) == 1
    # Another variant, market or channel is another intent of the same customer.
    other = body(email="dup@example.com")
    other["intent"]["shopify_variant_id"] = 333
    market = body(email="dup@example.com")
    market["intent"]["shopify_market_id"] = 9
    answers = [post(client, p).json()["intents"][0] for p in (other, market)]
    assert {a["customer_id"] for a in answers} == {None}  # known without its id: not shown
    with session_scope(engine) as session:
        owners = {session.get(Intent, a["id"]).customer_id for a in answers}
    assert owners == {first["customer_id"]}
    assert count(engine, Intent) == 3 and count(engine, Customer) == 1


def test_customer_id_updates_that_customer(client, engine, shop):
    first = post(client, body(email="a@example.com")).json()["intents"][0]
    second = post(
        client, body("sms", id=first["customer_id"], phone="447911123456", name="Ann")
    ).json()["intents"][0]
    assert second["customer_id"] == first["customer_id"]
    with session_scope(engine) as session:
        customer = session.get(Customer, first["customer_id"])
        assert (customer.email, customer.phone, customer.name) == (
            "a@example.com",
            "+447911123456",
            "Ann",
        )
    # the same phone later, logged out, is the same customer
    third = post(client, body("sms", phone="+44 7911 123456")).json()["intents"][0]
    assert third["id"] == second["id"]


def test_customers_are_per_shop(client, engine, settings, shop):
    install_shop(engine, settings, "other-shop.myshopify.com")
    mine = post(client, body(email="a@example.com")).json()["intents"][0]
    theirs = post(
        client, body(email="a@example.com", id=mine["customer_id"]), shop="other-shop.myshopify.com"
    )
    assert theirs.status_code == 201
    theirs = theirs.json()["intents"][0]
    assert theirs["customer_id"] != mine["customer_id"] and theirs["shop_id"] != mine["shop_id"]
    assert count(engine, Customer) == 2


def test_concurrent_identical_requests_make_one_intent(settings, engine, shop):
    payload = json.dumps(body(email="race@example.com"))
    headers = {"Content-Type": "application/json", "X-Shopify-Shop-Domain": SHOP}
    with (
        serve_in_thread(create_app(settings)) as base,
        httpx.Client(base_url=base) as http,
        ThreadPoolExecutor(16) as pool,
    ):
        responses = list(
            pool.map(lambda _: http.post(URL, content=payload, headers=headers), range(32))
        )
    assert {r.status_code for r in responses} == {201}
    assert len({r.json()["intents"][0]["id"] for r in responses}) == 1
    assert count(engine, Intent) == 1 and count(engine, Customer) == 1


def test_cors_allows_any_storefront_without_credentials(client, shop):
    preflight = client.options(
        URL,
        headers={
            "Origin": "https://storefront.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,x-shopify-shop-domain",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in preflight.headers
    response = client.post(
        URL,
        content=json.dumps(body()),
        headers={"Origin": "https://storefront.example", "X-Shopify-Shop-Domain": SHOP},
    )
    assert response.headers["access-control-allow-origin"] == "*"


def test_bodies_over_64kb_are_refused(client, engine, shop):
    big = body(name="x" * 200)
    big["padding"] = "y" * (64 * 1024)
    response = post(client, big)
    assert response.status_code == 413 and response.json()["errors"]
    assert count(engine, Intent) == 0


def test_openapi_schema_accepts_every_stoq_example(client):
    doc = client.get("/api/v1/openapi.json").json()
    assert "/intents.json" in doc["paths"]
    schema = {"$ref": "#/components/schemas/IntentRequest", "components": doc["components"]}
    validator = jsonschema.Draft202012Validator(schema)
    examples = [
        body(),
        {
            "intent": {
                "shopify_variant_id": 111111111,
                "shopify_product_id": 222222222,
                "channel": "email",
                "quantity": 2,
                "source": "api",
            },
            "customer": {
                "email": "",
                "phone": "918123676393",
                "country_code": "91",
                "country": "in",
                "push": "xxxxxxxxxxxx",
                "accepts_marketing": True,
                "locale": "en",
            },
            "product": {"variant_count": 3, "title": "Shirt", "variant_title": "Green"},
        },
        {
            "intent": {
                "shopify_variant_id": 1,
                "shopify_product_id": 2,
                "shopify_market_id": 3,
                "channel": "push",
                "quantity": 1,
                "source": "api",
            },
            "customer": {
                "id": "1861e9da-13c8-4fdb-93d2-1ca5dc4ecbe8",
                "name": "A",
                "shopify_market_id": 3,
                "shopify_customer_id": "99",
                "push": {
                    "endpoint": "https://fcm.googleapis.com/x",
                    "keys": {"p256dh": P256DH, "auth": AUTH},
                },
            },
            "product": {"vendor": "Acme", "sku": "S"},
        },
    ]
    for example in examples:
        validator.validate(example)
    assert not validator.is_valid({"intent": {}, "customer": {}})
    assert not validator.is_valid({**body(), "intent": {**body()["intent"], "channel": "fax"}})


def test_a_dead_pooled_connection_is_replaced_without_an_error(client, engine, shop, backend):
    assert post(client, body(email="first@example.com")).status_code == 201
    if backend == "postgresql":  # what a database restart does to the connections the app holds
        with engine.connect() as admin:
            killed = admin.execute(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            ).scalar_one()
        assert killed >= 1
    response = post(client, body(email="second@example.com"))
    assert response.status_code == 201, response.text
    assert count(engine, Intent) == 2


def test_a_shop_with_double_opt_in_files_unconfirmed_signups(client, engine, settings):
    install_shop(engine, settings, "optin-shop.myshopify.com", double_optin=True)
    new = post(client, body(email="new@example.com"), shop="optin-shop.myshopify.com")
    again = post(client, body(email="new@example.com", name="Ann"), shop="optin-shop.myshopify.com")
    assert new.status_code == again.status_code == 201
    assert new.json()["intents"][0]["optin_confirmed"] is False
    assert again.json()["intents"][0]["id"] == new.json()["intents"][0]["id"]
    with session_scope(engine) as session:
        [intent] = session.execute(select(Intent)).scalars().all()
        assert intent.optin_confirmed is False


def test_a_first_signup_is_one_statement_on_postgresql(client, engine, shop, backend):
    """A shopper the shop has never seen: both abuse-limit counters, shop check, customer, intent
    and variant read in one round trip (shared with concurrent first signups: tests/test_first_signup.py)."""
    if backend != "postgresql":
        pytest.skip("the one-statement path is PostgreSQL's")
    statements: list[str] = []

    def record(conn, cursor, statement, *args):
        if not statement.startswith("DELETE FROM rate_limit_counter"):  # now and then: old windows
            statements.append(" ".join(statement.split()))

    event.listen(client.app.state.async_engine.sync_engine, "before_cursor_execute", record)
    first = post(client, body(email="first@example.com", name="Ann", locale="fr"))
    assert first.status_code == 201
    # the abuse limits' counters too: the same statement counts them
    assert len(statements) == 1 and statements[0].startswith("WITH x AS")
    assert "INSERT INTO rate_limit_counter" in statements[0]
    statements.clear()
    # A known shopper (another variant) takes the general path, against the same customer.
    other = body(email="first@example.com")
    other["intent"]["shopify_variant_id"] = 333
    second = post(client, other)
    assert second.status_code == 201 and len(statements) > 1
    assert (
        second.json()["intents"][0]["customer_id"] is None
    )  # known shopper, no id sent: not shown
    with session_scope(engine) as session:
        assert (
            session.get(Intent, second.json()["intents"][0]["id"]).customer_id
            == first.json()["intents"][0]["customer_id"]
        )
        [customer] = session.execute(select(Customer)).scalars().all()
        assert (customer.email, customer.name, customer.locale) == (
            "first@example.com",
            "Ann",
            "fr",
        )
        stored = session.execute(select(Intent).order_by(Intent.id)).scalars().all()
    assert [i.id for i in stored] == [
        first.json()["intents"][0]["id"],
        second.json()["intents"][0]["id"],
    ]


def test_the_reported_500s_are_answered_plainly(client, engine, shop):
    empty = body()
    empty["customer"] = dict.fromkeys(
        ("id", "name", "email", "phone", "push", "country_code", "locale", "shopify_customer_id"),
        "",
    ) | {"country": "aa"}
    response = post(client, empty)
    assert response.status_code in (200, 400), response.text
    assert response.json()["errors"]
    deep = post(client, body("email", email="a@example.com", push="[" * 3000))
    assert deep.status_code == 201, (
        deep.text
    )  # the push field is not this signup's channel: dropped
    assert post(client, body("push", push="[" * 3000)).json()["errors"] == [
        "customer.push is not a push subscription (PushSubscription JSON)"
    ]
    for field, where in (
        ("name", "customer"),
        ("locale", "customer"),
        ("id", "customer"),
        ("shopify_customer_id", "customer"),
        ("title", "product"),
        ("sku", "product"),
    ):
        payload = body(email="nul@example.com")
        payload[where][field] = "a\x00b"
        response = post(client, payload)
        assert response.status_code == 400, (field, response.text)
        assert response.json()["errors"][0].startswith(f"{where}.{field}: ")
    assert count(engine, Intent) == 1


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"]
)
def test_only_json_bodies_are_taken(content_type, client, engine, shop):
    response = client.post(
        URL,
        content=json.dumps(body()),
        headers={"Content-Type": content_type, "X-Shopify-Shop-Domain": SHOP},
    )
    assert response.status_code == 400 and response.json() == {
        "errors": ["Content-Type must be application/json"]
    }
    assert count(engine, Intent) == 0
    no_type = client.post(URL, content=json.dumps(body()), headers={"X-Shopify-Shop-Domain": SHOP})
    assert no_type.status_code == 201  # older clients send no Content-Type at all


@pytest.mark.parametrize(
    ("field", "value", "accepted"),
    [
        ("quantity", 1.0, True),
        ("quantity", 1.5, False),
        ("quantity", "2", False),
        ("quantity", True, False),
        ("shopify_variant_id", "gid://shopify/ProductVariant/123", True),
        ("shopify_variant_id", "gid://shopify/Market/123", False),
        ("shopify_variant_id", "١٢٣", False),
        ("shopify_variant_id", "²", False),
        ("shopify_variant_id", "9" * 5000, False),
        ("shopify_variant_id", 2**63, False),
        ("shopify_variant_id", 2**63 - 1, True),
        ("shopify_product_id", "gid://shopify/ProductVariant/1", False),
    ],
)
def test_intent_fields_are_what_the_contract_says(field, value, accepted, client, engine, shop):
    payload = body()
    payload["intent"][field] = value
    response = post(client, payload)
    assert response.status_code == (201 if accepted else 400), response.text
    if not accepted:
        [error] = response.json()["errors"]
        assert error.startswith(f"intent.{field}: must be")
        for internal in ("int()", "4300", "set_int_max_str_digits", "literal"):
            assert internal not in error


@pytest.mark.parametrize(
    ("value", "stored"), [("7001", "7001"), (7001, "7001"), ("gid://shopify/Customer/7001", "7001")]
)
def test_shopify_customer_id_is_a_shopify_id(value, stored, client, engine, shop):
    response = post(client, body(email="c@example.com", shopify_customer_id=value))
    assert response.status_code == 201
    with session_scope(engine) as session:
        assert session.execute(select(Customer.shopify_customer_id)).scalar_one() == stored
    refused = post(client, body(email="d@example.com", shopify_customer_id="DROP TABLE"))
    assert refused.status_code == 400


def test_unknown_locales_fall_back_to_the_default(client, engine, shop):
    for email, locale, stored in (
        ("l1@example.com", "../../etc/passwd", None),
        ("l2@example.com", "fr-CA", "fr"),
        ("l3@example.com", "pt-BR", None),
    ):
        assert post(client, body(email=email, locale=locale)).status_code == 201
        with session_scope(engine) as session:
            assert (
                session.execute(select(Customer.locale).where(Customer.email == email)).scalar_one()
                == stored
            )
