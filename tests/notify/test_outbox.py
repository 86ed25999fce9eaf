"""The outbox under failure: retries, disabled channels, two workers, a dead worker's lease."""

import asyncio
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from shopify_app.db import session_scope
from shopify_app.models import Intent, Notification, SendAttempt, utcnow
from shopify_app.notify import outbox
from shopify_app.notify.attempts import MAX_SEND_ATTEMPTS, Outcome, claim, record
from shopify_app.notify.base import PermanentError, SubscriptionGone, TransientError
from shopify_app.notify.worker import Worker

from .helpers import (
    LOCATION,
    LOCATION2,
    RecordingChannel,
    drain,
    level_webhook,
    make_due,
    notifications,
    recording_channels,
    run,
    setup_shop,
    signup,
)


def restock_with(client, engine, settings, fake_shopify, count: int, channel="email") -> None:
    item = setup_shop(engine, settings, fake_shopify)
    for i in range(count):
        if channel == "sms":
            signup(client, "sms", phone=f"1415555{2600 + i:04d}")
        else:
            signup(client)
    item.levels = {LOCATION: 5, LOCATION2: 0}
    level_webhook(client, 5)


def attempts(engine) -> list[SendAttempt]:
    with session_scope(engine) as session:
        return list(session.execute(select(SendAttempt).order_by(SendAttempt.id)).scalars())


def test_transient_failures_retry_with_backoff_then_arrive(client, engine, settings, fake_shopify):
    restock_with(client, engine, settings, fake_shopify, 1)
    channels = recording_channels()
    channels["email"].fail_with = [TransientError("451 try later"), TransientError("451 try later")]
    run(drain(settings, engine, channels))
    [row] = notifications(engine)
    assert row.status == "pending" and row.attempts == 1 and "451" in row.last_error
    assert row.next_attempt_at > row.updated_at  # waits: backoff
    make_due(engine)
    run(drain(settings, engine, channels))
    make_due(engine)
    run(drain(settings, engine, channels))
    [row] = notifications(engine)
    assert row.status == "sent" and row.attempts == 3 and len(channels["email"].sent) == 1
    assert [a.outcome for a in attempts(engine)] == ["retry", "retry", "sent"]


@pytest.mark.slow
def test_gives_up_after_the_maximum_and_can_be_resent(client, engine, settings, fake_shopify):
    restock_with(client, engine, settings, fake_shopify, 1)
    channels = recording_channels()
    channels["email"].fail_with = [TransientError("down")] * MAX_SEND_ATTEMPTS
    for _ in range(MAX_SEND_ATTEMPTS):
        make_due(engine)
        run(drain(settings, engine, channels))
    [row] = notifications(engine)
    assert row.status == "failed" and row.last_error == "down" and row.attempts == MAX_SEND_ATTEMPTS
    with session_scope(engine) as session:
        assert outbox.resend(session, row.id)
    run(drain(settings, engine, channels))
    assert notifications(engine)[0].status == "sent" and len(channels["email"].sent) == 1


def test_permanent_failures_do_not_retry(client, engine, settings, fake_shopify):
    restock_with(client, engine, settings, fake_shopify, 1, channel="sms")
    channels = recording_channels()
    channels["sms"].fail_with = [PermanentError("21211 invalid To")]
    run(drain(settings, engine, channels))
    [row] = notifications(engine)
    assert row.status == "failed" and row.attempts == 1 and "21211" in row.last_error


def test_gone_push_subscription_is_removed(client, engine, settings, fake_shopify):
    from shopify_app.models import Intent

    item = setup_shop(engine, settings, fake_shopify)
    intent = signup(
        client,
        "push",
        push={
            "endpoint": "https://fcm.googleapis.com/fcm/send/x",
            "keys": {
                "p256dh": "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM",
                "auth": "tBHItJI5svbpez7KI4CCXg",
            },
        },
    )
    item.levels = {LOCATION: 5}
    level_webhook(client, 5)
    channels = recording_channels()
    channels["push"].fail_with = [SubscriptionGone("410 Gone")]
    run(drain(settings, engine, channels))
    assert notifications(engine)[0].status == "failed"
    with session_scope(engine) as session:
        assert session.get(Intent, intent["id"]).push_subscription is None


def test_a_channel_without_credentials_waits_and_loses_nothing(
    client, engine, settings, fake_shopify
):
    restock_with(client, engine, settings, fake_shopify, 2, channel="sms")
    email_only = {"email": RecordingChannel("email")}
    run(drain(settings, engine, email_only))
    assert {n.status for n in notifications(engine)} == {"pending"} and attempts(engine) == []
    channels = recording_channels()
    run(drain(settings, engine, channels))
    assert {n.status for n in notifications(engine)} == {"sent"} and len(channels["sms"].sent) == 2


def test_one_notification_per_intent_and_restock_event(client, engine, settings, fake_shopify):
    restock_with(client, engine, settings, fake_shopify, 1)
    run(drain(settings, engine, {}))
    [row] = notifications(engine)
    with pytest.raises(IntegrityError), session_scope(engine) as session:
        session.execute(
            insert(Notification).values(
                shop_id=row.shop_id,
                intent_id=row.intent_id,
                restock_event_id=row.restock_event_id,
                channel="email",
                status="pending",
                attempts=0,
                next_attempt_at=row.created_at,
                created_at=row.created_at,
                updated_at=row.created_at,
            )
        )


