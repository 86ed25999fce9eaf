"""The merchant API (`/api/v1/external/intents...`, STOQ v1 external parity): the key, every
endpoint's documented behaviour, pagination, one shop never reaching another's data, and the
rate limit (in one app, and across two server processes)."""

import json
from datetime import timedelta

import pytest
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance
from sqlalchemy import func, select, update

from shopify_app.db import session_scope
from shopify_app.external_api import api_keys
from shopify_app.external_api.access import MerchantLimits
from shopify_app.models import (
    Intent,
    IntentStatus,
    Notification,
    NotificationKind,
    NotificationStatus,
    RestockEvent,
    Variant,
    utcnow,
)
from shopify_app.notify import attempts
from shopify_app.openapi import openapi_document
from shopify_app.routes import merchant_api

from ..processes import serving_processes
from ..support import SCHEMATHESIS_PHASES, cases, install_shop
from ..webhooks.strategies import tally
from .strategies import (
    AWKWARD_QUERY_VALUES,
    QUERY_NAMES,
    ROUTE_EXAMPLES,
    bodies,
    paths,
    queries,
    routes_of,
)

SHOP = "demo-shop.myshopify.com"
OTHER = "other-shop.myshopify.com"
BASE = "/api/v1/external/intents"
intents_t, notifications_t, events_t = (
    Intent.__table__,
    Notification.__table__,
    RestockEvent.__table__,
)
FIELDS = {
    "id",
    "blocked_at",
    "channel",
    "email",
    "notified_at",
    "optin_confirmed",
    "phone",
    "quantity",
    "sent_notifications_count",
    "source",
    "type",
    "unsubscribed_at",
    "created_at",
    "updated_at",
    "customer_id",
    "product_variant_id",
    "shop_id",
    "shopify_inventory_item_id",
    "shopify_market_id",
    "shopify_product_id",
    "shopify_variant_id",
    "customer_name",
    "contact",
    "customer_unsubscribed_at",
    "accepts_marketing",
    "notifications_count",
}


def signup(
    client,
    shop=SHOP,
    email="shopper@example.com",
    variant=111,
    product=222,
    channel="email",
    **customer,
):
    payload = {
        "intent": {
            "shopify_variant_id": variant,
            "shopify_product_id": product,
            "channel": channel,
            "quantity": 1,
            "source": "api",
        },
        "customer": {"email": email, "name": "Sam", **customer} if channel == "email" else customer,
    }
    response = client.post(
        "/api/v1/intents.json", json=payload, headers={"X-Shopify-Shop-Domain": shop}
    )
    assert response.status_code == 201, response.text
    return response.json()["intents"][0]["id"]


def new_key(engine, shop=SHOP) -> str:
    with engine.begin() as connection:
        return api_keys.rotate(connection, shop)


@pytest.fixture
def key(engine, shop) -> str:
    return new_key(engine)


def auth(key):
    return {"X-Auth-Token": key}


def status_of(engine, intent_id):
    with engine.connect() as c:
        return c.execute(select(intents_t.c.status).where(intents_t.c.id == intent_id)).scalar()


def mark_sent(engine, intent_id):
    with engine.begin() as c:
        c.execute(
            update(intents_t)
            .where(intents_t.c.id == intent_id)
            .values(status="notified", notified_at=utcnow(), sent_notifications_count=1)
        )


# -- Authentication --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [{}, {"X-Auth-Token": ""}, {"X-Auth-Token": "bis_wrong"}, {"X-Auth-Token": "x" * 5000}],
)
def test_a_missing_or_unknown_key_is_401_with_stoqs_error_body(client, key, headers):
    for method, path in [
        ("GET", BASE),
        ("GET", f"{BASE}/1"),
        ("POST", f"{BASE}/notify_intent"),
        ("POST", f"{BASE}/bulk_notify_intent"),
        ("DELETE", f"{BASE}/bulk_destroy"),
        ("POST", f"{BASE}/transfer_signups"),
    ]:
        response = client.request(method, path, headers=headers, content=b"{}")
        assert response.status_code == 401, (method, path)
        assert set(response.json()) == {"error"}


