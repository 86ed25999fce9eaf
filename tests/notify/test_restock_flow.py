"""From an inventory webhook to the messages: the worker against a fake Shopify (real HTTP, every
GraphQL document validated against the Admin schema) with recording channels."""

import json

import pytest
from sqlalchemy import select

from shopify_app.db import session_scope
from shopify_app.models import (
    DeliveryPolicy,
    Intent,
    InventoryLevel,
    Job,
    JobKind,
    Shop,
    Variant,
    WebhookDelivery,
)

from ..admin.data import add_location
from ..admin.tokens import bearer, session_token
from .helpers import (
    ITEM,
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
    stock_reads,
)

P256DH = "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM"
AUTH = "tBHItJI5svbpez7KI4CCXg"


def shop_id(engine) -> int:
    with session_scope(engine) as session:
        return session.execute(select(Shop.id)).scalar_one()


def intents(engine) -> dict[int, Intent]:
    with session_scope(engine) as session:
        return {i.id: i for i in session.execute(select(Intent)).scalars()}


def test_restock_alerts_every_channel_once(client, engine, settings, fake_shopify):
    item = setup_shop(engine, settings, fake_shopify)
    add_location(engine, shop_id(engine), LOCATION, "Main warehouse")  # named by shop_profile
    email = signup(client, "email", email="ann@example.com", locale="fr")
    sms = signup(client, "sms", phone="14155552671")
    push = signup(
        client,
        "push",
        push={
            "endpoint": "https://fcm.googleapis.com/fcm/send/x",
            "keys": {"p256dh": P256DH, "auth": AUTH},
        },
    )
    item.levels = {LOCATION: 3, LOCATION2: 0}
    level_webhook(client, 3)
    assert fake_shopify.graphql_calls == []  # the webhook itself never calls Shopify
    channels = recording_channels()
    run(drain(settings, engine, channels))

    # the read of the variant queued at its first signup (its names, from Shopify), then its stock
    [read] = [c for c in fake_shopify.graphql_calls if "productVariant(" in c["query"]]
    [call] = stock_reads(fake_shopify)
    assert read["errors"] == [] and "productVariant(" in read["query"]
    assert read["variables"] == {"id": f"gid://shopify/ProductVariant/{VARIANT}"}
    assert call["errors"] == [] and call["token"] == "shpat_worker_tests_token"
    assert call["variables"] == {"id": f"gid://shopify/InventoryItem/{ITEM}"}
    [mail] = channels["email"].sent
    assert (
        mail.to == "ann@example.com"
        and "Linen Shirt" in mail.subject
        and "en stock" in mail.subject
    )
    assert (
        f"https://{SHOP}/products/linen-shirt?variant={VARIANT}" in mail.text
        and "49.00" in mail.html
    )
    assert "https://cdn.example.com/linen-shirt.jpg" in mail.html
    unsubscribe = mail.headers["List-Unsubscribe"].strip("<>")
    assert (
        unsubscribe.startswith("https://app.example.test/unsubscribe/") and unsubscribe in mail.text
    )
    assert mail.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    [text] = channels["sms"].sent
    assert text.to == "+14155552671" and len(text.text) <= 160 and "linen-shirt" in text.text
    [note] = channels["push"].sent
    assert json.loads(note.to)["endpoint"].startswith("https://fcm.googleapis.com/")
    assert note.push_payload["url"].endswith(f"?variant={VARIANT}") and note.push_payload["title"]

    [event] = events(engine)
    assert (event.stock_before, event.stock_after, event.chosen, event.trigger) == (
        None,
        3,
        3,
        "webhook",
    )
    # what the delivery log says why with: 3 waiting, the stock at one of the two locations
    assert (event.waiting, event.batch_size, event.location_ids) == (3, None, str(LOCATION))
    deliveries = client.get("/app/api/deliveries", headers=bearer()).json()["deliveries"]
    assert {d["why_text"] for d in deliveries} == {
        "Restocked to 3 units at Main warehouse: all 3 waiting alerted"
    }
    # how long each alert took, from the webhook reaching the app (issue 17, item 5)
    with session_scope(engine) as session:
        received = session.execute(select(WebhookDelivery.received_at)).scalar_one()
    assert event.received_at == received and event.created_at >= received
    for d in deliveries:
        timing = d["latency"]
        assert timing["received_at"][:19] == received.isoformat()[:19]
        assert 0 <= timing["decided_after_seconds"] <= timing["sent_after_seconds"] < 30
        assert d["latency_text"].startswith("Sent ")
        assert "after the stock news reached the app (decided after" in d["latency_text"]
    page = client.get(f"/app/deliveries?shop={SHOP}&id_token={session_token()}")
    assert page.text.count("data-latency") == 3
    rows = notifications(engine)
    assert {n.status for n in rows} == {"sent"} and {n.restock_event_id for n in rows} == {event.id}
    assert {n.provider_id for n in rows} == {"email-1", "sms-1", "push-1"}
    stored = intents(engine)
    for intent in (email, sms, push):
        row = stored[intent["id"]]
        assert (
            row.status == "notified"
            and row.notified_at is not None
            and row.sent_notifications_count == 1
        )

    # Still in stock: more units do not alert again, and nothing is sent twice.
    level_webhook(client, 8, updated_at="2026-11-22T12:05:00-05:00")
    run(drain(settings, engine, channels))
    assert len(events(engine)) == 1 and sum(len(c.sent) for c in channels.values()) == 3
    assert len(stock_reads(fake_shopify)) == 1  # the variant and its locations are cached now