def test_recording_a_group_moves_each_row_and_counts_every_alert_on_its_signup(
    client, engine, settings, fake_shopify
):
    # One statement per group on PostgreSQL (unnest), one per row on SQLite: the same rows after.
    restock_with(client, engine, settings, fake_shopify, 1)
    run(drain(settings, engine, {}))  # decide only
    [first] = notifications(engine)
    with session_scope(engine) as session:  # a second alert and an opt-in for the same signup
        for kind, event in (("alert", None), ("optin", None)):
            session.execute(
                insert(Notification).values(
                    shop_id=first.shop_id,
                    intent_id=first.intent_id,
                    restock_event_id=event,
                    kind=kind,
                    channel="email",
                    next_attempt_at=first.created_at,
                )
            )
    with session_scope(engine) as session:
        ids = claim(session, "w", ["email"], limit=10, lease=timedelta(minutes=1))
    assert len(ids) == 3
    with session_scope(engine) as session:
        record(
            session,
            "w",
            [
                Outcome(n, first.intent_id, 1, "sent", provider_id=f"p{n}", channel="email")
                for n in ids
            ],
        )
    rows = notifications(engine)
    assert {(r.status, r.provider_id, r.attempts, r.locked_until) for r in rows} == {
        ("sent", f"p{n}", 1, None) for n in ids
    }
    assert all(r.sent_at is not None for r in rows)
    with session_scope(engine) as session:
        intent = session.get(Intent, first.intent_id)
        assert (
            intent.sent_notifications_count == 2 and intent.notified_at is not None
        )  # not the opt-in


@pytest.mark.slow
def test_a_dead_workers_rows_are_sent_by_another_after_the_lease(
    client, engine, settings, fake_shopify
):
    restock_with(client, engine, settings, fake_shopify, 5)
    run(drain(settings, engine, {}))  # decide only: no channel enabled, nothing claimed
    with session_scope(engine) as session:  # a worker claims everything, then dies
        claimed = claim(session, "dead-worker", ["email"], limit=100, lease=timedelta(minutes=5))
    assert len(claimed) == 5
    channels = recording_channels()
    run(drain(settings, engine, channels))
    assert channels["email"].sent == []  # the lease still holds
    with session_scope(engine) as session:  # the dead worker's lease runs out
        session.execute(
            update(Notification)
            .where(Notification.locked_by == "dead-worker")
            .values(locked_until=utcnow() - timedelta(seconds=1))
        )
    run(drain(settings, engine, channels, name="survivor"))
    assert len(channels["email"].sent) == 5
    assert {(n.status, n.locked_by) for n in notifications(engine)} == {("sent", "survivor")}


def test_two_workers_racing_send_each_message_once(backend, client, engine, settings, fake_shopify):
    if backend == "sqlite":
        pytest.skip("SQLite runs one worker process; the race is a PostgreSQL matter")
    restock_with(client, engine, settings, fake_shopify, 60)
    small = settings.model_copy(update={"WORKER_BATCH_SIZE": 7})
    shared = RecordingChannel("email", delay=0.005)

    async def race():
        async with httpx.AsyncClient() as http:
            a = Worker(small, engine, http, {"email": shared}, name="a")
            b = Worker(small, engine, http, {"email": shared}, name="b")
            await a.run_jobs()  # decide once; then both send
            await asyncio.gather(a.drain(), b.drain())

    run(race())
    sent_to = [m.to for m in shared.sent]
    assert len(sent_to) == 60 and len(set(sent_to)) == 60
    assert {n.locked_by for n in notifications(engine)} == {"a", "b"}


def test_a_duplicated_job_decides_once(client, engine, settings, fake_shopify):
    from shopify_app import jobs
    from shopify_app.models import JobKind

    restock_with(client, engine, settings, fake_shopify, 3)
    with session_scope(engine) as session:
        jobs.enqueue(
            session,
            JobKind.inventory,
            "1:808950810",
            shop_id=1,
            payload={"inventory_item_id": 808950810},
        )
    channels = recording_channels()
    run(drain(settings, engine, channels))
    with session_scope(engine) as session:  # the same job again, after it ran
        jobs.enqueue(
            session,
            JobKind.inventory,
            "1:808950810",
            shop_id=1,
            payload={"inventory_item_id": 808950810},
        )
    run(drain(settings, engine, channels))
    assert len(channels["email"].sent) == 3 and len(notifications(engine)) == 3


def test_a_worker_has_at_most_send_concurrency_messages_in_flight_per_channel(
    client, engine, settings, fake_shopify
):
    restock_with(client, engine, settings, fake_shopify, 12)
    channels = recording_channels()
    channels["email"].delay = 0.02
    run(drain(settings.model_copy(update={"SEND_CONCURRENCY": 3}), engine, channels))
    assert len(channels["email"].sent) == 12
    assert channels["email"].most_in_flight == 3  # the limit is reached, never passed
