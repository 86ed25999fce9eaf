"""Double opt-in: a shop that asks for it sends each new email or SMS signup a confirmation
through the outbox; until the shopper confirms (a POST: mail scanners follow links), the signup
is never alerted. At most one confirmation an hour reaches an address, however many signups."""

import time
from datetime import timedelta

import httpx
import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from sqlalchemy import select

from shopify_app.crypto import derive_key
from shopify_app.db import session_scope
from shopify_app.models import Intent, Notification, utcnow
from shopify_app.notify.channels import build_channels
from shopify_app.notify.render import OPTIN_PURPOSE, optin_token
from shopify_app.notify.worker import Worker

from ..fakes.shopify import CatalogItem
from ..fakes.smtp import SmtpServer
from .helpers import (
    ITEM,
    LOCATION,
    LOCATION2,
    PRODUCT,
    VARIANT,
    drain,
    level_webhook,
    notifications,
    recording_channels,
    run,
    setup_shop,
    signup,
)

P256DH = "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM"
AUTH = "tBHItJI5svbpez7KI4CCXg"


def intent(engine, intent_id: int) -> Intent:
    with session_scope(engine) as session:
        return session.get(Intent, intent_id)


def link_path(message) -> str:
    """The opt-in link's path in a message (a recorded one, or the text of a mail received)."""
    text = message if isinstance(message, str) else message.text
    url = next(word for word in text.split() if "/optin/" in word)
    return url.split("app.example.test", 1)[1]


def test_a_confirmed_signup_is_alerted_and_an_unconfirmed_one_is_not(
    client, engine, settings, fake_shopify
):
    item = setup_shop(engine, settings, fake_shopify, double_optin=True)
    ann = signup(client, email="ann@example.com", locale="fr")
    bob = signup(client, email="bob@example.com")
    assert ann["optin_confirmed"] is False and bob["optin_confirmed"] is False
    channels = recording_channels()
    run(drain(settings, engine, channels))
    ask_ann, _ask_bob = sorted(channels["email"].sent, key=lambda m: m.to)
    assert (
        ask_ann.to == "ann@example.com"
        and "Confirmez" in ask_ann.subject
        and "/optin/" in ask_ann.text
    )
    assert ask_ann.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert (
        "/unsubscribe/" in ask_ann.headers["List-Unsubscribe"] and "/unsubscribe/" in ask_ann.html
    )
    row = intent(engine, ann["id"])
    assert row.notified_at is None and row.sent_notifications_count == 0 and row.status == "pending"

    page = client.get(link_path(ask_ann))
    assert page.status_code == 200 and "<form" in page.text
    assert intent(engine, ann["id"]).optin_confirmed is False  # a GET confirms nothing
    done = client.post(link_path(ask_ann))
    assert done.status_code == 200 and intent(engine, ann["id"]).optin_confirmed is True

    item.levels = {LOCATION: 5, LOCATION2: 0}
    level_webhook(client, 5)
    channels = recording_channels()
    run(drain(settings, engine, channels))
    assert [m.to for m in channels["email"].sent] == ["ann@example.com"]  # bob never confirmed
    assert intent(engine, bob["id"]).status == "pending"


def test_one_confirmation_an_hour_per_address_however_many_signups(
    client, engine, settings, fake_shopify
):
    setup_shop(engine, settings, fake_shopify, double_optin=True)
    for variant in range(1, 6):
        signup(client, variant=variant, email="flood@example.com")
    signup(client, variant=1, email="flood@example.com")  # a repeat while unconfirmed
    asks = [n for n in notifications(engine) if n.kind == "optin"]
    assert len(asks) == 1


def test_sms_confirmation_is_short_and_push_needs_none(client, engine, settings, fake_shopify):
    setup_shop(engine, settings, fake_shopify, double_optin=True)
    sms = signup(client, "sms", phone="447911123456")
    push = signup(
        client,
        "push",
        push={
            "endpoint": "https://fcm.googleapis.com/fcm/send/x",
            "keys": {"p256dh": P256DH, "auth": AUTH},
        },
    )
    assert sms["optin_confirmed"] is False and push["optin_confirmed"] is True
    channels = recording_channels()
    run(drain(settings, engine, channels))
    [text] = channels["sms"].sent
    assert text.to == "+447911123456" and "/optin/" in text.text and len(text.text) <= 160
    assert channels["push"].sent == []


