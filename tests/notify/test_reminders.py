"""Reminders (issue 18 item 4; shopify_app/notify/reminders.py), through the settings API, the
webhooks and the worker (its periodic task, then its sending): sent days after the alert only while
the variant is in stock and the shopper has not bought it, in the merchant's words or the app's
translated ones, in the delivery log with their reason, and counted in conversions. The clock is
moved through the data: the alerts' sent time is set back."""

import asyncio
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select, update

from shopify_app import tasks
from shopify_app.models import Conversion, Notification, utcnow
from shopify_app.notify.reminders import OUT_OF_STOCK
from shopify_app.notify.worker import Worker

from ..admin.tokens import bearer
from ..webhooks.orders import deliver, order
from .helpers import SHOP, VARIANT, level_webhook, recording_channels, setup_shop, signup

notifications = Notification.__table__


def put_settings(client, **values):
    response = client.put("/app/api/settings", json=values, headers=bearer(SHOP))
    assert response.status_code == 200, response.text
    return response.json()


def work(settings, engine, *, periodic: bool = True):
    """The reminders task (when `periodic`), then the worker until nothing is due: what it sent."""

    async def go():
        channels = recording_channels()
        async with httpx.AsyncClient() as http:
            worker = Worker(settings, engine, http, channels)
            if periodic:
                tasks.write_reminders(worker.context)
            await worker.drain()
        return channels

    return asyncio.run(go())


def days_pass(engine, days: float) -> None:
    """Everything sent so far was sent `days` earlier."""
    with engine.begin() as connection:
        rows = connection.execute(
            select(notifications.c.id, notifications.c.sent_at).where(
                notifications.c.sent_at.is_not(None)
            )
        ).all()
        for row in rows:
            connection.execute(
                update(notifications)
                .where(notifications.c.id == row.id)
                .values(sent_at=row.sent_at - timedelta(days=days))
            )


def reminders(engine) -> list:
    with engine.connect() as connection:
        return connection.execute(
            select(notifications).where(notifications.c.kind == "reminder").order_by("id")
        ).all()


STAGES = [
    {"after_days": 3},
    {"after_days": 7, "texts": {"en": {"sms": "{shop}: last call for {product}! {url}"}}},
]


def test_reminders_follow_the_alert_while_in_stock_and_not_bought(
    client, engine, settings, fake_shopify
):
    setup_shop(engine, settings, fake_shopify)
    assert put_settings(client, reminders=STAGES)["reminders"] == [
        {"after_days": 3, "texts": {}},
        STAGES[1],
    ]
    signup(client, email="buyer@example.com")
    signup(client, email="waverer@example.com", locale="de")
    signup(client, "sms", phone="+14155550101")
    level_webhook(client, 5)
    first = work(settings, engine)
    assert len(first["email"].sent) == 2 and len(first["sms"].sent) == 1
    assert work(settings, engine)["email"].sent == []  # not yet: 0 days after
    days_pass(engine, 3)
    line = {"id": 7, "variant_id": VARIANT, "product_id": 1, "quantity": 1, "price": "49.00"}
    deliver(client, order(at=utcnow(), email="buyer@example.com", lines=[line]))
    sent = work(settings, engine)
    [email] = sent["email"].sent
    assert email.to == "waverer@example.com"
    assert email.subject == "Noch verfügbar: Linen Shirt (Green / M)"  # translated
    assert "ist bei Demo Shop noch auf Lager" in email.text
    [sms] = sent["sms"].sent
    assert sms.text.startswith("Demo Shop: Linen Shirt (Green / M) is still in stock.")
    assert {r.reminder_stage for r in reminders(engine)} == {1}
    assert work(settings, engine)["email"].sent == []  # once per stage
    # The delivery log names the reminder and why.
    rows = client.get("/app/api/deliveries?kind=reminder", headers=bearer(SHOP)).json()
    assert [r["why_text"] for r in rows["deliveries"]] == [
        "Reminder 1: still in stock and not bought since the alert"
    ] * 2
    # Seven days after the alert: the second stage, in the merchant's words.
    days_pass(engine, 4)
    second = work(settings, engine)
    assert [m.to for m in second["email"].sent] == ["waverer@example.com"]
    assert second["sms"].sent[0].text.startswith("Demo Shop: last call for Linen Shirt")
    # An order after the reminder counts as its conversion.
    deliver(
        client,
        order(at=utcnow(), order_id=99, email="waverer@example.com", lines=[{**line, "id": 8}]),
    )
    with engine.connect() as connection:
        converted = connection.execute(
            select(notifications.c.kind)
            .join(
                Conversion.__table__, Conversion.__table__.c.notification_id == notifications.c.id
            )
            .where(notifications.c.intent_id.is_not(None))
        ).scalars()
        assert sorted(converted) == [
            "alert",
            "reminder",
        ]  # the buyer's alert, the waverer's reminder


