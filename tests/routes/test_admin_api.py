"""The admin's JSON interface: settings, stats, lists, CSV exports, the API key; bad values are 400s
that save nothing; every shop sees only its own rows."""

import csv
import io
import json
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from sqlalchemy import insert, select, update

from shopify_app.external_api import api_keys
from shopify_app.models import Conversion, Intent, SettingsChange, Shop, utcnow

from ..admin.data import add_delivery, add_intents, add_variant
from ..admin.tokens import OTHER, SHOP, bearer, session_token
from ..support import install_shop

DEFAULTS = {
    "double_optin": False,
    "min_restock_quantity": 1,
    "delivery_policy": "all",
    "batch_multiplier": 1.0,
    "batch_interval_seconds": 3600,
    "skip_over_quantity": False,
    "automatic_sending": True,
    "high_demand_threshold": None,
    "sender_name": None,
    "reply_to": None,
    "brand_logo_url": None,
    "brand_color": None,
    "published_only": True,
    "locations": None,
    "resend_on_restock": False,
    "sms_cap_per_restock": None,
    "webhook_url": None,
    "webhook_secret_set": False,
    "sms_countries": None,
    "sms_quiet_hours": None,
    "reminders": [],
    "weekly_summary": False,
    "channels": {"email": True, "sms": True, "push": True},
    "can_send": {
        "email": False,
        "sms": False,
        "push": False,
    },  # the test settings configure no channel
}


def shop_id(engine, domain=SHOP) -> int:
    with engine.connect() as connection:
        return connection.execute(
            select(Shop.__table__.c.id).where(Shop.__table__.c.domain == domain)
        ).scalar_one()


# -- Settings ---------------------------------------------------------------------------------------
def test_settings_read_and_partial_write_recorded_with_the_user(client, engine, shop):
    assert client.get("/app/api/settings", headers=bearer()).json() == DEFAULTS
    change = {
        "double_optin": True,
        "delivery_policy": "batches",
        "batch_multiplier": 2.5,
        "channels": {"sms": False},
        "reply_to": "Help@Example.com",
        "sender_name": "  Linen & Co  ",
        "high_demand_threshold": 25,
    }
    response = client.put("/app/api/settings", json=change, headers=bearer(sub="777"))
    assert response.status_code == 200
    expected = {
        **DEFAULTS,
        **change,
        "channels": {"email": True, "sms": False, "push": True},
        "reply_to": "help@example.com",
        "sender_name": "Linen & Co",
    }
    assert response.json() == expected
    assert client.get("/app/api/settings", headers=bearer()).json() == expected
    with engine.connect() as connection:
        [row] = connection.execute(select(SettingsChange.__table__)).all()
    assert row.changed_by == "777"
    assert json.loads(row.changes)["double_optin"] == [False, True]
    assert json.loads(row.changes)["channel_sms"] == [True, False]
    # The same values again change nothing and record nothing.
    client.put("/app/api/settings", json=change, headers=bearer())
    with engine.connect() as connection:
        assert len(connection.execute(select(SettingsChange.__table__)).all()) == 1
    cleared = client.put(
        "/app/api/settings", json={"high_demand_threshold": None, "reply_to": ""}, headers=bearer()
    )
    assert cleared.json()["high_demand_threshold"] is None and cleared.json()["reply_to"] is None


