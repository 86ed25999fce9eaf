"""Manual sending (issue 9): with a shop's automatic sending off, a restock still decides and writes
its alerts, held; nothing reaches the SMTP server or Twilio until the merchant sends them from the
admin ("Notify now", "Send all held") or the merchant API (notify_intent, bulk_notify_intent); then
the worker sends exactly those. Another shop's signups are refused (404) and nothing changes."""

import httpx
import pytest
from sqlalchemy import select

from shopify_app.external_api import api_keys
from shopify_app.models import Intent, Notification, Shop
from shopify_app.notify.channels import build_channels
from shopify_app.notify.render import unsubscribe_token
from shopify_app.notify.worker import Worker

from ..admin.data import add_delivery, add_intents
from ..admin.tokens import OTHER, bearer
from ..fakes.smtp import SmtpServer
from ..fakes.twilio import FakeTwilio
from ..support import install_shop, serve_in_thread
from .helpers import (
    LOCATION,
    LOCATION2,
    SHOP,
    VARIANT,
    drain,
    events,
    level_webhook,
    notifications,
    recording_channels,
    run,
    setup_shop,
    signup,
)

intents_t, notifications_t = Intent.__table__, Notification.__table__
MERCHANT = "/api/v1/external/intents"


@pytest.fixture(scope="module")
def outside():
    twilio = FakeTwilio()
    with SmtpServer() as smtp, serve_in_thread(twilio.app) as twilio_url:
        yield {"smtp": smtp, "twilio": twilio, "twilio_url": twilio_url}


@pytest.fixture
def wired(settings, outside):
    """Settings whose email and SMS go to the fake SMTP server and Twilio (emptied for each test)."""
    smtp, twilio = outside["smtp"], outside["twilio"]
    smtp.recorder.received.clear()
    smtp.recorder.refuse_all = smtp.recorder.stall = False
    smtp.recorder.delay = 0.0
    twilio.messages.clear()
    return settings.model_copy(
        update={
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": smtp.port,
            "SMTP_STARTTLS": False,
            "MAIL_FROM": "Shop <alerts@shop.example>",
            "TWILIO_ACCOUNT_SID": twilio.account_sid,
            "TWILIO_AUTH_TOKEN": twilio.auth_token,
            "TWILIO_FROM_NUMBER": "+15005550006",
            "TWILIO_API_BASE_URL": outside["twilio_url"],
        }
    )


def send_due(settings, engine):
    """One worker draining everything due, through the real channels."""

    async def go():
        async with httpx.AsyncClient() as http:
            channels = build_channels(settings)
            await Worker(settings, engine, http, channels).drain()
            for channel in channels.values():
                await channel.aclose()

    run(go())


def mailed(outside) -> list[str]:
    return sorted(m.recipients[0] for m in outside["smtp"].recorder.received)


def texted(outside) -> list[str]:
    return sorted(m["To"] for m in outside["twilio"].messages)


def by_intent(engine) -> dict[int, Notification]:
    return {n.intent_id: n for n in notifications(engine)}


def intent_status(engine, intent_id: int) -> str:
    with engine.connect() as c:
        return c.execute(select(intents_t.c.status).where(intents_t.c.id == intent_id)).scalar_one()


def restock_held(
    client, engine, settings, fake_shopify, channels=("email", "email", "sms"), **policy
):
    """A shop with automatic sending off, a signup per channel given, and a restock the worker has
    decided (with channels that record, so nothing could leave). The signups' ids."""
    setup_shop(engine, settings, fake_shopify, automatic_sending=False, **policy)
    ids = []
    for n, channel in enumerate(channels):
        contact = (
            {"email": f"held{n}@example.com"}
            if channel == "email"
            else {"phone": f"1415555{n:04d}"}
        )
        ids.append(signup(client, channel, **contact)["id"])
    stock(fake_shopify, 3)
    level_webhook(client, 3)
    run(drain(settings, engine, recording_channels()))
    return ids


