"""One meaning of "unsent" (issue 14 item 20): the admin's delete and the merchant API's
bulk_destroy delete the same signups and refuse the same ones, the admin's list marks those as
deletable, and the merchant API's `notified=false` lists them. Two identical sets of signups in
every state, each made the way it happens (signups, a restock held for the merchant, notify now,
the worker sending and failing, unsubscribe links, a transfer that cancels a duplicate, double
opt-in), one set deleted through each door."""

import pytest
from sqlalchemy import select

from shopify_app.models import Intent, Notification
from shopify_app.notify.base import PermanentError
from shopify_app.notify.render import unsubscribe_token

from .admin.tokens import bearer
from .notify.helpers import (
    LOCATION,
    LOCATION2,
    drain,
    level_webhook,
    recording_channels,
    run,
    setup_shop,
    signup,
)

MERCHANT = "/api/v1/external/intents"
ELSEWHERE = 555  # a variant of no restock
UNSENT = {"pending", "held", "awaiting_optin", "unsubscribed", "cancelled"}
SENT = {"alert_queued", "alert_delivered", "alert_failed", "unsubscribed_after_alert"}


def notify_now(client, intent_id):
    assert client.post(f"/app/api/intents/{intent_id}/notify", headers=bearer()).status_code == 200


def unsubscribe(client, settings, intent_id):
    path = f"/unsubscribe/{unsubscribe_token(settings.SECRET_KEY, intent_id)}"
    assert client.post(path, data={"List-Unsubscribe": "One-Click"}).status_code == 200


def send(settings, engine, *, failing: int = 0):
    channels = recording_channels()
    channels["email"].fail_with = [PermanentError("550 no such user")] * failing
    run(drain(settings, engine, channels))


def two_sets(client, engine, settings, fake_shopify) -> tuple[str, list[dict[str, int]]]:
    """A merchant API key, and two {state: signup id} sets, alike."""
    setup_shop(engine, settings, fake_shopify, automatic_sending=False)
    key = client.post("/app/api/api-key", headers=bearer()).json()["api_key"]
    sets = [{}, {}]

    def each(state, make):
        for n, found in enumerate(sets):
            found[state] = make(f"{state.replace('_', '-')}{n}@example.com")

    each("held", lambda email: signup(client, email=email)["id"])
    [item] = fake_shopify.items.values()
    item.levels = {LOCATION: 5, LOCATION2: 0}
    level_webhook(client, 5)
    send(settings, engine)  # the restock's alerts are held for the merchant
    each("pending", lambda email: signup(client, variant=ELSEWHERE, email=email)["id"])
    each("alert_delivered", lambda email: signup(client, variant=ELSEWHERE, email=email)["id"])
    each(
        "unsubscribed_after_alert",
        lambda email: signup(client, variant=ELSEWHERE, email=email)["id"],
    )
    for found in sets:
        notify_now(client, found["alert_delivered"])
        notify_now(client, found["unsubscribed_after_alert"])
    send(settings, engine)
    for found in sets:
        unsubscribe(client, settings, found["unsubscribed_after_alert"])
    each("alert_failed", lambda email: signup(client, variant=ELSEWHERE, email=email)["id"])
    for found in sets:
        notify_now(client, found["alert_failed"])
    send(settings, engine, failing=2)
    each("alert_queued", lambda email: signup(client, variant=ELSEWHERE, email=email)["id"])
    for found in sets:
        notify_now(client, found["alert_queued"])
    each("unsubscribed", lambda email: signup(client, variant=ELSEWHERE, email=email)["id"])
    for found in sets:
        unsubscribe(client, settings, found["unsubscribed"])
    # A transfer onto a variant where the same shopper already waits cancels the moved duplicate.
    each("cancelled", lambda email: signup(client, variant=901, email=email)["id"])
    for n in range(2):
        signup(client, variant=902, email=f"cancelled{n}@example.com")
    moved = client.post(
        f"{MERCHANT}/transfer_signups",
        headers={"X-Auth-Token": key},
        json={
            "from_shopify_variant_id": 901,
            "to_shopify_variant_id": 902,
            "to_shopify_product_id": 9020,
        },
    )
    assert moved.status_code == 200 and len(moved.json()["duplicates_cancelled"]) == 2
    assert (
        client.put("/app/api/settings", json={"double_optin": True}, headers=bearer()).status_code
        == 200
    )
    each("awaiting_optin", lambda email: signup(client, variant=ELSEWHERE, email=email)["id"])
    assert (
        client.put("/app/api/settings", json={"double_optin": False}, headers=bearer()).status_code
        == 200
    )
    return key, sets