def test_rotating_the_key_stops_the_old_one(client, engine, key):
    assert client.get(BASE, headers=auth(key)).status_code == 200
    newer = new_key(engine)
    assert newer != key and newer.startswith("bis_")
    assert client.get(BASE, headers=auth(key)).status_code == 401
    assert client.get(BASE, headers=auth(newer)).status_code == 200
    with engine.connect() as c:
        stored = api_keys.shop_for_key(c, newer)
        assert stored.api_key_hash == api_keys.hash_key(newer) and newer not in str(
            dict(stored._mapping)
        )


def test_an_uninstalled_shops_key_stops_working(client, engine, key):
    with engine.begin() as c:
        c.execute(
            update(api_keys.shops).values(uninstalled_at=utcnow(), access_token_encrypted=None)
        )
    assert client.get(BASE, headers=auth(key)).status_code == 401
    with engine.begin() as c, pytest.raises(api_keys.UnknownShop):
        api_keys.rotate(c, SHOP)


# -- GET /intents ----------------------------------------------------------------------------------


def test_list_is_newest_first_with_stoqs_object_and_meta(client, key):
    ids = [signup(client, email=f"s{i}@example.com") for i in range(3)]
    response = client.get(BASE, headers=auth(key))
    assert response.status_code == 200
    body = response.json()
    assert [i["id"] for i in body["intents"]] == ids[::-1]
    assert body["meta"] == {"total_count": 3, "page": 1, "per_page": 50, "total_pages": 1}
    first = body["intents"][0]
    assert set(first) >= FIELDS
    assert first["email"] == "s2@example.com" and first["contact"] == "s2@example.com"
    assert first["customer_name"] == "Sam" and first["customer_id"]
    assert "push_subscription" not in first and "contact_key" not in first
    for name in ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"):
        assert name in response.headers


def test_filters(client, engine, key):
    a = signup(client, email="a@example.com", variant=1, product=10)
    b = signup(client, email="b@example.com", variant=2, product=10)
    c = signup(client, channel="sms", phone="+14155550100", variant=2, product=20)
    mark_sent(engine, b)
    with engine.begin() as conn:
        conn.execute(
            update(intents_t)
            .where(intents_t.c.id == a)
            .values(created_at=utcnow() - timedelta(days=10))
        )

    def ids(**params):
        response = client.get(BASE, params=params, headers=auth(key))
        assert response.status_code == 200, response.text
        return [i["id"] for i in response.json()["intents"]]

    assert ids(shopify_variant_id=2) == [c, b]
    assert ids(shopify_product_id=10) == [b, a]
    assert ids(email="A@Example.com") == [a]
    assert ids(phone="+14155550100") == [c]
    assert ids(notified="true") == [b]
    assert ids(notified="false") == [c, a]
    today = utcnow().date()
    assert ids(start_date=str(today - timedelta(days=1))) == [c, b]
    assert ids(end_date=str(today - timedelta(days=5))) == [a]
    assert ids(
        start_date=str(today - timedelta(days=11)), end_date=str(today - timedelta(days=9))
    ) == [a]


@pytest.mark.parametrize(
    ("params", "everything"),
    [
        (
            {"start_date": "0001-01-01T00:00:00+01:00"},
            True,
        ),  # before 0001-01-01 in UTC: the start of time
        ({"end_date": "0001-01-01T00:00:00+01:00"}, False),
        ({"start_date": "0001-01-01"}, True),
        (
            {"start_date": "9999-12-31T23:59:59-01:00"},
            False,
        ),  # after 9999-12-31 in UTC: the end of time
        ({"end_date": "9999-12-31T23:59:59-01:00"}, True),
        ({"end_date": "9999-12-31"}, True),  # the whole last day: up to the end of time
        ({"start_date": "9999-12-31"}, False),
        (
            {"start_date": "0001-01-01T00:00:00+14:00", "end_date": "9999-12-31T23:59:59-14:00"},
            True,
        ),
    ],
)
def test_dates_at_the_edges_of_the_calendar_clamp_to_them(client, key, params, everything):
    ids = [signup(client, email=f"edge{i}@example.com") for i in range(2)][::-1]
    response = client.get(BASE, params=params, headers=auth(key))
    assert response.status_code == 200, response.text
    assert [i["id"] for i in response.json()["intents"]] == (ids if everything else [])


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"page": "0"}, "page"),
        ({"page": "x"}, "page"),
        ({"per_page": "0"}, "per_page"),
        ({"per_page": "501"}, "per_page"),
        ({"per_page": "-1"}, "per_page"),
        ({"shopify_variant_id": "abc"}, "shopify_variant_id"),
        ({"shopify_product_id": "99999999999999999999"}, "shopify_product_id"),
        ({"start_date": "yesterday"}, "start_date"),
        ({"end_date": "2024-13-01"}, "end_date"),
        ({"notified": "maybe"}, "notified"),
        ({"email": "a\x00@b.c"}, "email"),
        ({"phone": "\x00"}, "phone"),
    ],
)
def test_bad_filters_are_400_naming_the_field(client, key, params, field):
    response = client.get(BASE, params=params, headers=auth(key))
    assert response.status_code == 400 and field in response.json()["error"]