@pytest.mark.slow
def test_a_restock_without_automatic_sending_holds_its_alerts_and_sends_nothing(
    client, engine, settings, wired, outside, fake_shopify
):
    a, b, c = restock_held(client, engine, settings, fake_shopify)
    send_due(wired, engine)
    assert mailed(outside) == [] and texted(outside) == []

    [event] = events(engine)
    assert (event.stock_before, event.stock_after, event.chosen, event.trigger) == (
        None,
        3,
        3,
        "webhook",
    )
    assert event.policy.endswith("held for manual sending")
    rows = by_intent(engine)
    assert set(rows) == {a, b, c} and {n.status for n in rows.values()} == {"held"}
    assert {n.restock_event_id for n in rows.values()} == {event.id} and {
        n.attempts for n in rows.values()
    } == {0}
    assert {intent_status(engine, i) for i in (a, b, c)} == {
        "pending"
    }  # still waiting: shown as held

    # The merchant sees them held, on the signups list and in the delivery log.
    listed = client.get("/app/api/intents?status=held", headers=bearer()).json()
    assert listed["meta"]["total_count"] == 3 and {i["status"] for i in listed["intents"]} == {
        "held"
    }
    assert (
        client.get("/app/api/intents?status=pending", headers=bearer()).json()["meta"][
            "total_count"
        ]
        == 0
    )
    log = client.get("/app/api/deliveries?status=held", headers=bearer()).json()
    assert log["meta"]["total_count"] == 3 and log["deliveries"][0]["why"]["policy"].endswith(
        "held for manual sending"
    )

    # More stock later is no new restock, and the held signups are not chosen again.
    level_webhook(client, 9, updated_at="2026-11-22T12:05:00-05:00")
    send_due(wired, engine)
    assert len(events(engine)) == 1 and len(notifications(engine)) == 3
    assert mailed(outside) == [] and texted(outside) == []


@pytest.mark.slow
def test_notify_now_releases_held_alerts_and_the_worker_sends_exactly_those(
    client, engine, settings, wired, outside, fake_shopify
):
    a, b, c = restock_held(client, engine, settings, fake_shopify)
    held = by_intent(engine)

    one = client.post(f"/app/api/intents/{a}/notify", headers=bearer())
    assert one.status_code == 200, one.text
    assert one.json()["intent"]["id"] == a and one.json()["intent"]["status"] == "notified"
    assert intent_status(engine, a) == "notified" and by_intent(engine)[a].status == "pending"
    send_due(wired, engine)
    assert mailed(outside) == ["held0@example.com"] and texted(outside) == []
    after = by_intent(engine)
    assert (
        after[a].status == "sent" and after[a].id == held[a].id
    )  # the held row itself, not a new one
    assert after[a].restock_event_id == held[a].restock_event_id and len(events(engine)) == 1
    assert after[b].status == after[c].status == "held"

    bulk = client.post("/app/api/intents/notify", json={"intent_ids": [c]}, headers=bearer())
    assert bulk.status_code == 200 and bulk.json() == {"notified": 1, "intent_ids": [c]}
    send_due(wired, engine)
    assert mailed(outside) == ["held0@example.com"] and texted(outside) == ["+14155550002"]

    # Sent ones are not sent twice; the request names why.
    again = client.post(f"/app/api/intents/{a}/notify", headers=bearer())
    assert again.status_code == 422 and again.json()["errors"] == [
        f"intent {a}: Intent has already been notified; set allow_resend to send again"
    ]
    everything = client.post("/app/api/intents/notify", json={"all_held": True}, headers=bearer())
    assert everything.status_code == 200 and everything.json() == {"notified": 1, "held": 0}
    send_due(wired, engine)
    assert mailed(outside) == ["held0@example.com", "held1@example.com"] and texted(outside) == [
        "+14155550002"
    ]
    assert {n.status for n in notifications(engine)} == {"sent"}
    assert (
        client.get("/app/api/intents?status=held", headers=bearer()).json()["meta"]["total_count"]
        == 0
    )


@pytest.mark.slow
def test_notify_now_for_a_pending_signup_writes_its_alert(
    client, engine, settings, wired, outside, fake_shopify
):
    setup_shop(engine, settings, fake_shopify, automatic_sending=False)
    waiting = signup(client, "email", email="early@example.com")["id"]
    response = client.post(f"/app/api/intents/{waiting}/notify", headers=bearer())
    assert response.status_code == 200 and response.json()["intent"]["status"] == "notified"
    [event] = events(engine)
    assert (event.trigger, event.policy, event.chosen) == ("manual", "manual send (admin)", 1)
    send_due(wired, engine)
    assert mailed(outside) == ["early@example.com"]