def test_sell_out_and_restock_alerts_the_new_signups(client, engine, settings, fake_shopify):
    item = setup_shop(engine, settings, fake_shopify)
    first = signup(client)
    item.levels = {LOCATION: 2, LOCATION2: 0}
    level_webhook(client, 2, updated_at="2026-11-22T12:00:00Z")
    channels = recording_channels()
    run(drain(settings, engine, channels))
    level_webhook(client, 0, updated_at="2026-11-22T12:01:00Z")
    run(drain(settings, engine, channels))
    second = signup(client)
    level_webhook(client, 0, location=LOCATION2, updated_at="2026-11-22T12:02:00Z")
    level_webhook(client, 4, location=LOCATION2, updated_at="2026-11-22T12:03:00Z")
    run(drain(settings, engine, channels))
    assert [m.to for m in channels["email"].sent] == [first["email"], second["email"]]
    assert [(e.stock_before, e.stock_after, e.chosen) for e in events(engine)] == [
        (None, 2, 1),
        (0, 4, 1),
    ]


def test_stock_is_the_sum_over_locations(client, engine, settings, fake_shopify):
    item = setup_shop(engine, settings, fake_shopify, min_restock_quantity=5)
    signup(client)
    item.levels = {LOCATION: 3, LOCATION2: 0}
    level_webhook(client, 3)
    channels = recording_channels()
    run(drain(settings, engine, channels))
    assert channels["email"].sent == []  # 3 < 5
    level_webhook(client, 2, location=LOCATION2)
    run(drain(settings, engine, channels))
    assert len(channels["email"].sent) == 1
    assert events(engine)[0].stock_after == 5


@pytest.mark.slow
def test_duplicated_reordered_and_replayed_webhooks(client, engine, settings, fake_shopify):
    item = setup_shop(engine, settings, fake_shopify)
    signup(client)
    item.levels = {LOCATION: 0, LOCATION2: 0}
    # The newer update (sold out) arrives before the older one (4 units): stock must not go back.
    level_webhook(client, 0, updated_at="2026-11-22T12:10:00Z", event_id="newer")
    level_webhook(client, 4, updated_at="2026-11-22T12:00:00Z", event_id="older")
    channels = recording_channels()
    run(drain(settings, engine, channels))
    assert channels["email"].sent == []
    with session_scope(engine) as session:
        assert session.get(InventoryLevel, (1, ITEM, LOCATION)).available == 0
    # A real restock, delivered three times (same event id) and replayed with the same payload.
    for webhook_id in ("a", "b", "c"):
        level_webhook(
            client, 5, updated_at="2026-11-22T12:20:00Z", event_id="restock", webhook_id=webhook_id
        )
    run(drain(settings, engine, channels))
    level_webhook(client, 5, updated_at="2026-11-22T12:20:00Z", event_id="replay")
    run(drain(settings, engine, channels))
    assert len(channels["email"].sent) == 1 and len(events(engine)) == 1