def test_pagination_edges(client, key):
    ids = [signup(client, email=f"p{i}@example.com") for i in range(5)][::-1]

    def page(**params):
        return client.get(BASE, params=params, headers=auth(key)).json()

    two = page(per_page=2, page=3)
    assert [i["id"] for i in two["intents"]] == ids[4:] and two["meta"] == {
        "total_count": 5,
        "page": 3,
        "per_page": 2,
        "total_pages": 3,
    }
    past = page(per_page=2, page=4)
    assert past["intents"] == [] and past["meta"]["total_pages"] == 3
    assert page(per_page=500)["meta"]["per_page"] == 500 and len(page(per_page=500)["intents"]) == 5
    assert [i["id"] for i in page(per_page=1, page=2)["intents"]] == ids[1:2]


def test_an_empty_shop_lists_nothing(client, key):
    assert client.get(BASE, headers=auth(key)).json() == {
        "intents": [],
        "meta": {"total_count": 0, "page": 1, "per_page": 50, "total_pages": 0},
    }


# -- GET /intents/{id} ------------------------------------------------------------------------------


def test_get_one(client, key):
    intent_id = signup(client)
    response = client.get(f"{BASE}/{intent_id}", headers=auth(key))
    assert response.status_code == 200 and response.json()["intent"]["id"] == intent_id
    assert set(response.json()["intent"]) >= FIELDS
    for missing in (intent_id + 1000, "abc", "0", "99999999999999999999999"):
        response = client.get(f"{BASE}/{missing}", headers=auth(key))
        assert response.status_code == 404 and response.json() == {"error": "Intent not found"}


# -- Notify now ---------------------------------------------------------------------------------------


def test_notify_intent_writes_an_alert_to_the_outbox_with_a_manual_restock_event(
    client, engine, settings, key
):
    intent_id = signup(client)
    with engine.begin() as c:
        c.execute(
            Variant.__table__.insert().values(
                shop_id=1,
                shopify_variant_id=111,
                shopify_product_id=222,
                sellable=7,
                updated_at=utcnow(),
            )
        )
    response = client.post(f"{BASE}/notify_intent", json={"id": intent_id}, headers=auth(key))
    assert response.status_code == 200, response.text
    assert response.json()["intent"]["id"] == intent_id
    assert status_of(engine, intent_id) == IntentStatus.notified
    with engine.connect() as c:
        note = c.execute(
            select(notifications_t).where(notifications_t.c.intent_id == intent_id)
        ).one()
        event = c.execute(select(events_t).where(events_t.c.id == note.restock_event_id)).one()
    assert (
        note.kind == NotificationKind.alert
        and note.status == NotificationStatus.pending
        and note.channel == "email"
    )
    assert event.trigger == "manual" and event.stock_after == 7 and event.chosen == 1
    # The worker finds it like any other alert.
    with session_scope(engine) as session:
        claimed = attempts.claim(session, "w1", ["email"], limit=10, lease=timedelta(minutes=1))
        assert claimed == [note.id]
        [(alert, attempt)] = attempts.load_alerts(session, claimed)
    assert alert.to == "shopper@example.com" and alert.intent_id == intent_id and attempt == 1
    with session_scope(engine) as session:
        session.execute(update(notifications_t).values(status="sent", locked_by=None))
    # Again without allow_resend: refused with the reason; with it, a second alert.
    again = client.post(f"{BASE}/notify_intent", json={"id": intent_id}, headers=auth(key))
    assert again.status_code == 422 and "allow_resend" in again.json()["error"]
    resend = client.post(
        f"{BASE}/notify_intent", json={"id": intent_id, "allow_resend": True}, headers=auth(key)
    )
    assert resend.status_code == 200
    with engine.connect() as c:
        assert c.execute(select(func.count()).select_from(notifications_t)).scalar() == 2
    missing = client.post(f"{BASE}/notify_intent", json={"id": intent_id + 99}, headers=auth(key))
    assert missing.status_code == 404 and missing.json() == {"error": "Intent not found"}


