"""Second alerts and the SMS cost guard (issue 18, items 5 and 8), through the webhooks, the signup
and admin APIs and the worker: with `resend_on_restock` a shopper alerted before who did not buy is
alerted once more on the next restock; with `sms_cap_per_restock` a restock's SMS past the cap are
held for the merchant, who sees their count and segments and sends them."""

from datetime import timedelta

from sqlalchemy import select, update

from shopify_app.models import Intent, Notification, utcnow

from ..admin.tokens import bearer, session_token
from ..webhooks.orders import deliver, order
from .helpers import (
    SHOP,
    VARIANT,
    drain,
    level_webhook,
    recording_channels,
    run,
    setup_shop,
    signup,
)

SOLD_OUT, IN_STOCK = 0, 4
# Stock news newer than the fake Admin API's levels (2026-11-22T10:00Z), each newer than the last.
times = (f"2026-11-23T{n // 60:02d}:{n % 60:02d}:00Z" for n in range(24 * 60))


def sold_out(client, settings, engine) -> None:
    level_webhook(client, SOLD_OUT, updated_at=next(times))
    assert sent(settings, engine) == {}


def restock(client, settings, engine, units=IN_STOCK) -> None:
    """Sold out (decided on), then back: one restock."""
    sold_out(client, settings, engine)
    level_webhook(client, units, updated_at=next(times))


def sent(settings, engine) -> dict[str, list[str]]:
    channels = recording_channels()
    run(drain(settings, engine, channels))
    return {name: sorted(m.to for m in c.sent) for name, c in channels.items() if c.sent}


def put_settings(client, **values):
    response = client.put("/app/api/settings", json=values, headers=bearer(SHOP))
    assert response.status_code == 200, response.text


def deliveries(client) -> list[dict]:
    return client.get("/app/api/deliveries", headers=bearer(SHOP)).json()["deliveries"]


def test_a_shopper_who_did_not_buy_is_alerted_once_more_on_the_next_restock(
    client, engine, settings, fake_shopify
):
    setup_shop(engine, settings, fake_shopify)
    put_settings(client, resend_on_restock=True)
    signup(client, email="bought@example.com")
    signup(client, email="browsed@example.com")
    restock(client, settings, engine)
    assert sent(settings, engine) == {"email": ["bought@example.com", "browsed@example.com"]}
    # One of them buys the variant (orders/create, attributed to the alert).
    with engine.begin() as connection:  # Shopify's order time must be after the alert was sent
        connection.execute(
            update(Notification.__table__).values(sent_at=utcnow() - timedelta(hours=1))
        )
    line = {"id": 1, "variant_id": VARIANT, "product_id": 1, "quantity": 1, "price": "49.00"}
    deliver(client, order(at=utcnow(), email="bought@example.com", lines=[line]))
    restock(client, settings, engine)
    assert sent(settings, engine) == {"email": ["browsed@example.com"]}
    again = [d for d in deliveries(client) if d["contact"] and "second alert" in d["why_text"]]
    assert len(again) == 1
    assert again[0]["why_text"].endswith("; a second alert: the first did not lead to a purchase")
    # Never a third time.
    restock(client, settings, engine)
    assert sent(settings, engine) == {}
    with engine.connect() as connection:
        rows = connection.execute(select(Intent.email, Intent.resent_at)).all()
    assert {email: at is not None for email, at in rows} == {
        "bought@example.com": False,
        "browsed@example.com": True,
    }


def test_without_the_setting_a_shopper_alerted_once_is_not_alerted_again(
    client, engine, settings, fake_shopify
):
    setup_shop(engine, settings, fake_shopify)
    signup(client, email="once@example.com")
    restock(client, settings, engine)
    assert sent(settings, engine) == {"email": ["once@example.com"]}
    restock(client, settings, engine)
    assert sent(settings, engine) == {}


def test_new_signups_are_served_before_second_alerts_when_stock_is_short(
    client, engine, settings, fake_shopify
):
    setup_shop(engine, settings, fake_shopify)
    put_settings(client, resend_on_restock=True, delivery_policy="batches", batch_multiplier=0.5)
    signup(client, email="first@example.com")
    signup(client, email="second@example.com")
    restock(client, settings, engine)  # 4 units x 0.5: both
    assert sent(settings, engine) == {"email": ["first@example.com", "second@example.com"]}
    signup(client, email="new@example.com")
    restock(client, settings, engine, units=2)  # one alert's worth: the new signup's
    assert sent(settings, engine) == {"email": ["new@example.com"]}


def test_an_sms_cap_holds_the_rest_of_a_restocks_sms_for_the_merchant(
    client, engine, settings, fake_shopify
):
    setup_shop(engine, settings, fake_shopify)
    put_settings(client, sms_cap_per_restock=2)
    phones = [f"+1415555{n:04d}" for n in range(5)]
    for phone in phones:
        signup(client, "sms", phone=phone)
    signup(client, email="email@example.com")
    restock(client, settings, engine)
    assert sent(settings, engine) == {"sms": phones[:2], "email": ["email@example.com"]}
    held = [d for d in deliveries(client) if d["status"] == "held"]
    assert len(held) == 3 and {d["channel"] for d in held} == {"sms"}
    assert held[0]["why_text"].endswith("; held by your cap of 2 SMS per restock, for you to send")
    page = client.get(f"/app/signups?id_token={session_token()}").text
    assert "3 SMS were held by your cap of 2 SMS per restock: about 3 SMS segments" in page
    # The merchant sends them.
    response = client.post("/app/api/intents/notify", json={"all_held": True}, headers=bearer())
    assert response.status_code == 200, response.text
    assert sent(settings, engine) == {"sms": phones[2:]}
    with engine.connect() as connection:
        assert set(connection.execute(select(Intent.status)).scalars()) == {"notified"}