def test_a_level_without_an_item_id_alerts_no_one(client, engine, settings, fake_shopify):
    setup_shop(engine, settings, fake_shopify)
    signup(client)
    import uuid

    from ..support import webhook_headers

    body = json.dumps(
        {"location_id": LOCATION, "available": 50, "updated_at": "2026-11-22T12:00:00Z"}
    ).encode()
    response = client.post(
        "/webhooks/inventory_levels/update",
        content=body,
        headers=webhook_headers(body, "inventory_levels/update", SHOP, webhook_id=uuid.uuid4().hex),
    )
    assert response.status_code == 200
    channels = recording_channels()
    run(drain(settings, engine, channels))
    assert channels["email"].sent == [] and events(engine) == []
    with session_scope(engine) as session:  # only the variant read queued by the signup
        assert session.execute(select(Job.kind)).scalars().all() == [JobKind.variant_read]


def test_batches_oldest_first_until_sold_out(client, engine, settings, fake_shopify):
    item = setup_shop(
        engine,
        settings,
        fake_shopify,
        delivery_policy=DeliveryPolicy.batches.value,
        batch_multiplier=1.0,
        batch_interval_seconds=0,
    )
    waiting = [signup(client)["email"] for _ in range(7)]
    item.levels = {LOCATION: 2, LOCATION2: 0}
    level_webhook(client, 2, updated_at="2026-11-22T12:00:00Z")
    channels = recording_channels()
    run(drain(settings, engine, channels, rounds=1))  # first round: the first batch only
    run(drain(settings, engine, channels, rounds=2))
    assert [m.to for m in channels["email"].sent][:2] == waiting[:2]
    run(drain(settings, engine, channels))
    # With a zero interval, batches of 2 follow each other until no one is left.
    assert [m.to for m in channels["email"].sent] == waiting
    assert [(e.batch_number, e.chosen, e.trigger) for e in events(engine)] == [
        (1, 2, "webhook"),
        (2, 2, "batch"),
        (3, 2, "batch"),
        (4, 1, "batch"),
    ]


@pytest.mark.slow
def test_batches_stop_when_the_variant_sells_out(client, engine, settings, fake_shopify):
    item = setup_shop(
        engine,
        settings,
        fake_shopify,
        delivery_policy=DeliveryPolicy.batches.value,
        batch_multiplier=1.0,
        batch_interval_seconds=3600,
    )
    for _ in range(3):
        signup(client)
    item.levels = {LOCATION: 1, LOCATION2: 0}
    level_webhook(client, 1, updated_at="2026-11-22T12:00:00Z")
    channels = recording_channels()
    run(drain(settings, engine, channels))
    assert len(channels["email"].sent) == 1
    with session_scope(engine) as session:
        [job] = session.execute(
            select(Job).where(Job.kind == "batch", Job.status == "pending")
        ).scalars()
        job.run_at = job.created_at  # due now
    level_webhook(client, 0, updated_at="2026-11-22T12:01:00Z")
    run(drain(settings, engine, channels))
    assert len(channels["email"].sent) == 1 and len(events(engine)) == 1


def test_quantity_gate_opt_in_and_unsubscribed(client, engine, settings, fake_shopify):
    item = setup_shop(engine, settings, fake_shopify, skip_over_quantity=True)
    wants_many = signup(client, quantity=5)
    fits = signup(client, quantity=2)
    unconfirmed = signup(client)
    unsubscribed = signup(client)
    with session_scope(engine) as session:
        session.get(Intent, unconfirmed["id"]).optin_confirmed = False
    client.post(_unsubscribe_path(settings, unsubscribed["id"]))
    item.levels = {LOCATION: 2, LOCATION2: 0}
    level_webhook(client, 2)
    channels = recording_channels()
    run(drain(settings, engine, channels))
    assert [m.to for m in channels["email"].sent] == [fits["email"]]
    stored = intents(engine)
    assert (
        stored[wants_many["id"]].status == "pending"
        and stored[unconfirmed["id"]].status == "pending"
    )
    assert stored[unsubscribed["id"]].status == "unsubscribed"


def _unsubscribe_path(settings, intent_id: int) -> str:
    from shopify_app.notify.render import unsubscribe_token

    return f"/unsubscribe/{unsubscribe_token(settings.SECRET_KEY, intent_id)}"