def test_the_counted_locations_are_kept_as_ids_and_null_means_every_location(client, shop):
    chosen = client.put(
        "/app/api/settings",
        json={"locations": ["gid://shopify/Location/30", 10, "20", 10], "published_only": False},
        headers=bearer(),
    )
    assert chosen.status_code == 200, chosen.text
    assert chosen.json()["locations"] == [10, 20, 30]
    assert chosen.json()["published_only"] is False
    assert client.get("/app/api/settings", headers=bearer()).json()["locations"] == [10, 20, 30]
    every = client.put("/app/api/settings", json={"locations": None}, headers=bearer())
    assert every.json()["locations"] is None


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"min_restock_quantity": 0}, "min_restock_quantity: must be from 1 to 1000000"),
        ({"min_restock_quantity": "3"}, "min_restock_quantity: must be a whole number"),
        ({"min_restock_quantity": 1.5}, "min_restock_quantity: must be a whole number"),
        ({"delivery_policy": "some"}, 'delivery_policy: must be "all" or "batches"'),
        ({"batch_multiplier": 0}, "batch_multiplier: must be greater than 0 and at most 1000"),
        ({"batch_multiplier": True}, "batch_multiplier: must be a number"),
        ({"batch_interval_seconds": -1}, "batch_interval_seconds: must be from 0 to 2592000"),
        ({"double_optin": "yes"}, "double_optin: must be true or false"),
        ({"channels": {"email": 1}}, "channels.email: must be true or false"),
        ({"channels": {"fax": True}}, "channels.fax: unknown channel (email, sms or push)"),
        ({"channels": True}, "channels: must be an object with email, sms and push"),
        ({"high_demand_threshold": 0}, "high_demand_threshold: must be from 1 to 1000000"),
        ({"reply_to": "not an email"}, "reply_to: must be a valid email address"),
        ({"sender_name": "x" * 101}, "sender_name: must be at most 100 characters"),
        (
            {"sender_name": "Evil\r\nBcc: a@b.c"},
            "sender_name: must not contain control characters, quotes or angle brackets",
        ),
        ({"colour": "red"}, "colour: unknown setting"),
        ({"published_only": "no"}, "published_only: must be true or false"),
        ({"resend_on_restock": 1}, "resend_on_restock: must be true or false"),
        ({"weekly_summary": "yes"}, "weekly_summary: must be true or false"),
        ({"sms_cap_per_restock": 0}, "sms_cap_per_restock: must be from 1 to 1000000"),
        ({"sms_cap_per_restock": "50"}, "sms_cap_per_restock: must be a whole number or null"),
        ({"locations": []}, "locations: must name at least one location (null: every location)"),
        (
            {"locations": "all"},
            "locations: must be a list of location ids, or null for every location",
        ),
        (
            {"locations": [1, 0]},
            "locations: must be location ids (whole numbers from 1 to 2^63-1)",
        ),
        (
            {"locations": ["gid://shopify/Product/1"]},
            "locations: must be location ids (whole numbers from 1 to 2^63-1)",
        ),
        ({"locations": [True]}, "locations: must be location ids (whole numbers from 1 to 2^63-1)"),
        ({"locations": list(range(1, 1002))}, "locations: must name at most 1000 locations"),
        ([1, 2], "body: must be a JSON object of settings"),
    ],
)
def test_a_bad_value_is_a_400_and_nothing_is_saved(body, error, client, engine, shop):
    payload = {"double_optin": True, **body} if isinstance(body, dict) else body
    response = client.put("/app/api/settings", json=payload, headers=bearer())
    assert response.status_code == 400
    assert error in response.json()["errors"]
    assert client.get("/app/api/settings", headers=bearer()).json() == DEFAULTS
    with engine.connect() as connection:
        assert connection.execute(select(SettingsChange.__table__)).first() is None


def test_every_bad_field_is_named_and_bad_json_refused(client, shop):
    response = client.put(
        "/app/api/settings", json={"min_restock_quantity": -1, "reply_to": 5}, headers=bearer()
    )
    assert len(response.json()["errors"]) == 2
    raw = client.put("/app/api/settings", content=b"{nope", headers=bearer())
    assert raw.status_code == 400 and raw.json() == {"errors": ["body: must be JSON"]}


def test_settings_are_per_shop(client, engine, settings, shop):
    install_shop(engine, settings, OTHER)
    client.put("/app/api/settings", json={"min_restock_quantity": 9}, headers=bearer(OTHER))
    assert client.get("/app/api/settings", headers=bearer()).json()["min_restock_quantity"] == 1
    assert (
        client.get("/app/api/settings", headers=bearer(OTHER)).json()["min_restock_quantity"] == 9
    )