def test_bulk_notify_answers_207_on_partial_success(client, engine, key):
    a, b = signup(client, email="a@example.com"), signup(client, email="b@example.com", variant=5)
    mark_sent(engine, b)
    response = client.post(
        f"{BASE}/bulk_notify_intent", json={"intent_ids": [a, b, 424242]}, headers=auth(key)
    )
    assert response.status_code == 207
    body = response.json()
    assert body["success"] == [a]
    assert {f["intent_id"] for f in body["failed"]} == {b, 424242}
    assert all(f["error"] for f in body["failed"])
    # a's alert has not left yet: sending it again now would mail the shopper twice.
    twice = client.post(
        f"{BASE}/bulk_notify_intent",
        json={"intent_ids": [a, b], "allow_resend": True},
        headers=auth(key),
    )
    assert twice.status_code == 207 and twice.json() == {
        "success": [b],
        "failed": [
            {"intent_id": a, "error": "An alert for this intent is already waiting to be sent"}
        ],
    }
    with engine.begin() as c:
        c.execute(update(notifications_t).values(status="sent"))
    everything = client.post(
        f"{BASE}/bulk_notify_intent",
        json={"intent_ids": [a, b], "allow_resend": True},
        headers=auth(key),
    )
    assert everything.status_code == 200 and everything.json() == {"success": [a, b], "failed": []}
    none = client.post(
        f"{BASE}/bulk_notify_intent", json={"intent_ids": [424242]}, headers=auth(key)
    )
    assert none.status_code == 422 and none.json()["success"] == []


def test_unsubscribed_or_unconfirmed_intents_are_not_notified(client, engine, key):
    a, b = signup(client, email="a@example.com"), signup(client, email="b@example.com")
    with engine.begin() as c:
        c.execute(
            update(intents_t)
            .where(intents_t.c.id == a)
            .values(status="unsubscribed", unsubscribed_at=utcnow())
        )
        c.execute(update(intents_t).where(intents_t.c.id == b).values(optin_confirmed=False))
    response = client.post(
        f"{BASE}/bulk_notify_intent",
        json={"intent_ids": [a, b], "allow_resend": True},
        headers=auth(key),
    )
    assert response.status_code == 422 and len(response.json()["failed"]) == 2
    with engine.connect() as c:
        assert (
            c.execute(
                select(func.count())
                .select_from(notifications_t)
                .where(notifications_t.c.kind == "alert")
            ).scalar()
            == 0
        )


# -- DELETE /intents/bulk_destroy ----------------------------------------------------------------------


def test_bulk_destroy_deletes_unsent_ones_and_refuses_sent_ones(client, engine, key):
    a, b, c = (signup(client, email=f"{n}@example.com") for n in "abc")
    mark_sent(engine, b)
    refused = client.request(
        "DELETE", f"{BASE}/bulk_destroy", json={"intent_ids": [a, b]}, headers=auth(key)
    )
    assert (
        refused.status_code == 422
        and refused.json()["sent_intent_ids"] == [b]
        and refused.json()["error"]
    )
    assert status_of(engine, a) == "pending"  # nothing deleted
    done = client.request(
        "DELETE", f"{BASE}/bulk_destroy", json={"intent_ids": [a, c, 777777]}, headers=auth(key)
    )
    assert done.status_code == 200 and done.json() == {"deleted": [a, c], "not_found": [777777]}
    assert status_of(engine, a) is None and status_of(engine, c) is None
    assert client.get(f"{BASE}/{a}", headers=auth(key)).status_code == 404


# -- POST /intents/transfer_signups ---------------------------------------------------------------------


