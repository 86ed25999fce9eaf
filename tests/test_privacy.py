"""Forgetting people, proved against every table of the schema (walked from the models, so a new
table cannot be forgotten): after `customers/redact` nothing identifies that shopper, after
`shop/redact` nothing identifies the shop; the other shoppers and shops, and the figures, stay."""

import json

from sqlalchemy import func, select, text
from sqlmodel import SQLModel

from shopify_app import privacy, tasks
from shopify_app.db import session_scope
from shopify_app.models import Intent, SettingsChange, Shop, utcnow
from shopify_app.notify.base import TransientError

from .notify.helpers import (
    LOCATION,
    LOCATION2,
    SHOP,
    drain,
    level_webhook,
    recording_channels,
    run,
    setup_shop,
)
from .support import install_shop, webhook_headers

VICTIM = {
    "email": "victoria@example.com",
    "phone": "447911123456",
    "name": "Victoria Secretname",
    "shopify_customer_id": "987654321012",
}
MARKERS = ("victoria@example.com", "447911123456", "Secretname", "987654321012")


def signup(client, channel="email", shop=SHOP, variant=39072856, **customer):
    response = client.post(
        "/api/v1/intents.json",
        headers={"X-Shopify-Shop-Domain": shop},
        json={
            "intent": {
                "shopify_variant_id": variant,
                "shopify_product_id": 632910392,
                "channel": channel,
                "quantity": 1,
                "source": "api",
            },
            "customer": customer,
            "product": {"title": "Linen Shirt"},
        },
    )
    assert response.status_code == 201, response.text
    return response.json()["intents"][0]


def deliver(client, topic, payload, shop=SHOP, webhook_id="redact-1"):
    body = json.dumps(payload).encode()
    response = client.post(
        f"/webhooks/{topic}",
        content=body,
        headers=webhook_headers(body, topic, shop, webhook_id=webhook_id),
    )
    assert response.status_code == 200


def every_value(engine, *, except_shop: int | None = None):
    """(table, column, value) for every cell of every table the models declare (but the rows of
    `except_shop`, another shop whose data is its own)."""
    with engine.connect() as conn:
        for table in SQLModel.metadata.sorted_tables:
            for row in conn.execute(select(table)).mappings():
                if except_shop is not None and row.get("shop_id") == except_shop:
                    continue
                for column, value in row.items():
                    yield table.name, column, value