# -- Stats ----------------------------------------------------------------------------------------------
def test_stats_count_the_window_and_fill_every_day(client, engine, settings, shop):
    me = shop_id(engine)
    now = utcnow()
    add_intents(engine, me, 3)
    add_intents(engine, me, 2, created_at=now - timedelta(days=2), start=10)
    notified = add_intents(engine, me, 1, status="notified", start=20)
    add_intents(
        engine, me, 4, created_at=now - timedelta(days=40), start=30
    )  # outside 30 days, still waiting
    add_delivery(engine, me, notified[0])
    other = install_shop(engine, settings, OTHER)
    add_intents(engine, other, 5, start=50)
    body = client.get("/app/api/stats?days=30", headers=bearer()).json()
    assert (body["signups"], body["pending"], body["notified"]) == (6, 9, 1)
    assert (body["conversions"], body["conversion_rate"], body["recovered_revenue"]) == (
        0,
        0.0,
        "0.00",
    )
    assert len(body["per_day"]) == 30 and body["per_day"][-1]["date"] == now.date().isoformat()
    assert body["per_day"][-1] == {
        "date": now.date().isoformat(),
        "signups": 4,
        "alerts": 1,
        "conversions": 0,
    }
    assert body["per_day"][-3]["signups"] == 2
    assert sum(d["signups"] for d in body["per_day"]) == body["signups"]
    assert len(client.get("/app/api/stats?days=1", headers=bearer()).json()["per_day"]) == 1
    year = client.get(
        "/app/api/stats?days=366", headers=bearer()
    ).json()  # 366 counts in one statement
    assert len(year["per_day"]) == 366 and year["signups"] == 10
    assert client.get("/app/api/stats", headers=bearer()).json()["days"] == 30
    page = client.get(
        "/app/dashboard?" + urlencode({"shop": SHOP, "id_token": session_token()})
    ).text
    assert (
        '<div class="value" data-metric="pending">9</div>' in page
    )  # from the products-in-demand scan
    assert '<div class="value" data-metric="signups">6</div>' in page


def add_conversion(
    engine,
    shop_id: int,
    line: int,
    amount: float,
    *,
    ordered_at,
    currency: str | None = "EUR",
    notification_id: int | None = None,
) -> None:
    with engine.begin() as connection:
        connection.execute(
            insert(Conversion.__table__).values(
                shop_id=shop_id,
                notification_id=notification_id,
                shopify_variant_id=1001,
                order_id=9000 + line,
                line_item_id=line,
                quantity=1,
                amount=amount,
                currency=currency,
                ordered_at=ordered_at,
            )
        )


def test_stats_count_conversions_and_revenue_in_the_window(client, engine, settings, shop):
    me = shop_id(engine)
    now = utcnow()
    notified = add_intents(engine, me, 3, status="notified")
    _, notification = add_delivery(engine, me, notified[0])
    add_conversion(engine, me, 1, 19.99, ordered_at=now, notification_id=notification)
    add_conversion(engine, me, 2, 0.1, ordered_at=now - timedelta(days=2))
    add_conversion(engine, me, 3, 0.2, ordered_at=now - timedelta(days=2))
    add_conversion(engine, me, 4, 500, ordered_at=now - timedelta(days=40))  # outside 30 days
    other = install_shop(engine, settings, OTHER)
    add_conversion(engine, other, 5, 1000, ordered_at=now, currency="USD")  # another shop's
    body = client.get("/app/api/stats?days=30", headers=bearer()).json()
    assert (body["notified"], body["conversions"], body["recovered_revenue"]) == (3, 3, "20.29")
    assert body["conversion_rate"] == 1.0
    assert body["currency"] == "EUR"  # the shop's is not known: its orders'
    assert body["per_day"][-1]["conversions"] == 1 and body["per_day"][-3]["conversions"] == 2
    assert sum(d["conversions"] for d in body["per_day"]) == 3
    today = client.get("/app/api/stats?days=1", headers=bearer()).json()
    assert (today["conversions"], today["conversion_rate"], today["recovered_revenue"]) == (
        1,
        0.3333,
        "19.99",
    )
    with engine.begin() as connection:
        connection.execute(
            update(Shop.__table__).where(Shop.__table__.c.id == me).values(currency="GBP")
        )
    assert (
        client.get("/app/api/stats?days=90", headers=bearer()).json()["recovered_revenue"]
        == "520.29"
    )
    assert client.get("/app/api/stats?days=90", headers=bearer()).json()["currency"] == "GBP"
    page = client.get(
        "/app/dashboard?days=30&" + urlencode({"shop": SHOP, "id_token": session_token()})
    )
    assert page.status_code == 200
    assert '<div class="value" data-metric="pending">0</div>' in page.text
    assert '<div class="value" data-metric="conversions">3</div>' in page.text
    assert '<div class="value" data-metric="conversion_rate">100.0%</div>' in page.text
    assert '<div class="value" data-metric="recovered_revenue">£20.29</div>' in page.text