def test_unsubscribe_link(client, engine, settings, fake_shopify):
    setup_shop(engine, settings, fake_shopify)
    intent = signup(client)
    path = _unsubscribe_path(settings, intent["id"])
    page = client.get(path)
    assert page.status_code == 200 and '<form method="post">' in page.text
    assert intents(engine)[intent["id"]].status == "pending"  # a GET changes nothing
    assert client.post(path, data={"List-Unsubscribe": "One-Click"}).status_code == 200
    row = intents(engine)[intent["id"]]
    assert row.status == "unsubscribed" and row.unsubscribed_at is not None
    assert client.get("/unsubscribe/forged.token").status_code == 404


@pytest.mark.slow
def test_reconciliation_finds_a_restock_whose_webhook_was_lost(
    client, engine, settings, fake_shopify
):
    item = setup_shop(engine, settings, fake_shopify)
    intent = signup(client)
    item.levels = {LOCATION: 0, LOCATION2: 6}  # restocked, but no webhook ever came
    channels = recording_channels()

    async def reconcile():
        import httpx

        from shopify_app import restock_jobs
        from shopify_app.notify.worker import Worker

        async with httpx.AsyncClient() as http:
            worker = Worker(settings, engine, http, channels)
            restock_jobs.schedule_reconcile(worker.context)
            await worker.drain()

    run(reconcile())
    assert [m.to for m in channels["email"].sent] == [intent["email"]]
    assert events(engine)[0].trigger == "reconcile" and events(engine)[0].stock_after == 6
    [call] = stock_reads(fake_shopify)
    assert call["errors"] == [] and call["variables"] == {
        "ids": [f"gid://shopify/ProductVariant/{VARIANT}"]
    }
    with session_scope(engine) as session:
        assert session.execute(select(Variant.handle)).scalar_one() == "linen-shirt"


def test_uninstalled_shop_gets_no_alerts(client, engine, settings, fake_shopify):
    from shopify_app.shops import mark_uninstalled

    item = setup_shop(engine, settings, fake_shopify)
    signup(client)
    item.levels = {LOCATION: 3, LOCATION2: 0}
    level_webhook(client, 3)
    with session_scope(engine) as session:
        mark_uninstalled(session, SHOP)
    channels = recording_channels()
    run(drain(settings, engine, channels))
    assert channels["email"].sent == [] and fake_shopify.graphql_calls == []


@pytest.mark.slow
def test_uninstalling_holds_what_waits_and_a_reinstall_sends_it(
    client, engine, settings, fake_shopify
):
    from shopify_app import oauth
    from shopify_app.shops import mark_uninstalled

    from .helpers import TOKEN

    item = setup_shop(engine, settings, fake_shopify)
    first = signup(client)
    item.levels = {LOCATION: 3, LOCATION2: 0}
    level_webhook(client, 3)
    run(drain(settings, engine, {}))  # decided, not sent: no channel yet
    assert [n.status for n in notifications(engine)] == ["pending"]
    with session_scope(engine) as session:
        mark_uninstalled(session, SHOP)
    channels = recording_channels()
    run(drain(settings, engine, channels))
    assert channels["email"].sent == [] and [n.status for n in notifications(engine)] == ["pending"]
    oauth.store_shop(engine, settings, SHOP, oauth.Grant(TOKEN, settings.SHOPIFY_SCOPES))
    run(drain(settings, engine, channels))
    assert [m.to for m in channels["email"].sent] == [first["email"]]


def test_a_shop_without_read_locations_still_reads_its_stock(
    client, engine, settings, fake_shopify
):
    # Shops that installed before the app asked for read_locations: Shopify denies every Location
    # field but `id` to them, so the stock read asks for nothing else.
    fake_shopify.granted_scope = "read_products,read_inventory,read_orders,write_app_proxy"
    item = setup_shop(engine, settings, fake_shopify)
    signup(client, email="ann@example.com")
    item.levels = {LOCATION: 2, LOCATION2: 1}
    level_webhook(client, 2)
    channels = recording_channels()
    run(drain(settings, engine, channels))
    assert [m.to for m in channels["email"].sent] == ["ann@example.com"]
    assert [c["errors"] for c in fake_shopify.graphql_calls] == [[], []]
    [event] = events(engine)
    assert event.location_ids == f"{LOCATION},{LOCATION2}"  # most stock first
    deliveries = client.get("/app/api/deliveries", headers=bearer()).json()["deliveries"]
    assert [d["why_text"] for d in deliveries] == [
        "Restocked to 3 units at 2 locations: the 1 waiting alerted"
    ]