def test_forged_expired_and_other_signups_tokens_confirm_nothing(
    client, engine, settings, fake_shopify
):
    setup_shop(engine, settings, fake_shopify, double_optin=True)
    mine, other = signup(client, email="me@example.com"), signup(client, email="you@example.com")

    class LongAgo(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - settings.OPTIN_TOKEN_TTL - 60

    old = URLSafeTimedSerializer(
        derive_key(settings.SECRET_KEY, "signing").hex(), salt=OPTIN_PURPOSE, signer=LongAgo
    ).dumps(mine["id"])
    expired = client.post(f"/optin/{old}")
    assert expired.status_code == 410
    assert client.post("/optin/forged.token").status_code == 404
    unsubscribe_token_used_for_optin = optin_token(
        "another-secret-key-0123456789-abcdefghijkl", mine["id"]
    )
    assert client.post(f"/optin/{unsubscribe_token_used_for_optin}").status_code == 404
    assert client.post(f"/optin/{optin_token(settings.SECRET_KEY, other['id'])}").status_code == 200
    with session_scope(engine) as session:
        confirmed = {i.id: i.optin_confirmed for i in session.execute(select(Intent)).scalars()}
    assert confirmed == {mine["id"]: False, other["id"]: True}


async def drain_by_smtp(settings, engine):
    """The worker with the real channels: email over SMTP to the fake server."""
    async with httpx.AsyncClient() as http:
        channels = build_channels(settings)
        await Worker(settings, engine, http, channels).drain()
        for channel in channels.values():
            await channel.aclose()


@pytest.mark.slow
def test_one_confirmation_covers_every_signup_of_the_address_that_waited_for_it(
    client, engine, settings, fake_shopify
):
    first_item = setup_shop(engine, settings, fake_shopify, double_optin=True)
    items = [first_item] + [
        fake_shopify.add_item(CatalogItem(ITEM + n, VARIANT + n, PRODUCT, levels={LOCATION: 0}))
        for n in (1, 2)
    ]
    first = signup(client, variant=VARIANT, email="ann@example.com")
    second = signup(client, variant=VARIANT + 1, email="Ann@Example.com")  # the same address
    other = signup(client, variant=VARIANT + 1, email="bob@example.com")
    with SmtpServer() as smtp:
        by_smtp = settings.model_copy(
            update={
                "SMTP_HOST": "127.0.0.1",
                "SMTP_PORT": smtp.port,
                "SMTP_STARTTLS": False,
                "MAIL_FROM": "Shop <alerts@shop.example>",
            }
        )
        run(drain_by_smtp(by_smtp, engine))
        asks = {mail.recipients[0]: mail for mail in smtp.recorder.received}
        assert sorted(asks) == [
            "ann@example.com",
            "bob@example.com",
        ]  # one confirmation for ann's two signups
        later = signup(
            client, variant=VARIANT + 2, email="ann@example.com"
        )  # after the link was sent

        link = link_path(asks["ann@example.com"].message.get_body(("plain",)).get_content())
        assert client.post(link).status_code == 200
        assert [intent(engine, i["id"]).optin_confirmed for i in (first, second, later, other)] == [
            True,
            True,
            False,
            False,
        ]
        assert client.post(link).status_code == 200  # again: nothing more
        assert intent(engine, later["id"]).optin_confirmed is False

        # the later signup has its own confirmation, due an hour after the first went out
        [ask_later] = [
            n for n in notifications(engine) if n.kind == "optin" and n.intent_id == later["id"]
        ]
        [ask_ann] = [
            n for n in notifications(engine) if n.kind == "optin" and n.intent_id == first["id"]
        ]
        assert (
            ask_later.status == "pending"
            and ask_later.next_attempt_at == ask_ann.sent_at + timedelta(hours=1)
        )

        smtp.recorder.received.clear()
        for _n, item in enumerate(items):
            item.levels = {LOCATION: 3}
            level_webhook(client, 3, item=item.inventory_item_id, location=LOCATION)
        run(drain_by_smtp(by_smtp, engine))
        alerted = [mail.recipients[0] for mail in smtp.recorder.received]
        assert alerted == ["ann@example.com", "ann@example.com"]  # first and second, not later
        assert intent(engine, first["id"]).notified_at and intent(engine, second["id"]).notified_at
        assert (
            intent(engine, later["id"]).notified_at is None
            and intent(engine, other["id"]).notified_at is None
        )

        smtp.recorder.received.clear()
        with session_scope(engine) as session:  # the hour is up
            session.get(Notification, ask_later.id).next_attempt_at = utcnow()
        run(drain_by_smtp(by_smtp, engine))
        [ask] = smtp.recorder.received
        assert ask.recipients == ["ann@example.com"] and "Confirm" in ask.message["Subject"]
        assert (
            client.post(link_path(ask.message.get_body(("plain",)).get_content())).status_code
            == 200
        )
        assert intent(engine, later["id"]).optin_confirmed is True


@pytest.mark.slow
def test_a_link_made_before_it_carried_its_time_still_confirms_what_waited_for_it(
    client, engine, settings, fake_shopify
):
    setup_shop(engine, settings, fake_shopify, double_optin=True)
    first = signup(client, variant=1, email="ann@example.com")
    second = signup(client, variant=2, email="ann@example.com")
    time.sleep(1)  # such a link's time is its signature's, in whole seconds
    key = derive_key(settings.SECRET_KEY, "signing").hex()
    old = URLSafeTimedSerializer(key, salt=OPTIN_PURPOSE).dumps(first["id"])
    assert client.post(f"/optin/{old}").status_code == 200
    assert (
        intent(engine, first["id"]).optin_confirmed and intent(engine, second["id"]).optin_confirmed
    )