def test_transfer_moves_signups_and_does_not_duplicate_a_waiting_twin(client, engine, key):
    moving = signup(client, email="a@example.com", variant=1, product=10)
    twin_src = signup(client, email="b@example.com", variant=1, product=10)
    twin_dst = signup(client, email="b@example.com", variant=2, product=20)
    sent = signup(client, email="c@example.com", variant=1, product=10)
    mark_sent(engine, sent)
    response = client.post(
        f"{BASE}/transfer_signups",
        headers=auth(key),
        json={
            "from_shopify_variant_id": 1,
            "from_shopify_product_id": 10,
            "to_shopify_variant_id": 2,
            "to_shopify_product_id": 20,
            "intent_type": "unsent",
        },
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"transferred_count": 1, "duplicates_cancelled": [twin_src]}
    listed = client.get(BASE, params={"shopify_variant_id": 2}, headers=auth(key)).json()["intents"]
    assert {i["id"] for i in listed} == {moving, twin_dst}
    assert all(i["shopify_product_id"] == 20 for i in listed)
    assert status_of(engine, twin_src) == "cancelled"
    rest = client.post(
        f"{BASE}/transfer_signups",
        headers=auth(key),
        json={
            "from_shopify_variant_id": 1,
            "to_shopify_variant_id": 3,
            "to_shopify_product_id": 30,
            "intent_type": "sent",
        },
    )
    assert rest.json()["transferred_count"] == 1
    assert (
        client.get(f"{BASE}/{sent}", headers=auth(key)).json()["intent"]["shopify_variant_id"] == 3
    )


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"to_shopify_variant_id": 2, "to_shopify_product_id": 2}, "from_shopify_variant_id"),
        ({"from_shopify_variant_id": 1, "to_shopify_variant_id": 2}, "to_shopify_product_id"),
        (
            {
                "from_shopify_variant_id": 1,
                "to_shopify_variant_id": 2,
                "to_shopify_product_id": 2,
                "intent_type": "x",
            },
            "intent_type",
        ),
        (
            {"from_shopify_variant_id": 1, "to_shopify_variant_id": 1, "to_shopify_product_id": 2},
            "to_shopify_variant_id",
        ),
    ],
)
def test_transfer_refuses_bad_bodies(client, key, payload, field):
    response = client.post(f"{BASE}/transfer_signups", json=payload, headers=auth(key))
    assert response.status_code == 400 and field in response.json()["error"]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "notify_intent"),
        ("POST", "bulk_notify_intent"),
        ("DELETE", "bulk_destroy"),
        ("POST", "transfer_signups"),
    ],
)
@pytest.mark.parametrize(
    "content",
    [
        b"not json",
        b"[1,2]",
        b"null",
        b'{"id": true, "intent_ids": "x"}',
        b'{"id": 1e400, "intent_ids": [-1]}',
        b'{"intent_ids": [], "id": "1.5"}',
    ],
)
def test_bodies_that_are_not_json_or_not_the_schema_are_400(client, key, method, path, content):
    response = client.request(method, f"{BASE}/{path}", content=content, headers=auth(key))
    assert response.status_code == 400 and response.json()["error"]


# -- One shop never reaches another's data ------------------------------------------------------------


def test_a_key_of_one_shop_never_sees_or_touches_another_shops_intents(
    client, engine, settings, key
):
    install_shop(engine, settings, domain=OTHER)
    other_key = new_key(engine, OTHER)
    theirs = signup(client, shop=OTHER, email="o@example.com", variant=1, product=10)
    mine = signup(client, email="m@example.com", variant=1, product=10)
    assert [i["id"] for i in client.get(BASE, headers=auth(key)).json()["intents"]] == [mine]
    assert client.get(f"{BASE}/{theirs}", headers=auth(key)).status_code == 404
    notify = client.post(f"{BASE}/notify_intent", json={"id": theirs}, headers=auth(key))
    assert notify.status_code == 404
    bulk = client.post(
        f"{BASE}/bulk_notify_intent", json={"intent_ids": [theirs]}, headers=auth(key)
    )
    assert bulk.status_code == 422 and bulk.json()["failed"] == [
        {"intent_id": theirs, "error": "Intent not found"}
    ]
    gone = client.request(
        "DELETE", f"{BASE}/bulk_destroy", json={"intent_ids": [theirs]}, headers=auth(key)
    )
    assert gone.json() == {"deleted": [], "not_found": [theirs]}
    client.post(
        f"{BASE}/transfer_signups",
        headers=auth(key),
        json={
            "from_shopify_variant_id": 1,
            "to_shopify_variant_id": 2,
            "to_shopify_product_id": 20,
            "intent_type": "all",
        },
    )
    seen = client.get(f"{BASE}/{theirs}", headers=auth(other_key)).json()["intent"]
    assert seen["shopify_variant_id"] == 1 and seen["status"] == "pending"
    with engine.connect() as c:
        assert (
            c.execute(
                select(func.count())
                .select_from(notifications_t)
                .where(notifications_t.c.intent_id == theirs)
            ).scalar()
            == 0
        )