def test_no_reminder_while_sold_out_and_one_written_is_dropped_if_it_sells_out(
    client, engine, settings, fake_shopify
):
    setup_shop(engine, settings, fake_shopify)
    put_settings(client, reminders=[{"after_days": 1}])
    signup(client, email="shopper@example.com")
    level_webhook(client, 5)
    work(settings, engine)
    days_pass(engine, 1)
    level_webhook(client, 0, updated_at="2026-11-22T13:00:00-05:00")
    work(settings, engine, periodic=False)  # the stock news, decided on
    assert work(settings, engine)["email"].sent == []
    assert reminders(engine) == []  # sold out: none written
    level_webhook(client, 2, updated_at="2026-11-22T14:00:00-05:00")
    work(settings, engine, periodic=False)  # the stock news, decided on

    # Written while in stock, then it sells out before the worker sends it: cancelled, and why.
    async def write():
        async with httpx.AsyncClient() as http:
            tasks.write_reminders(Worker(settings, engine, http, {}).context)

    asyncio.run(write())
    level_webhook(client, 0, updated_at="2026-11-22T15:00:00-05:00")
    assert work(settings, engine, periodic=False)["email"].sent == []
    [reminder] = reminders(engine)
    assert (reminder.status, reminder.last_error) == ("cancelled", OUT_OF_STOCK)


def test_without_reminders_none_are_written(client, engine, settings, fake_shopify):
    setup_shop(engine, settings, fake_shopify)
    signup(client, email="shopper@example.com")
    level_webhook(client, 5)
    work(settings, engine)
    days_pass(engine, 3)
    assert work(settings, engine)["email"].sent == []
    assert reminders(engine) == []


@pytest.mark.parametrize(
    ("value", "error"),
    [
        ([{"after_days": 0}], "reminder 1: after_days must be a whole number from 1 to 30"),
        ([{"after_days": 31}], "reminder 1: after_days must be a whole number from 1 to 30"),
        ([{"after_days": 3}, {"after_days": 2}], "reminder 2: after_days must be later"),
        ([{"after_days": 1}] * 3, "must be a list of at most 2 reminders"),
        ([{"after_days": 1, "texts": {"xx": {}}}], "unknown language"),
        ([{"after_days": 1, "texts": {"en": {"sms": "{price}"}}}], "may use only {product}"),
        ([{"after_days": 1, "texts": {"en": {"subject": "a {"}}}], "a { without its }"),
        ([{"after_days": 1, "texts": {"en": {"body": "x"}}}], "may have subject, intro and sms"),
        ("weekly", "must be a list of at most 2 reminders, or null for none"),
    ],
)
def test_a_bad_reminders_setting_is_refused_and_nothing_saved(value, error, client, shop):
    response = client.put("/app/api/settings", json={"reminders": value}, headers=bearer(SHOP))
    assert response.status_code == 400
    assert any(m.startswith("reminders: ") and error in m for m in response.json()["errors"])
    assert client.get("/app/api/settings", headers=bearer(SHOP)).json()["reminders"] == []
