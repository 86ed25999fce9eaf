"""`orders/create`: conversions. An order line counts when the alerted shopper (email, phone or
Shopify customer id) bought the alerted variant within CONVERSION_WINDOW_DAYS after the alert was
sent; once, however often the order is delivered; through correctly signed HTTP deliveries."""

from datetime import UTC, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError
from sqlalchemy import select
from starlette.testclient import TestClient

from shopify_app.app import create_app
from shopify_app.config import Settings
from shopify_app.models import (
    Conversion,
    Shop,
    WebhookDelivery,
    utcnow,
)

from ..admin.tokens import bearer
from ..support import install_shop
from .orders import OTHER, OTHER_VARIANT, SENT, VARIANT, alerted, deliver, order, shop_id
from .strategies import EXAMPLES, json_values, post, replacements, shaped, tally


def converted(engine) -> list:
    with engine.connect() as connection:
        return connection.execute(
            select(Conversion.__table__).order_by(Conversion.__table__.c.id)
        ).all()


def states(engine) -> list:
    with engine.connect() as connection:
        return connection.execute(select(WebhookDelivery.__table__.c.state)).scalars().all()


# -- The window -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("after", "counts"),
    [
        (-timedelta(minutes=1), False),  # bought before the alert: not the alert's doing
        (timedelta(0), True),  # the same moment
        (timedelta(days=3), True),
        (timedelta(days=7), True),  # the window's last moment
        (timedelta(days=7, seconds=1), False),  # after the window
        (timedelta(days=15), False),
    ],
)
def test_only_an_order_inside_the_window_counts(after, counts, client, engine, shop):
    notification = alerted(engine, email="shopper@example.com")
    deliver(client, order(at=SENT + after, email="shopper@example.com"))
    rows = converted(engine)
    assert states(engine) == ["applied"]
    if not counts:
        assert rows == []
        return
    [row] = rows
    assert (
        row.notification_id,
        row.shopify_variant_id,
        row.order_id,
        row.line_item_id,
        row.quantity,
    ) == (notification, VARIANT, 820982911946154508, 466157049, 3)
    assert Decimal(str(row.amount)) == Decimal("59.97") and row.currency == "EUR"
    assert row.ordered_at == SENT + after and row.shop_id == shop_id(engine)


def test_the_window_is_the_setting(engine, settings, shop):
    alerted(engine, email="shopper@example.com")
    settings.CONVERSION_WINDOW_DAYS = 2
    with TestClient(create_app(settings), base_url="https://app.example.test") as client:
        deliver(client, order(at=SENT + timedelta(days=3), email="shopper@example.com"))
        assert converted(engine) == []
        deliver(client, order(at=SENT + timedelta(days=1), order_id=2, email="shopper@example.com"))
    assert [r.order_id for r in converted(engine)] == [2]


@pytest.mark.parametrize("value", ["0", "-1", "366", "seven"])
def test_the_window_setting_is_validated(value, monkeypatch):
    monkeypatch.setenv("CONVERSION_WINDOW_DAYS", value)
    with pytest.raises(ValidationError, match="CONVERSION_WINDOW_DAYS"):
        Settings(_env_file=None)


def test_the_window_setting_defaults_to_seven_days(monkeypatch):
    monkeypatch.delenv("CONVERSION_WINDOW_DAYS", raising=False)
    assert Settings(_env_file=None).CONVERSION_WINDOW_DAYS == 7


# -- Redelivery -------------------------------------------------------------------------------------
def test_a_redelivered_order_counts_once(client, engine, shop):
    alerted(engine, email="shopper@example.com")
    payload = order(at=SENT + timedelta(days=1), email="shopper@example.com")
    deliver(client, payload, webhook_id="w1", event_id="e1")
    deliver(client, payload, webhook_id="w1", event_id="e1")  # the same delivery again
    deliver(client, payload, webhook_id="w2", event_id="e1")  # the same event, a new delivery
    deliver(client, payload, webhook_id="w3", event_id="e3")  # the same order as a new event
    assert len(converted(engine)) == 1
    assert sorted(states(engine)) == ["applied", "applied"]


