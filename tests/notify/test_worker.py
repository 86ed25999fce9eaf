"""The worker's job round: every job kind has its registered handler, and a job of a kind with no
handler fails loudly (recorded failed with why, logged with its kind) instead of vanishing."""

import asyncio
import logging

import httpx
from sqlalchemy import select

from shopify_app import tasks
from shopify_app.db import session_scope
from shopify_app.models import Job, JobKind, JobStatus, Notification, utcnow
from shopify_app.notify.worker import Worker

from ..admin.tokens import bearer
from .helpers import (
    VARIANT,
    level_webhook,
    notifications,
    recording_channels,
    run,
    setup_shop,
    signup,
)


def test_every_job_kind_has_a_registered_handler():
    assert set(tasks.HANDLERS) == set(JobKind)
    assert all(tasks.handler_for(kind.value) is tasks.HANDLERS[kind] for kind in JobKind)
    assert tasks.handler_for("no_such_kind") is None


def test_a_job_of_an_unknown_kind_is_recorded_failed_and_logged(engine, settings, caplog):
    now = utcnow()
    with session_scope(engine) as session:
        session.add(
            Job(
                kind="vanished",
                key="k1",
                status=JobStatus.pending.value,
                run_at=now,
                created_at=now,
                updated_at=now,
            )
        )
        session.add(
            Job(
                kind=JobKind.reconcile.value,
                key="no-shop",
                status=JobStatus.pending.value,
                run_at=now,
                created_at=now,
                updated_at=now,
            )
        )

    async def rounds() -> None:
        async with httpx.AsyncClient() as http:
            worker = Worker(settings, engine, http, {})
            await worker.drain()
            await worker.drain()  # a failed unknown job is not claimed again

    with caplog.at_level(logging.INFO, logger="shopify_app.worker"):
        asyncio.run(rounds())
    with session_scope(engine) as session:
        rows = {job.key: job for job in session.execute(select(Job).order_by(Job.id)).scalars()}
        unknown, known = rows["k1"], rows["no-shop"]
        assert unknown.status == JobStatus.failed.value and unknown.attempts == 1
        assert unknown.last_error == "unknown job kind 'vanished'"
        assert known.status == JobStatus.done.value  # a known kind without its shop: nothing to do
    failed = [r for r in caplog.records if r.getMessage() == "unknown job kind; job failed"]
    assert len(failed) == 1 and failed[0].levelno == logging.ERROR
    assert failed[0].job == "vanished" and failed[0].key == "k1"


def test_a_job_waiting_on_a_slow_admin_api_does_not_hold_up_sending(
    client, engine, settings, fake_shopify
):
    setup_shop(engine, settings, fake_shopify)
    intent = signup(client, email="ann@example.com")  # queues the read of its variant
    fake_shopify.graphql_delay = 3.0  # Shopify is slow: that read takes 3 s
    channels = recording_channels()

    def send_by_hand():  # decided at once, with no Admin API call of its own
        body = {"intent_ids": [intent["id"]]}
        return client.post("/app/api/intents/notify", json=body, headers=bearer())

    async def until_sent() -> float:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        async with httpx.AsyncClient() as http:
            worker = Worker(settings, engine, http, channels)
            running = asyncio.create_task(worker.run(stop))
            while not fake_shopify.graphql_calls:  # the job is at Shopify now
                await asyncio.sleep(0.01)
            assert (await asyncio.to_thread(send_by_hand)).status_code == 200
            started = loop.time()
            while not channels["email"].sent and loop.time() - started < 2.5:
                await asyncio.sleep(0.02)
            took = loop.time() - started
            fake_shopify.graphql_delay = 0.0  # Shopify is back: the job's retry ends it
            stop.set()
            await running
            await worker.close()
        return took

    took = run(until_sent())
    assert [m.to for m in channels["email"].sent] == ["ann@example.com"]
    assert took < 1.5, took  # not after the job's 3 s at Shopify
    reads = [c for c in fake_shopify.graphql_calls if "productVariant(" in c["query"]]
    assert reads and {c["variables"]["id"] for c in reads} == {
        f"gid://shopify/ProductVariant/{VARIANT}"
    }


def test_the_next_batch_is_claimed_while_one_is_sent_and_given_back_on_stop(
    client, engine, settings, fake_shopify
):
    setup_shop(engine, settings, fake_shopify)
    ids = [signup(client, email=f"s{n}@example.com")["id"] for n in range(6)]
    response = client.post("/app/api/intents/notify", json={"intent_ids": ids}, headers=bearer())
    assert response.status_code == 200
    channels = recording_channels()
    channels["email"].delay = 1.5
    small = settings.model_copy(update={"WORKER_BATCH_SIZE": 2})

    def claimed() -> int:
        with session_scope(engine) as session:
            rows = session.execute(select(Notification.status)).scalars().all()
        return sum(1 for status in rows if status == "sending")

    async def stop_while_sending() -> int:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        async with httpx.AsyncClient() as http:
            worker = Worker(small, engine, http, channels)
            running = asyncio.create_task(worker.run(stop))
            started, most = loop.time(), 0
            # the worker starts (on a busy machine, in its own time), and while the first batch's
            # sends are under way it claims the next
            while not channels["email"].in_flight and loop.time() - started < 10:
                await asyncio.sleep(0.01)
            sending = loop.time()
            while most < 4 and loop.time() - sending < 1.0:
                most = max(most, await asyncio.to_thread(claimed))
                await asyncio.sleep(0.02)
            stop.set()
            await running
            await asyncio.to_thread(worker.release)
            await worker.close()
        return most

    most = run(stop_while_sending())
    assert most == 4  # the batch being sent and the next one, claimed ahead
    rows = notifications(engine)
    assert len(channels["email"].sent) == 2
    assert sorted(r.status for r in rows) == ["pending"] * 4 + ["sent"] * 2
    assert all(r.attempts == 0 for r in rows if r.status == "pending")  # given back, not tried
    assert all(r.locked_until is None for r in rows)


def test_alerts_a_job_decides_are_sent_without_waiting_out_the_send_loops_pause(
    client, engine, settings, fake_shopify
):
    setup_shop(engine, settings, fake_shopify)
    signup(client, email="ann@example.com")
    level_webhook(client, 5)  # recorded: the worker's job loop applies it and decides the restock
    channels = recording_channels()
    slow_poll = settings.model_copy(update={"WORKER_POLL_INTERVAL": 5.0})

    async def until_sent() -> float:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        async with httpx.AsyncClient() as http:
            worker = Worker(slow_poll, engine, http, channels)
            started = loop.time()
            # the send loop's first round finds nothing (the restock is not decided yet) and pauses
            running = asyncio.create_task(worker.run(stop))
            while not channels["email"].sent and loop.time() - started < 8:
                await asyncio.sleep(0.02)
            took = loop.time() - started
            stop.set()
            await running
            await worker.close()
        return took

    took = run(until_sent())
    assert [m.to for m in channels["email"].sent] == ["ann@example.com"]
    assert took < 3.0, took  # the decision woke the send loop; not after its 5 s pause
