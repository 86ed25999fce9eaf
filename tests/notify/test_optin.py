"""Double opt-in: a shop that asks for it sends each new email or SMS signup a confirmation
through the outbox; until the shopper confirms (a POST: mail scanners follow links), the signup
is never alerted. At most one confirmation an hour reaches an address, however many signups."""

import time

from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from sqlalchemy import select

from shopify_app.db import session_scope
from shopify_app.keys import derive_key
from shopify_app.models import Intent
from shopify_app.notify.render import OPTIN_PURPOSE, optin_token

from .helpers import LOCATION, LOCATION2, drain, level_webhook, notifications, recording_channels, run, setup_shop, signup

P256DH = "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM"
AUTH = "tBHItJI5svbpez7KI4CCXg"


def intent(engine, intent_id: int) -> Intent:
    with session_scope(engine) as session:
        return session.get(Intent, intent_id)


def link_path(message) -> str:
    url = next(word for word in message.text.split() if "/optin/" in word)
    return url.split("app.example.test", 1)[1]


def test_a_confirmed_signup_is_alerted_and_an_unconfirmed_one_is_not(client, engine, settings, fake_shopify):
    item = setup_shop(engine, settings, fake_shopify, double_optin=True)
    ann = signup(client, email="ann@example.com", locale="fr")
    bob = signup(client, email="bob@example.com")
    assert ann["optin_confirmed"] is False and bob["optin_confirmed"] is False
    channels = recording_channels()
    run(drain(settings, engine, channels))
    ask_ann, ask_bob = sorted(channels["email"].sent, key=lambda m: m.to)
    assert ask_ann.to == "ann@example.com" and "Confirmez" in ask_ann.subject and "/optin/" in ask_ann.text
    assert ask_ann.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "/unsubscribe/" in ask_ann.headers["List-Unsubscribe"] and "/unsubscribe/" in ask_ann.html
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


def test_one_confirmation_an_hour_per_address_however_many_signups(client, engine, settings, fake_shopify):
    setup_shop(engine, settings, fake_shopify, double_optin=True)
    for variant in range(1, 6):
        signup(client, variant=variant, email="flood@example.com")
    signup(client, variant=1, email="flood@example.com")  # a repeat while unconfirmed
    asks = [n for n in notifications(engine) if n.kind == "optin"]
    assert len(asks) == 1


def test_sms_confirmation_is_short_and_push_needs_none(client, engine, settings, fake_shopify):
    setup_shop(engine, settings, fake_shopify, double_optin=True)
    sms = signup(client, "sms", phone="447911123456")
    push = signup(client, "push", push={"endpoint": "https://fcm.googleapis.com/fcm/send/x",
                                        "keys": {"p256dh": P256DH, "auth": AUTH}})
    assert sms["optin_confirmed"] is False and push["optin_confirmed"] is True
    channels = recording_channels()
    run(drain(settings, engine, channels))
    [text] = channels["sms"].sent
    assert text.to == "+447911123456" and "/optin/" in text.text and len(text.text) <= 160
    assert channels["push"].sent == []


def test_forged_expired_and_other_signups_tokens_confirm_nothing(client, engine, settings, fake_shopify):
    setup_shop(engine, settings, fake_shopify, double_optin=True)
    mine, other = signup(client, email="me@example.com"), signup(client, email="you@example.com")

    class LongAgo(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - settings.OPTIN_TOKEN_TTL - 60

    old = URLSafeTimedSerializer(derive_key(settings.SECRET_KEY, "signing").hex(), salt=OPTIN_PURPOSE,
                                 signer=LongAgo).dumps(mine["id"])
    expired = client.post(f"/optin/{old}")
    assert expired.status_code == 410
    assert client.post("/optin/forged.token").status_code == 404
    unsubscribe_token_used_for_optin = optin_token("another-secret-key-0123456789-abcdefghijkl", mine["id"])
    assert client.post(f"/optin/{unsubscribe_token_used_for_optin}").status_code == 404
    assert client.post(f"/optin/{optin_token(settings.SECRET_KEY, other['id'])}").status_code == 200
    with session_scope(engine) as session:
        confirmed = {i.id: i.optin_confirmed for i in session.execute(select(Intent)).scalars()}
    assert confirmed == {mine["id"]: False, other["id"]: True}