def other_shop(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(
            select(Shop.id).where(Shop.domain == "other-shop.myshopify.com")
        ).scalar_one()


def populate(client, engine, settings, fake_shopify):
    """A shop with the victim's and a bystander's signups on every channel, a restock sent (one
    attempt failing with a provider error that quotes the address), the victim's data request
    assembled for the merchant, a settings change, an install in flight, rate-limit counters, and
    another shop."""
    item = setup_shop(engine, settings, fake_shopify)
    install_shop(engine, settings, "other-shop.myshopify.com")
    signup(client, **VICTIM)
    signup(client, "sms", **VICTIM)
    signup(client, email="bystander@example.com", name="Bea")
    signup(client, shop="other-shop.myshopify.com", email="victoria@example.com")
    item.levels = {LOCATION: 5, LOCATION2: 0}
    level_webhook(client, 5)
    channels = recording_channels()
    channels["email"].fail_with = [TransientError("451 <victoria@example.com>: try again later")]
    run(drain(settings, engine, channels))
    run(drain(settings, engine, channels))
    deliver(
        client,
        "customers/data_request",
        {
            "shop_id": 1,
            "shop_domain": SHOP,
            "orders_requested": [],
            "customer": {"id": 987654321012, "email": "victoria@example.com"},
            "data_request": {"id": 31337},
        },
        webhook_id="data-request-1",
    )
    run(drain(settings, engine, recording_channels()))
    with session_scope(engine) as session:
        shop_id = session.execute(select(Shop.id).where(Shop.domain == SHOP)).scalar_one()
        session.add(
            SettingsChange(
                shop_id=shop_id,
                changed_by="merchant-user-1",
                changes='{"double_optin": [false, true]}',
                at=utcnow(),
            )
        )
    client.get(f"/auth?shop={SHOP}", follow_redirects=False)
    return shop_id


def test_customers_redact_leaves_nothing_that_identifies_the_shopper(
    client, engine, settings, fake_shopify
):
    populate(client, engine, settings, fake_shopify)
    found = [cell for cell in every_value(engine) if any(m in str(cell[2]) for m in MARKERS)]
    assert {t for t, _, _ in found} >= {
        "customer",
        "intent",
        "send_attempt",
        "data_request",
    }  # the walk can find them
    with session_scope(engine) as session:
        signups_before = session.execute(select(func.count()).select_from(Intent)).scalar_one()
    deliver(
        client,
        "customers/redact",
        {
            "shop_id": 1,
            "shop_domain": SHOP,
            "orders_to_redact": [],
            "customer": {
                "id": 987654321012,
                "email": "Victoria@Example.com",
                "phone": "+44 7911 123456",
            },
        },
    )
    left = [
        (t, c)
        for t, c, v in every_value(engine, except_shop=other_shop(engine))
        if any(m in str(v) for m in MARKERS)
    ]
    assert left == []
    with engine.connect() as conn:  # the other shop's shopper with the same email is that shop's
        other = conn.execute(
            text("SELECT count(*) FROM intent WHERE email = 'victoria@example.com'")
        ).scalar_one()
    assert other == 1
    with session_scope(engine) as session:
        assert (
            session.execute(select(func.count()).select_from(Intent)).scalar_one() == signups_before
        )  # figures stay
        assert session.execute(
            select(Intent.email).where(Intent.email == "bystander@example.com")
        ).all()


def test_shop_redact_leaves_nothing_of_the_shop(client, engine, settings, fake_shopify):
    shop_id = populate(client, engine, settings, fake_shopify)
    deliver(client, "shop/redact", {"shop_id": shop_id, "shop_domain": SHOP})
    other_id = other_shop(engine)
    left = [
        (t, c, v)
        for t, c, v in every_value(engine, except_shop=other_id)
        if SHOP in str(v) or (c == "shop_id" and v == shop_id) or any(m in str(v) for m in MARKERS)
    ]
    assert left == []
    with engine.connect() as conn:  # the other shop keeps its shopper
        assert (
            conn.execute(
                select(func.count()).select_from(Intent).where(Intent.shop_id == other_id)
            ).scalar_one()
            == 1
        )


def test_retention_forgets_contacts_of_old_signups_and_keeps_the_figures(
    client, engine, settings, fake_shopify
):
    setup_shop(engine, settings, fake_shopify)
    old, recent, waiting = (
        signup(client, email=f"{n}@example.com", variant=v)
        for n, v in (("old", 1), ("recent", 2), ("waiting", 3))
    )
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE intent SET status = 'notified', notified_at = :t WHERE id = :i"),
            {"t": utcnow().replace(year=utcnow().year - 2), "i": old["id"]},
        )
        conn.execute(
            text("UPDATE intent SET status = 'notified', notified_at = :t WHERE id = :i"),
            {"t": utcnow(), "i": recent["id"]},
        )
    with session_scope(engine) as session:
        assert privacy.purge_expired(session, 365) == 1
    with session_scope(engine) as session:
        rows = {i.id: (i.email, i.status) for i in session.execute(select(Intent)).scalars()}
    assert rows == {
        old["id"]: (None, "notified"),
        recent["id"]: ("recent@example.com", "notified"),
        waiting["id"]: ("waiting@example.com", "pending"),
    }


def test_the_worker_runs_the_retention_purge(client, engine, settings, fake_shopify):
    setup_shop(engine, settings, fake_shopify)
    old = signup(client, email="old@example.com")
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE intent SET status = 'unsubscribed', unsubscribed_at = :t WHERE id = :i"),
            {"t": utcnow().replace(year=utcnow().year - 2), "i": old["id"]},
        )
    worker = run(drain(settings.model_copy(update={"RETENTION_DAYS": 30}), engine, {}))
    assert tasks.purge_expired(worker.context) == 1 and tasks.purge_expired(worker.context) == 0
    with session_scope(engine) as session:
        assert session.get(Intent, old["id"]).email is None