def test_anything_else_under_the_prefix_answers_in_stoqs_shape(client, key):
    for method, path in [("POST", BASE), ("GET", "/api/v1/external/"), ("PUT", f"{BASE}/1")]:
        response = client.request(method, path, headers=auth(key))
        assert response.status_code == 404 and response.json() == {"error": "Not found"}
        assert client.request(method, path).status_code == 401


# -- Rate limit ---------------------------------------------------------------------------------------


def test_rate_limit_headers_and_the_429_body(client, key):
    state = client.app.state
    state.merchant_limits = MerchantLimits(state.signup_limits.limiter.storage, "5/minute")
    first = client.get(BASE, headers=auth(key))
    assert (
        first.headers["X-RateLimit-Limit"] == "5" and first.headers["X-RateLimit-Remaining"] == "4"
    )
    assert int(first.headers["X-RateLimit-Reset"]) > 0
    write = client.request(
        "DELETE", f"{BASE}/bulk_destroy", json={"intent_ids": [1]}, headers=auth(key)
    )
    assert (
        write.status_code == 200 and write.headers["X-RateLimit-Remaining"] == "2"
    )  # writes cost 2
    assert client.get(BASE, headers=auth(key)).headers["X-RateLimit-Remaining"] == "1"
    assert client.get(BASE, headers=auth(key)).headers["X-RateLimit-Remaining"] == "0"
    over = client.get(BASE, headers=auth(key))
    assert over.status_code == 429
    body = over.json()
    assert (
        body["error"] == "Rate limit exceeded"
        and 1 <= body["retry_after"] <= 60
        and body["message"]
    )
    assert (
        over.headers["Retry-After"] == str(body["retry_after"])
        and over.headers["X-RateLimit-Remaining"] == "0"
    )


def test_the_default_limit_is_360_points_a_minute(client, key):
    assert client.get(BASE, headers=auth(key)).headers["X-RateLimit-Limit"] == "360"


def test_the_limit_is_the_setting(settings, key):
    from starlette.testclient import TestClient

    from shopify_app.app import create_app

    with TestClient(
        create_app(settings.model_copy(update={"MERCHANT_API_RATE_LIMIT": "2/minute"}))
    ) as limited:
        codes = [limited.get(BASE, headers=auth(key)).status_code for _ in range(3)]
    assert codes == [200, 200, 429]


def test_the_limit_holds_across_two_server_processes(database_url, engine, settings, shop, backend):
    """Two `shopify-app serve` processes on one PostgreSQL database share the shop's 360 points."""
    if backend != "postgresql":
        pytest.skip(
            "several server processes share a PostgreSQL database (SQLite serves one process)"
        )
    key = new_key(engine)
    with serving_processes(database_url) as clients:
        # 170 writes (340 points) and 20 reads (20 points) spend the window; the next call of either is refused.
        codes = [
            clients[i % 2]
            .request("DELETE", BASE + "/bulk_destroy", json={"intent_ids": [1]}, headers=auth(key))
            .status_code
            for i in range(170)
        ]
        codes += [clients[i % 2].get(BASE, headers=auth(key)).status_code for i in range(20)]
        over = [clients[0].get(BASE, headers=auth(key)), clients[1].get(BASE, headers=auth(key))]
    assert codes == [200] * 190
    assert [r.status_code for r in over] == [429, 429]
    assert over[1].json()["error"] == "Rate limit exceeded"