@pytest.mark.slow
def test_both_doors_delete_the_same_signups_and_refuse_the_same(
    client, engine, settings, fake_shopify
):
    key, (by_admin, by_merchant) = two_sets(client, engine, settings, fake_shopify)
    merchant = {"X-Auth-Token": key}
    with engine.connect() as connection:
        states = dict(
            connection.execute(select(Intent.__table__.c.id, Intent.__table__.c.status)).all()
        )
        kinds = dict(
            connection.execute(
                select(Notification.__table__.c.intent_id, Notification.__table__.c.status).where(
                    Notification.__table__.c.kind == "alert"
                )
            ).all()
        )
    made = by_admin
    assert (states[made["held"]], kinds[made["held"]]) == ("pending", "held")
    assert (states[made["alert_delivered"]], kinds[made["alert_delivered"]]) == ("notified", "sent")
    assert (states[made["alert_failed"]], kinds[made["alert_failed"]]) == ("notified", "failed")
    assert (states[made["alert_queued"]], kinds[made["alert_queued"]]) == ("notified", "pending")
    assert (states[made["unsubscribed"]], states[made["cancelled"]]) == (
        "unsubscribed",
        "cancelled",
    )

    # What the admin's list and the merchant API's `notified` filter say, checked at the end.
    listed = client.get("/app/api/intents?per_page=500", headers=bearer()).json()["intents"]
    deletable = {i["id"] for i in listed if i.get("deletable")}
    unsent_ids = {
        i["id"]
        for i in client.get(
            MERCHANT, params={"notified": "false", "per_page": 500}, headers=merchant
        ).json()["intents"]
    }
    sent_ids = {
        i["id"]
        for i in client.get(
            MERCHANT, params={"notified": "true", "per_page": 500}, headers=merchant
        ).json()["intents"]
    }

    # The merchant API refuses a mixed request whole, naming exactly the sent ones.
    mixed = client.request(
        "DELETE",
        f"{MERCHANT}/bulk_destroy",
        json={"intent_ids": list(by_merchant.values())},
        headers=merchant,
    )
    assert mixed.status_code == 422
    assert mixed.json()["sent_intent_ids"] == sorted(by_merchant[s] for s in SENT)
    with engine.connect() as connection:
        assert (
            connection.execute(
                select(Intent.__table__.c.id).where(Intent.__table__.c.id.in_(by_merchant.values()))
            )
            .scalars()
            .all()
        )
        assert len(connection.execute(select(Intent.__table__.c.id)).all()) == len(states)

    admin_answers = {
        s: client.delete(f"/app/api/intents/{i}", headers=bearer()).status_code
        for s, i in by_admin.items()
    }
    merchant_answers = {
        s: client.request(
            "DELETE", f"{MERCHANT}/bulk_destroy", json={"intent_ids": [i]}, headers=merchant
        ).status_code
        for s, i in by_merchant.items()
    }
    assert {s for s, status in admin_answers.items() if status == 204} == UNSENT, admin_answers
    assert {s for s, status in admin_answers.items() if status == 422} == SENT, admin_answers
    assert {s for s, status in merchant_answers.items() if status == 200} == UNSENT, (
        merchant_answers
    )
    assert {s for s, status in merchant_answers.items() if status == 422} == SENT, merchant_answers

    # What was deleted went with its messages (a held alert, an opt-in request); the rest stayed.
    gone = {i for found in (by_admin, by_merchant) for s, i in found.items() if s in UNSENT}
    with engine.connect() as connection:
        left = set(connection.execute(select(Intent.__table__.c.id)).scalars())
        messages = set(connection.execute(select(Notification.__table__.c.intent_id)).scalars())
    assert not gone & left and not gone & messages
    assert {i for found in (by_admin, by_merchant) for s, i in found.items() if s in SENT} <= left
    deliveries = client.get("/app/api/deliveries?per_page=500", headers=bearer()).json()[
        "deliveries"
    ]
    assert not {d["intent_id"] for d in deliveries} & gone
    for found in (by_admin, by_merchant):
        assert {s for s, i in found.items() if i in deletable} == UNSENT
        assert {s for s, i in found.items() if i in unsent_ids} == UNSENT
        assert {s for s, i in found.items() if i in sent_ids} == SENT