def test_stats_without_alerts_have_no_rate(client, engine, shop):
    add_conversion(engine, shop_id(engine), 1, 5, ordered_at=utcnow(), currency=None)
    body = client.get("/app/api/stats?days=7", headers=bearer()).json()
    assert (body["notified"], body["conversions"], body["conversion_rate"]) == (0, 1, 0.0)
    assert (body["recovered_revenue"], body["currency"]) == ("5.00", None)


@pytest.mark.parametrize("days", ["0", "367", "-1", "abc", "1e3", "99999999999"])
def test_stats_refuse_a_bad_window(days, client, shop):
    response = client.get(f"/app/api/stats?days={days}", headers=bearer())
    assert response.status_code == 400 and response.json()["errors"] == [
        "days: must be a whole number from 1 to 366"
    ]


# -- Signups ------------------------------------------------------------------------------------------
def test_intents_filter_and_page(client, engine, settings, shop):
    me = shop_id(engine)
    emails = add_intents(engine, me, 5)
    add_intents(engine, me, 3, channel="sms", variant=2002, start=100)
    add_intents(engine, me, 2, status="notified", start=200)
    add_intents(engine, install_shop(engine, settings, OTHER), 4, start=300)

    def get(q):
        return client.get(f"/app/api/intents?{q}", headers=bearer()).json()

    everything = get("")
    assert everything["meta"] == {"total_count": 10, "page": 1, "per_page": 50, "total_pages": 1}
    assert [i["id"] for i in everything["intents"]] == sorted(
        (i["id"] for i in everything["intents"]), reverse=True
    )
    assert get("channel=sms")["meta"]["total_count"] == 3
    assert get("status=notified")["meta"]["total_count"] == 2
    assert get("shopify_variant_id=2002")["meta"]["total_count"] == 3
    assert [i["email"] for i in get("q=SHOPPER3@")["intents"]] == ["shopper3@example.com"]
    assert get("q=4155550101")["intents"][0]["phone"] == "+14155550101"
    assert get("q=%25")["meta"]["total_count"] == 0  # a LIKE wildcard is a plain character
    page2 = get("per_page=4&page=2")
    assert page2["meta"] == {"total_count": 10, "page": 2, "per_page": 4, "total_pages": 3}
    assert len(page2["intents"]) == 4 and len(get("per_page=4&page=3")["intents"]) == 2
    assert get("per_page=4&page=4")["intents"] == []
    assert get("per_page=500")["meta"]["per_page"] == 500
    first = get("per_page=1")["intents"][0]
    assert set(first) >= {
        "id",
        "status",
        "channel",
        "email",
        "phone",
        "quantity",
        "shopify_variant_id",
        "created_at",
    }
    assert "push_subscription" not in first and "contact_key" not in first
    assert emails[0] not in [i["id"] for i in get("channel=sms")["intents"]]