@pytest.mark.slow
def test_the_merchant_api_releases_held_alerts(
    client, engine, settings, wired, outside, fake_shopify
):
    a, b, c = restock_held(client, engine, settings, fake_shopify)
    with engine.begin() as connection:
        key = api_keys.rotate(connection, SHOP)
    held = by_intent(engine)
    one = client.post(f"{MERCHANT}/notify_intent", json={"id": b}, headers={"X-Auth-Token": key})
    assert one.status_code == 200, one.text
    assert by_intent(engine)[b].id == held[b].id and by_intent(engine)[b].status == "pending"
    send_due(wired, engine)
    assert mailed(outside) == ["held1@example.com"] and texted(outside) == []

    bulk = client.post(
        f"{MERCHANT}/bulk_notify_intent",
        json={"intent_ids": [a, b, c]},
        headers={"X-Auth-Token": key},
    )
    assert bulk.status_code == 207
    assert bulk.json()["success"] == [a, c] and [f["intent_id"] for f in bulk.json()["failed"]] == [
        b
    ]
    send_due(wired, engine)
    assert mailed(outside) == ["held0@example.com", "held1@example.com"] and texted(outside) == [
        "+14155550002"
    ]
    assert len(events(engine)) == 1 and len(notifications(engine)) == 3  # released, never rewritten


@pytest.mark.slow
def test_another_shops_signups_are_refused_and_nothing_changes(
    client, engine, settings, wired, outside, fake_shopify
):
    mine = restock_held(client, engine, settings, fake_shopify, channels=("email",))[0]
    other_id = install_shop(engine, settings, OTHER, automatic_sending=False)
    [theirs] = add_intents(engine, other_id, 1, start=700)
    add_delivery(engine, other_id, theirs, status="held")

    single = client.post(f"/app/api/intents/{theirs}/notify", headers=bearer())
    assert single.status_code == 404 and single.json() == {
        "errors": [f"intent {theirs}: not found"]
    }
    mixed = client.post(
        "/app/api/intents/notify", json={"intent_ids": [mine, theirs]}, headers=bearer()
    )
    assert mixed.status_code == 404 and mixed.json() == {"errors": [f"intent {theirs}: not found"]}
    with engine.begin() as connection:
        key = api_keys.rotate(connection, SHOP)
    merchant = client.post(
        f"{MERCHANT}/notify_intent", json={"id": theirs}, headers={"X-Auth-Token": key}
    )
    assert merchant.status_code == 404
    # Their shop's token cannot send mine either; "all held" is per shop.
    assert client.post(f"/app/api/intents/{mine}/notify", headers=bearer(OTHER)).status_code == 404
    assert client.post(
        "/app/api/intents/notify", json={"all_held": True}, headers=bearer(OTHER)
    ).json() == {"notified": 1, "held": 0}

    rows = by_intent(engine)
    assert rows[mine].status == "held" and intent_status(engine, mine) == "pending"
    assert rows[theirs].status == "pending" and intent_status(engine, theirs) == "notified"
    send_due(wired, engine)
    assert mailed(outside) == ["shopper700@example.com"]  # theirs, sent by their own merchant


def test_batches_continue_while_held(client, engine, settings, fake_shopify):
    """The same signups are chosen as with automatic sending, batch by batch, and all are held."""
    setup_shop(
        engine,
        settings,
        fake_shopify,
        automatic_sending=False,
        delivery_policy="batches",
        batch_multiplier=1.0,
        batch_interval_seconds=0,
    )
    ids = [signup(client)["id"] for _ in range(5)]
    stock(fake_shopify, 2)
    level_webhook(client, 2)
    channels = recording_channels()
    run(drain(settings, engine, channels))
    assert sum(len(c.sent) for c in channels.values()) == 0
    batches = events(engine)
    assert [e.chosen for e in batches] == [2, 2, 1] and [e.batch_number for e in batches] == [
        1,
        2,
        3,
    ]
    rows = notifications(engine)
    assert [n.intent_id for n in rows] == ids and {n.status for n in rows} == {"held"}


@pytest.mark.slow
def test_turning_automatic_sending_back_on_leaves_held_alerts_held(
    client, engine, settings, wired, outside, fake_shopify
):
    [a] = restock_held(client, engine, settings, fake_shopify, channels=("email",))
    assert (
        client.put(
            "/app/api/settings", json={"automatic_sending": True}, headers=bearer()
        ).status_code
        == 200
    )
    send_due(wired, engine)
    assert mailed(outside) == []
    # Sold out, a new signup, restocked: the new one is alerted at once; the held one still waits.
    level_webhook(client, 0, updated_at="2026-11-23T13:00:00Z")
    run(drain(settings, engine, recording_channels()))
    late = signup(client, "email", email="late@example.com")["id"]
    stock(fake_shopify, 4)
    level_webhook(client, 4, updated_at="2026-11-23T14:00:00Z")
    send_due(wired, engine)
    assert mailed(outside) == ["late@example.com"]
    assert by_intent(engine)[a].status == "held" and by_intent(engine)[late].status == "sent"
    assert (
        client.post("/app/api/intents/notify", json={"all_held": True}, headers=bearer()).json()[
            "notified"
        ]
        == 1
    )
    send_due(wired, engine)
    assert mailed(outside) == ["held0@example.com", "late@example.com"]