# -- The OpenAPI document holds with a valid key (the contract test only calls without one) ----------


MERCHANT = schemathesis.openapi.from_dict(
    json.loads(json.dumps(openapi_document("https://app.example.test")))
).include(path_regex="^/external/")
MERCHANT.config.generation.update(
    modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
    max_examples=cases(150),
    database="none",
)
MERCHANT.config.phases.update(phases=SCHEMATHESIS_PHASES)


@pytest.fixture
def authed(client, engine, key):
    """A client whose shop has a key, a few signups, and a limit no generated run reaches."""
    state = client.app.state
    state.merchant_limits = MerchantLimits(state.signup_limits.limiter.storage, "1000000/hour")
    for i in range(3):
        signup(client, email=f"gen{i}@example.com", variant=1 + i % 2, product=10)
    return client, key


@pytest.mark.slow
@MERCHANT.parametrize()
@hypothesis_settings(deadline=None, suppress_health_check=list(HealthCheck))
def test_the_merchant_operations_hold_their_documented_contract_with_a_valid_key(case, authed):
    client, key = authed
    kwargs = case.as_transport_kwargs(base_url="https://app.example.test/api/v1")
    headers = {
        k: v for k, v in (kwargs.get("headers") or {}).items() if k.lower() != "x-auth-token"
    }
    headers["X-Auth-Token"] = key
    content = (
        json.dumps(kwargs["json"]).encode()
        if "json" in kwargs
        else kwargs.get("content") or kwargs.get("data")
    )
    response = client.request(
        kwargs["method"],
        kwargs["url"],
        headers=headers,
        params=kwargs.get("params"),
        content=content,
    )
    assert response.status_code != 401
    case.validate_response(
        response, checks=[not_a_server_error, status_code_conformance, response_schema_conformance]
    )


# -- Generated requests: any path, query and body under the prefix, with a valid key -----------------


MERCHANT_ROUTES = routes_of(merchant_api.routes)


def assert_merchant_answer(response) -> None:
    """No server error; an error is the documented STOQ body: `{"error": "..."}` (a 429 adds
    `retry_after` and `message`, a refused bulk_destroy `sent_intent_ids`), or a bulk notify's
    `{"success": [], "failed": [...]}` when every id failed."""
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert response.headers["content-type"].startswith("application/json"), response.headers
        body = response.json()
        if set(body) == {"success", "failed"}:
            assert response.status_code == 422 and body["success"] == [] and body["failed"], body
            assert all(isinstance(f["error"], str) and f["error"] for f in body["failed"]), body
            return
        assert isinstance(body.get("error"), str) and body["error"], body
        assert set(body) <= {"error", "retry_after", "message", "sent_intent_ids"}, body


def test_every_merchant_route_is_generated():
    assert (
        len(MERCHANT_ROUTES) >= 8
        and ("DELETE", "/api/v1/external/intents/bulk_destroy") in MERCHANT_ROUTES
    )


@pytest.mark.parametrize(("method", "template"), MERCHANT_ROUTES)
def test_any_query_and_body_to_a_merchant_route_is_answered_without_a_server_error(
    method, template, backend, authed
):
    client, key = authed

    @ROUTE_EXAMPLES
    @given(path=paths(template), query=queries, body=bodies)
    def check(path, query, body):
        response = client.request(
            method,
            path,
            params=query,
            content=body if method != "GET" else None,
            headers={"X-Auth-Token": key, "Content-Type": "application/json"},
        )
        tally(f"merchant {method} {template} [{backend}]", response.status_code)
        assert_merchant_answer(response)

    check()


@pytest.mark.slow
def test_every_list_filter_with_each_awkward_value_is_answered_without_a_server_error(authed):
    client, key = authed
    for name in QUERY_NAMES:
        for value in AWKWARD_QUERY_VALUES:
            assert_merchant_answer(client.get(BASE, params={name: value}, headers=auth(key)))


def test_a_path_the_catch_all_cannot_match_is_still_stoqs_not_found(client, key):
    response = client.get(
        BASE.rsplit("/", 1)[0] + "/%0A0", headers=auth(key)
    )  # `.*` stops at the newline
    assert response.status_code == 404 and response.json() == {"error": "Not found"}