@pytest.mark.parametrize(
    ("query", "error"),
    [
        ("per_page=501", "per_page: must be a whole number from 1 to 500"),
        ("per_page=0", "per_page: must be a whole number from 1 to 500"),
        ("page=0", "page: must be a whole number from 1 to 1000000000"),
        ("page=x", "page: must be a whole number from 1 to 1000000000"),
        ("status=sent", "status: must be one of pending, held, notified, unsubscribed, cancelled"),
        ("channel=fax", "channel: must be one of email, sms, push"),
        (
            "shopify_variant_id=abc",
            "shopify_variant_id: must be a Shopify id (a whole number)",
        ),
    ],
)
def test_intents_refuse_bad_filters(query, error, client, shop):
    response = client.get(f"/app/api/intents?{query}", headers=bearer())
    assert response.status_code == 400 and response.json() == {"errors": [error]}


def test_delete_an_unsent_signup_only_of_ones_own_shop(client, engine, settings, shop):
    me = shop_id(engine)
    (pending,) = add_intents(engine, me, 1)
    (notified,) = add_intents(engine, me, 1, status="notified", start=5)
    (theirs,) = add_intents(engine, install_shop(engine, settings, OTHER), 1, start=9)
    assert client.delete(f"/app/api/intents/{theirs}", headers=bearer()).status_code == 404
    sent = client.delete(f"/app/api/intents/{notified}", headers=bearer())
    assert sent.status_code == 422 and "only unsent signups" in sent.json()["errors"][0]
    assert client.delete(f"/app/api/intents/{pending}", headers=bearer()).status_code == 204
    assert client.delete(f"/app/api/intents/{pending}", headers=bearer()).status_code == 404
    assert client.delete("/app/api/intents/nope", headers=bearer()).status_code == 404
    with engine.connect() as connection:
        left = {r.id for r in connection.execute(select(Intent.__table__.c.id))}
    assert left == {notified, theirs}


# -- Demand and deliveries -----------------------------------------------------------------------------
def test_demand_orders_variants_by_waiting_signups(client, engine, settings, shop):
    me = shop_id(engine)
    add_intents(engine, me, 2, variant=1001)
    add_intents(engine, me, 4, variant=2002, product_title="Wool hat", start=10)
    add_intents(engine, me, 3, variant=3003, status="notified", start=20)
    add_variant(engine, me, 1001, sellable=0)
    add_intents(engine, install_shop(engine, settings, OTHER), 9, variant=1001, start=40)
    body = client.get("/app/api/demand", headers=bearer()).json()
    assert [(v["shopify_variant_id"], v["pending"]) for v in body["variants"]] == [
        (2002, 4),
        (1001, 2),
    ]
    assert body["meta"]["total_count"] == 2 and body["pending"] == 6
    shirt = body["variants"][1]
    assert (
        shirt["stock"] == 0 and shirt["sku"] == "LS-BM" and shirt["last_restocked_at"].endswith("Z")
    )
    assert (
        body["variants"][0]["stock"] is None and body["variants"][0]["product_title"] == "Wool hat"
    )
    second = client.get("/app/api/demand?per_page=1&page=2", headers=bearer()).json()
    assert [v["shopify_variant_id"] for v in second["variants"]] == [1001] and second["meta"][
        "total_count"
    ] == 2
    past = client.get("/app/api/demand?per_page=1&page=3", headers=bearer()).json()
    assert past["variants"] == [] and past["meta"]["total_count"] == 2 and past["pending"] == 6