# -- Who is the same shopper ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("signup", "buyer"),
    [
        ({"email": "shopper@example.com"}, {"email": "Shopper@EXAMPLE.com"}),
        ({"email": "shopper@example.com"}, {"customer": {"id": 5, "email": "shopper@example.com"}}),
        ({"phone": "+14155550100"}, {"phone": "+1 (415) 555-0100"}),
        ({"phone": "+14155550100"}, {"customer": {"id": 5, "phone": "+14155550100"}}),
        (
            {"email": "shopper@example.com", "shopify_customer_id": "207119551"},
            {
                "email": "someone-else@example.com",
                "customer": {"id": 207119551, "email": "someone-else@example.com"},
            },
        ),
        (
            {"phone": "+14155550100", "shopify_customer_id": "207119551"},
            {"customer": {"id": "207119551"}},
        ),
        # a push signup's customer, known by the address they gave in an earlier signup
        ({"customer_email": "shopper@example.com"}, {"email": "shopper@example.com"}),
    ],
)
def test_the_same_shopper_by_email_phone_or_customer_id(signup, buyer, client, engine, shop):
    notification = alerted(engine, **signup)
    deliver(client, order(at=SENT + timedelta(days=2), **buyer))
    assert [r.notification_id for r in converted(engine)] == [notification]


@pytest.mark.parametrize(
    "buyer",
    [
        {"email": "other@example.com"},
        {"phone": "+14155550199"},
        {"customer": {"id": 999, "email": "other@example.com"}},
        {},  # a guest order without contacts
    ],
)
def test_another_shopper_does_not_count(buyer, client, engine, shop):
    alerted(
        engine, email="shopper@example.com", phone="+14155550100", shopify_customer_id="207119551"
    )
    deliver(client, order(at=SENT + timedelta(days=2), **buyer))
    assert converted(engine) == []


def test_only_the_alerted_variant_counts(client, engine, shop, caplog):
    alerted(engine, email="shopper@example.com")
    lines = [
        {"id": 1, "variant_id": OTHER_VARIANT, "quantity": 1, "price": "5.00"},
        {"id": 2, "variant_id": VARIANT, "quantity": 2, "price": "10.50"},
        {"id": 3, "variant_id": None, "quantity": 1, "price": "1.00"},  # a custom line item
    ]
    with caplog.at_level("INFO"):
        deliver(
            client, order(at=SENT + timedelta(days=2), email="shopper@example.com", lines=lines)
        )
    assert "unusable" not in caplog.text  # nothing odd in that order
    [row] = converted(engine)
    assert (row.line_item_id, row.shopify_variant_id, Decimal(str(row.amount))) == (
        2,
        VARIANT,
        Decimal("21.00"),
    )


def test_the_latest_qualifying_alert_takes_the_line(client, engine, shop):
    alerted(engine, email="shopper@example.com", sent_at=SENT - timedelta(days=3))
    latest = alerted(engine, email="shopper@example.com", sent_at=SENT)
    alerted(
        engine, email="shopper@example.com", sent_at=SENT + timedelta(days=2)
    )  # after the order
    deliver(client, order(at=SENT + timedelta(days=1), email="shopper@example.com"))
    assert [r.notification_id for r in converted(engine)] == [latest]


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        ("failed", "alert"),
        ("pending", "alert"),
        ("held", "alert"),
        ("cancelled", "alert"),
        ("sent", "optin"),
    ],
)
def test_only_a_sent_alert_counts(status, kind, client, engine, shop):
    alerted(engine, email="shopper@example.com", status=status, kind=kind)
    deliver(client, order(at=SENT + timedelta(days=1), email="shopper@example.com"))
    assert converted(engine) == []