def test_unsubscribing_cancels_a_held_alert_and_deleting_removes_it(
    client, engine, settings, fake_shopify
):
    a, b = restock_held(client, engine, settings, fake_shopify, channels=("email", "email"))
    path = f"/unsubscribe/{unsubscribe_token(settings.SECRET_KEY, a)}"
    assert client.post(path, data={"List-Unsubscribe": "One-Click"}).status_code == 200
    assert by_intent(engine)[a].status == "cancelled"
    refused = client.post(f"/app/api/intents/{a}/notify", headers=bearer())
    assert refused.status_code == 422 and refused.json()["errors"] == [
        f"intent {a}: Intent is unsubscribed"
    ]
    assert client.delete(f"/app/api/intents/{b}", headers=bearer()).status_code == 204
    assert b not in by_intent(engine)


def test_transferring_a_held_signup_cancels_its_alert(client, engine, settings, fake_shopify):
    """The held alert was about the old variant's restock; on the new variant the signup waits again."""
    a, b = restock_held(client, engine, settings, fake_shopify, channels=("email", "email"))
    with engine.begin() as connection:
        key = api_keys.rotate(connection, SHOP)
    moved = client.post(
        f"{MERCHANT}/transfer_signups",
        headers={"X-Auth-Token": key},
        json={
            "from_shopify_variant_id": VARIANT,
            "to_shopify_variant_id": 777,
            "to_shopify_product_id": 778,
        },
    )
    assert moved.status_code == 200 and moved.json()["transferred_count"] == 2
    rows = by_intent(engine)
    assert rows[a].status == rows[b].status == "cancelled"
    assert rows[a].last_error == "signup transferred to another variant"
    listed = client.get("/app/api/intents?shopify_variant_id=777", headers=bearer()).json()[
        "intents"
    ]
    assert {i["status"] for i in listed} == {"pending"}
    assert client.post(
        "/app/api/intents/notify", json={"all_held": True}, headers=bearer()
    ).json() == {"notified": 0, "held": 0}


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ([1, 2], "body: must be a JSON object"),
        ({}, "intent_ids: must be a non-empty list of signup ids (or send all_held: true)"),
        (
            {"intent_ids": []},
            "intent_ids: must be a non-empty list of signup ids (or send all_held: true)",
        ),
        ({"intent_ids": [1, "2"]}, "intent_ids: every id must be a positive whole number"),
        ({"intent_ids": [True]}, "intent_ids: every id must be a positive whole number"),
        ({"intent_ids": [2**63]}, "intent_ids: every id must be a positive whole number"),
        ({"intent_ids": list(range(1, 502))}, "intent_ids: at most 500 ids at a time"),
        (
            {"intent_ids": [1], "all_held": True},
            "intent_ids: give either intent_ids or all_held, not both",
        ),
        ({"all_held": "yes"}, "all_held: must be true or false"),
        ({"intent_ids": [1], "allow_resend": 1}, "allow_resend: must be true or false"),
    ],
)
def test_bad_bulk_requests_are_400s(body, error, client, shop):
    response = client.post("/app/api/intents/notify", json=body, headers=bearer())
    assert response.status_code == 400 and response.json() == {"errors": [error]}


def test_notify_needs_the_session_token(client, engine, shop):
    [mine] = add_intents(engine, shop_id(engine), 1)
    assert client.post(f"/app/api/intents/{mine}/notify").status_code == 401
    assert client.post("/app/api/intents/notify", json={"all_held": True}).status_code == 401
    assert (
        client.post(
            "/app/api/intents/notify",
            json={"all_held": True},
            headers={"Authorization": "Bearer forged.token.here"},
        ).status_code
        == 401
    )
    assert client.post("/app/api/intents/abc/notify", headers=bearer()).status_code == 404
    assert intent_status(engine, mine) == "pending"


def shop_id(engine, domain=SHOP) -> int:
    with engine.connect() as connection:
        return connection.execute(
            select(Shop.__table__.c.id).where(Shop.__table__.c.domain == domain)
        ).scalar_one()


def stock(fake_shopify, available: int) -> None:
    """The catalog item setup_shop added now has `available` units (at its first location)."""
    [item] = fake_shopify.items.values()
    item.levels = {LOCATION: available, LOCATION2: 0}