def test_deliveries_say_why_each_message_was_sent(client, engine, settings, shop):
    me = shop_id(engine)
    a, b = add_intents(engine, me, 2, status="notified")
    event, _ = add_delivery(engine, me, a)
    add_delivery(engine, me, b, status="failed", error="SMTP 550 mailbox unavailable")
    other = install_shop(engine, settings, OTHER)
    add_delivery(engine, other, add_intents(engine, other, 1, start=9)[0])
    body = client.get("/app/api/deliveries", headers=bearer()).json()
    assert body["meta"] == {"total_count": 2, "page": 1, "per_page": 50, "total_pages": 1}
    failed, sent = body["deliveries"]
    assert failed["status"] == "failed" and failed["last_error"] == "SMTP 550 mailbox unavailable"
    assert failed["error_text"] == "The shopper's mail server refused this address"
    assert sent["error_text"] is None
    assert sent["why"] == {
        "restock_event_id": event,
        "stock_before": 0,
        "stock_after": 5,
        "policy": "all",
        "trigger": "webhook",
        "waiting": None,  # decided before the totals were kept
        "batch_number": 1,
        "batches": None,
        "locations": [],
        "at": sent["why"]["at"],
    }
    assert (
        sent["channel"] == "email"
        and sent["attempts"] == 1
        and sent["contact"] == "shopper0@example.com"
    )
    assert (
        client.get("/app/api/deliveries?status=failed", headers=bearer()).json()["meta"][
            "total_count"
        ]
        == 1
    )
    assert client.get("/app/api/deliveries?status=nope", headers=bearer()).status_code == 400


# -- Exports ----------------------------------------------------------------------------------------------
def rows_of(response) -> list[dict]:
    return list(csv.DictReader(io.StringIO(response.text)))


def test_signups_csv_streams_every_row_in_chunks(client, engine, settings, shop, monkeypatch):
    from shopify_app.admin import exports

    monkeypatch.setattr(exports, "CHUNK", 7)
    me = shop_id(engine)
    add_intents(engine, me, 20)
    add_intents(engine, me, 3, channel="sms", start=100)
    add_intents(engine, install_shop(engine, settings, OTHER), 5, start=200)
    response = client.get("/app/api/export/signups.csv", headers=bearer())
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    assert 'filename="signups.csv"' in response.headers["content-disposition"]
    rows = rows_of(response)
    assert len(rows) == 23 and len({r["id"] for r in rows}) == 23
    assert response.text.splitlines()[0].startswith("id,created_at,status,channel,email,phone")
    assert (
        len(rows_of(client.get("/app/api/export/signups.csv?channel=sms", headers=bearer()))) == 3
    )
    assert (
        client.get("/app/api/export/signups.csv?channel=fax", headers=bearer()).status_code == 400
    )
    assert client.get("/app/api/export/signups.csv").status_code == 401


def test_an_empty_export_is_a_header_and_formulas_are_defused(client, engine, shop):
    assert (
        client.get("/app/api/export/deliveries.csv", headers=bearer())
        .text.strip()
        .startswith("id,created_at,kind")
    )
    me = shop_id(engine)
    add_intents(engine, me, 1)
    add_variant(engine, me, 1001, product_title='=HYPERLINK("http://evil")', sku="-1+1")
    [row] = rows_of(client.get("/app/api/export/signups.csv", headers=bearer()))
    assert row["product_title"].startswith("'=") and row["product"].startswith("'=")
    assert row["sku"] == "'-1+1"


def test_deliveries_csv(client, engine, shop):
    me = shop_id(engine)
    (a,) = add_intents(engine, me, 1, status="notified")
    event, notification = add_delivery(engine, me, a)
    [row] = rows_of(client.get("/app/api/export/deliveries.csv", headers=bearer()))
    assert row["id"] == str(notification) and row["restock_event_id"] == str(event)
    assert (row["stock_before"], row["stock_after"], row["status"]) == ("0", "5", "sent")
    assert row["why"] == "Restocked to 5 units: everyone waiting alerted (1 signup)"