def test_another_shops_alert_does_not_count(client, engine, settings, shop):
    install_shop(engine, settings, OTHER)
    alerted(engine, OTHER, email="shopper@example.com")
    deliver(client, order(at=SENT + timedelta(days=1), email="shopper@example.com"))
    assert converted(engine) == []
    deliver(client, order(at=SENT + timedelta(days=1), email="shopper@example.com"), shop=OTHER)
    assert [r.shop_id for r in converted(engine)] == [shop_id(engine, OTHER)]


def test_an_unknown_or_uninstalled_shop_is_acknowledged_and_ignored(client, engine, shop):
    deliver(client, order(at=SENT, email="shopper@example.com"), shop="nowhere.myshopify.com")
    assert converted(engine) == [] and states(engine) == ["applied"]


# -- The dashboard ----------------------------------------------------------------------------------
def test_the_dashboard_counts_conversions_and_recovered_revenue(client, engine, shop):
    recent = utcnow().replace(microsecond=0) - timedelta(days=2)
    alerted(engine, email="a@example.com", sent_at=recent)
    alerted(engine, phone="+14155550100", sent_at=recent)
    alerted(engine, shopify_customer_id="77", email="c@example.com", sent_at=recent)
    alerted(engine, email="d@example.com", sent_at=recent)  # never bought
    deliver(
        client, order(at=recent + timedelta(hours=1), order_id=1, email="a@example.com")
    )  # 3 x 19.99
    deliver(
        client,
        order(
            at=recent + timedelta(hours=2),
            order_id=2,
            phone="+14155550100",
            lines=[{"id": 20, "variant_id": VARIANT, "quantity": 1, "price": "0.50"}],
        ),
    )
    deliver(
        client,
        order(
            at=recent + timedelta(hours=2),
            order_id=2,
            phone="+14155550100",
            lines=[{"id": 20, "variant_id": VARIANT, "quantity": 1, "price": "0.50"}],
        ),
    )  # again
    deliver(
        client,
        order(
            at=recent + timedelta(hours=3),
            order_id=3,
            customer={"id": 77},
            lines=[{"id": 30, "variant_id": VARIANT, "quantity": 2, "price": 100}],
        ),
    )
    stats = client.get("/app/api/stats?days=7", headers=bearer()).json()
    assert stats["conversions"] == 3 and stats["notified"] == 4
    assert stats["recovered_revenue"] == "260.47"  # 59.97 + 0.50 + 200.00
    assert stats["conversion_rate"] == 0.75
    assert stats["currency"] == "EUR"  # the orders' currency is the shop's
    with engine.connect() as connection:
        assert connection.execute(select(Shop.__table__.c.currency)).scalar_one() == "EUR"


def test_a_conversion_holds_no_contact(client, engine, shop):
    alerted(
        engine, email="shopper@example.com", phone="+14155550100", shopify_customer_id="207119551"
    )
    deliver(
        client,
        order(
            at=SENT + timedelta(days=1),
            email="shopper@example.com",
            phone="+14155550100",
            customer={"id": 207119551},
        ),
    )
    [row] = converted(engine)
    stored = " ".join(str(v) for v in row)
    assert "example.com" not in stored and "4155550100" not in stored and "207119551" not in stored


# -- Anything signed is answered 2xx ----------------------------------------------------------------
JUNK = [
    {"id": "x", "created_at": "yesterday", "line_items": "none"},
    {"id": 2**64, "line_items": [{"id": 1, "variant_id": VARIANT, "quantity": 1, "price": "1"}]},
    {"id": 1, "created_at": "3026-01-01T00:00:00Z", "line_items": []},
    {
        "id": 1,
        "email": ["shopper@example.com"],
        "phone": {"n": 1},
        "customer": [1],
        "currency": "euro\x00",
        "line_items": [
            None,
            1,
            "x",
            [],
            {"id": -1},
            {"id": 1, "variant_id": VARIANT, "quantity": 2**40, "price": "1"},
            {"id": 2, "variant_id": VARIANT, "quantity": 0, "price": "1"},
            {"id": 3, "variant_id": VARIANT, "quantity": 1, "price": "NaN"},
            {"id": 4, "variant_id": VARIANT, "quantity": 1, "price": "-5"},
            {"id": 5, "variant_id": VARIANT, "quantity": 1, "price": "1e30"},
            {"id": 9, "variant_id": VARIANT, "quantity": 3, "price": "1E+999999999"},
            {"id": 10, "variant_id": VARIANT, "quantity": 1, "price": "1E-999999999"},
            {"id": 6, "variant_id": VARIANT, "quantity": True, "price": "1"},
            {"id": 7, "variant_id": "٣", "quantity": 1, "price": "1"},
        ],
    },
    {
        "id": 1,
        "email": "shopper@example.com\x00",
        "phone": "+1415555\x000100",
        "customer": {"id": "\x00"},
    },
    [],
    "order",
    None,
    12,
]


@pytest.mark.parametrize("payload", JUNK)
def test_junk_is_answered_2xx_and_applied(payload, client, engine, shop):
    alerted(engine, email="shopper@example.com")
    deliver(client, payload)
    assert states(engine) == ["applied"]


def test_awkward_lines_are_left_out_and_the_good_ones_kept(client, engine, shop, caplog):
    alerted(engine, email="shopper@example.com")
    lines = JUNK[3]["line_items"] + [
        {"id": 8, "variant_id": str(VARIANT), "quantity": 1, "price": 12.5}
    ]
    with caplog.at_level("INFO"):
        deliver(
            client,
            order(
                at=SENT + timedelta(days=1),
                email="shopper@example.com",
                lines=lines,
                currency="euro",
            ),
        )
    kept = {r.line_item_id: (Decimal(str(r.amount)), r.currency) for r in converted(engine)}
    assert kept == {
        10: (Decimal(0), None),
        8: (Decimal("12.5"), None),
    }  # 1E-999999999 rounds to nothing
    logged = " ".join(f"{r.getMessage()} {vars(r)}" for r in caplog.records)
    assert "order fields unusable" in logged and "line_items[]" in logged and "currency" in logged
    assert "example.com" not in logged and "4155550100" not in logged


def test_an_order_without_a_time_takes_the_deliverys(client, engine, shop):
    # webhook_headers sends X-Shopify-Triggered-At 2026-11-22T10:00:00Z
    from datetime import datetime

    triggered = datetime(2026, 11, 22, 10, tzinfo=UTC)
    alerted(engine, email="shopper@example.com", sent_at=triggered - timedelta(days=1))
    payload = order(at=SENT, email="shopper@example.com")
    del payload["created_at"]
    deliver(client, payload)
    assert [r.ordered_at for r in converted(engine)] == [triggered]


ORDER = order(
    at=SENT + timedelta(days=1),
    email="john@example.com",
    phone="+14155552671",
    customer={"id": 207119551, "email": "john@example.com", "phone": "555-625-1199"},
)
LINE = ORDER["line_items"][0]


def orders() -> st.SearchStrategy:
    """The real order with up to three fields replaced, and its lines shaped like real ones."""
    return st.builds(
        lambda top, lines, customer: {**top, "line_items": lines, "customer": customer},
        shaped({k: v for k, v in ORDER.items() if k not in ("line_items", "customer")}),
        st.lists(shaped(LINE), max_size=4) | replacements,
        shaped(ORDER["customer"]) | replacements,
    )


@pytest.mark.slow
def test_any_shaped_order_is_answered_2xx_and_applied(backend, client, engine, shop):
    alerted(engine, email="john@example.com", shopify_customer_id="207119551")

    @EXAMPLES
    @given(payload=orders() | json_values)
    def check(payload):
        response = post(client, "orders/create", payload)
        tally(f"webhook orders/create: shaped [{backend}]", response.status_code)
        assert response.status_code == 200
        assert "failed" not in states(engine)
        with engine.connect() as connection:
            amounts = connection.execute(select(Conversion.__table__.c.amount)).scalars().all()
        assert all(0 <= Decimal(str(a)) < 10**14 for a in amounts)

    check()