# -- API key ----------------------------------------------------------------------------------------------
def test_rotating_the_api_key_returns_a_new_one_each_time(client, engine, shop):
    first = client.post("/app/api/api-key", headers=bearer())
    second = client.post("/app/api/api-key", headers=bearer())
    assert first.status_code == 200 and second.status_code == 200
    assert first.json()["api_key"] != second.json()["api_key"]
    with engine.connect() as connection:
        stored = connection.execute(select(Shop.__table__.c.api_key_hash)).scalar_one()
        assert stored and second.json()["api_key"] not in stored
        assert api_keys.shop_for_key(connection, first.json()["api_key"]) is None
        assert api_keys.shop_for_key(connection, second.json()["api_key"]) is not None


# -- Generated requests ---------------------------------------------------------------------------------
from hypothesis import given  # noqa: E402

from shopify_app.routes import admin as admin_routes  # noqa: E402

from ..webhooks.strategies import tally  # noqa: E402
from .strategies import (  # noqa: E402
    AWKWARD_QUERY_VALUES,
    QUERY_NAMES,
    ROUTE_EXAMPLES,
    bodies,
    paths,
    queries,
    routes_of,
)

ADMIN_API = [(m, p) for m, p in routes_of(admin_routes.routes) if p.startswith("/app/api/")]


def assert_admin_answer(response) -> None:
    """No server error; an error is `{"errors": [...]}` with readable strings."""
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert response.headers["content-type"].startswith("application/json"), response.headers
        body = response.json()
        assert list(body) == ["errors"] and body["errors"], body
        assert all(isinstance(e, str) and e for e in body["errors"]), body


def test_every_admin_json_route_is_generated():
    assert len(ADMIN_API) >= 15 and ("PUT", "/app/api/settings") in ADMIN_API, ADMIN_API


@pytest.mark.slow
@pytest.mark.parametrize(("method", "template"), ADMIN_API)
def test_any_query_and_body_to_an_admin_route_is_answered_without_a_server_error(
    method, template, backend, client, engine, shop
):
    me = shop_id(engine)
    for status in ("pending", "notified"):
        [intent] = add_intents(engine, me, 1, status=status, start=0 if status == "pending" else 1)
        add_delivery(engine, me, intent, status="sent" if status == "notified" else "held")

    @ROUTE_EXAMPLES
    @given(path=paths(template), query=queries, body=bodies)
    def check(path, query, body):
        content = body if method in ("POST", "PUT", "DELETE") else None
        response = client.request(
            method,
            path,
            params=query,
            content=content,
            headers={**bearer(), "Content-Type": "application/json"},
        )
        tally(f"admin {method} {template} [{backend}]", response.status_code)
        assert_admin_answer(response)

    check()


@pytest.mark.slow
@pytest.mark.parametrize("template", [p for m, p in ADMIN_API if m == "GET" and "{" not in p])
def test_every_query_parameter_with_each_awkward_value_is_answered_without_a_server_error(
    template, client, engine, shop
):
    [intent] = add_intents(engine, shop_id(engine), 1)
    add_delivery(engine, shop_id(engine), intent)
    for name in QUERY_NAMES:
        for value in AWKWARD_QUERY_VALUES:
            assert_admin_answer(client.get(template, params={name: value}, headers=bearer()))


def test_a_path_or_method_the_router_does_not_know_is_answered_in_the_errors_shape(client, shop):
    for method, path in [
        ("GET", "/app/api/nope"),
        ("GET", "/app/api/data-requests//0"),
        ("POST", "/app/api/stats"),
        ("GET", "/api/v1/nope"),
        ("DELETE", "/api/v1/intents.json"),
    ]:
        response = client.request(method, path, headers=bearer())
        assert response.status_code in (404, 405), (path, response.status_code)
        assert_admin_answer(response)
    # Admin GETs refuse HEAD (tests/routes/test_safe_methods.py), so GET is all a POST is offered.
    assert set(client.post("/app/api/stats", headers=bearer()).headers["allow"].split(", ")) == {
        "GET"
    }
    # Outside the JSON interfaces the router's answers stay Starlette's plain text.
    other = client.get("/webhooks/nope")
    assert other.status_code == 404 and other.headers["content-type"].startswith("text/plain")
