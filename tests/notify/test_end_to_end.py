"""Signups to messages through the real protocols: Shopify's Admin API (fake), an SMTP server,
Twilio's API and a push service that decrypts what it gets. Then workers that die or are told to
stop, as separate processes."""

import os
import signal
import subprocess
import sys
import time

import httpx
import pytest
from sqlalchemy import select, update

from shopify_app.models import ChannelPace, utcnow
from shopify_app.notify.channels import build_channels
from shopify_app.notify.worker import Worker

from ..fakes.push_service import FakePushService, vapid_keys
from ..fakes.smtp import SmtpServer
from ..fakes.twilio import FakeTwilio
from ..processes import wait_for, worker_process
from ..support import serve_in_thread
from .helpers import (
    LOCATION,
    LOCATION2,
    SHOP,
    VARIANT,
    level_webhook,
    notifications,
    run,
    setup_shop,
    signup,
)


@pytest.fixture(scope="module")
def outside():
    """The SMTP server, Twilio and the push service, for the whole module."""
    twilio, push = FakeTwilio(), FakePushService()
    with (
        SmtpServer() as smtp,
        serve_in_thread(twilio.app) as twilio_url,
        serve_in_thread(push.app) as push_url,
    ):
        push.base_url = push_url
        yield {"smtp": smtp, "twilio": twilio, "twilio_url": twilio_url, "push": push}


@pytest.fixture
def wired(settings, outside):
    smtp, twilio, push = outside["smtp"], outside["twilio"], outside["push"]
    smtp.recorder.received.clear()
    smtp.recorder.refuse_all = smtp.recorder.stall = False
    smtp.recorder.delay = 0.0
    twilio.messages.clear()
    push.delivered.clear()
    private, public = vapid_keys()
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
            "VAPID_PRIVATE_KEY": private,
            "VAPID_PUBLIC_KEY": public,
            "VAPID_SUBJECT": "mailto:ops@shop.example",
        }
    )


async def drain_with_real_channels(settings, engine, name=None):
    async with httpx.AsyncClient() as http:
        channels = build_channels(settings)
        await Worker(settings, engine, http, channels, name=name).drain()
        for channel in channels.values():
            await channel.aclose()


@pytest.mark.slow
def test_restock_reaches_every_channel_over_its_protocol(
    client, engine, settings, wired, outside, fake_shopify
):
    item = setup_shop(engine, settings, fake_shopify)
    browser = outside["push"].new_browser()
    signup(client, "email", email="ann@example.com", locale="de")
    signup(client, "sms", phone="14155552671")
    signup(client, "push", push=browser.subscription)
    item.levels = {LOCATION: 4, LOCATION2: 0}
    level_webhook(client, 4)
    run(drain_with_real_channels(wired, engine))

    [mail] = outside["smtp"].recorder.received
    assert mail.recipients == ["ann@example.com"] and "wieder auf Lager" in mail.message["Subject"]
    assert (
        mail.message["List-Unsubscribe"]
        .strip()
        .startswith("<https://app.example.test/unsubscribe/")
    )
    [text] = outside["twilio"].messages
    assert (
        text["To"] == "+14155552671"
        and text["From"] == "+15005550006"
        and "linen-shirt" in text["Body"]
    )
    [note] = outside["push"].delivered
    assert note["payload"]["url"] == f"https://{SHOP}/products/linen-shirt?variant={VARIANT}"
    assert note["payload"]["body"].startswith("Linen Shirt (Green / M)")
    rows = notifications(engine)
    assert {r.status for r in rows} == {"sent"}
    assert {r.channel: r.provider_id[:2] for r in rows}["sms"] == "SM"


@pytest.mark.slow
def test_an_smtp_server_that_refuses_for_a_while(
    client, engine, settings, wired, outside, fake_shopify
):
    from .helpers import make_due

    item = setup_shop(engine, settings, fake_shopify)
    emails = [signup(client)["email"] for _ in range(12)]
    outside["smtp"].recorder.refuse_all = True
    item.levels = {LOCATION: 4}
    level_webhook(client, 4)
    run(drain_with_real_channels(wired, engine))
    assert outside["smtp"].recorder.received == []
    assert {r.status for r in notifications(engine)} == {"pending"}
    # 451 is the server asking to slow down: email is paused, for every worker (notify/pace.py)
    with engine.connect() as connection:
        assert (
            connection.execute(select(ChannelPace.channel, ChannelPace.paused_until)).one()[0]
            == "email"
        )
    outside["smtp"].recorder.refuse_all = False
    make_due(engine)
    with engine.begin() as connection:  # the pause ends
        connection.execute(update(ChannelPace).values(paused_until=utcnow()))
    run(drain_with_real_channels(wired, engine))
    assert sorted(m.recipients[0] for m in outside["smtp"].recorder.received) == sorted(emails)
    assert {r.status for r in notifications(engine)} == {"sent"} and {
        r.attempts for r in notifications(engine)
    } == {1}  # a "slow down" uses up no attempt


_worker_process, _wait_for = worker_process, wait_for  # tests/support.py: shared with tests/faults


@pytest.mark.slow
def test_a_killed_workers_batch_is_sent_by_another_after_the_lease(
    client, engine, settings, wired, outside, fake_shopify
):
    item = setup_shop(engine, settings, fake_shopify)
    emails = [signup(client)["email"] for _ in range(8)]
    item.levels = {LOCATION: 4}
    level_webhook(client, 4)
    outside["smtp"].recorder.stall = True  # the worker will hang mid-batch
    short_lease = wired.model_copy(
        update={
            "WORKER_LEASE_SECONDS": 2.0,
            "WORKER_POLL_INTERVAL": 0.1,
            "RECONCILE_INTERVAL_SECONDS": 0,
        }
    )
    process = _worker_process(short_lease)
    try:
        assert _wait_for(lambda: {r.status for r in notifications(engine)} == {"sending"}), (
            process.stderr
        )
        process.kill()
        process.wait(10)
    finally:
        if process.poll() is None:
            process.kill()
    outside["smtp"].recorder.stall = False
    assert {r.status for r in notifications(engine)} == {"sending"}
    time.sleep(2.1)
    run(drain_with_real_channels(short_lease, engine, name="survivor"))
    assert sorted(m.recipients[0] for m in outside["smtp"].recorder.received) == sorted(emails)
    assert {(r.status, r.locked_by) for r in notifications(engine)} == {("sent", "survivor")}


@pytest.mark.slow
def test_a_worker_killed_again_and_again_loses_nothing_and_resends_little(
    client, engine, settings, wired, outside, fake_shopify
):
    """Issue 10's fault: SIGKILL at random moments of a fan-out, a new worker each time. Nothing is
    lost, and each kill re-sends at most what was in flight plus one unrecorded group."""
    import random
    from collections import Counter

    from shopify_app.notify.recorder import INTERVAL

    item = setup_shop(engine, settings, fake_shopify)
    emails = [signup(client, email=f"s{n}@example.com")["email"] for n in range(400)]
    item.levels = {LOCATION: 400}
    level_webhook(client, 400)
    received = outside["smtp"].recorder.received
    outside["smtp"].recorder.delay = 0.02  # 4 at a time: about 200 messages a second
    quick = wired.model_copy(
        update={
            "WORKER_LEASE_SECONDS": 1.5,
            "WORKER_POLL_INTERVAL": 0.05,
            "RECONCILE_INTERVAL_SECONDS": 0,
            "SEND_CONCURRENCY": 4,
        }
    )
    kills, started = 3, time.monotonic()
    for _ in range(kills):
        before = len(received)
        process = _worker_process(quick)
        try:
            assert _wait_for(lambda before=before: len(received) > before + 5, timeout=30), (
                "the worker sent nothing"
            )
            time.sleep(random.uniform(0.3, 0.6))  # recording per batch re-sent 60-120 a kill here
            process.kill()
            process.wait(10)
        finally:
            if process.poll() is None:
                process.kill()
    process = _worker_process(quick)
    try:
        assert _wait_for(lambda: {r.status for r in notifications(engine)} == {"sent"}, timeout=60)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(20)
    counts = Counter(m.recipients[0] for m in received)
    duplicates = sum(n - 1 for n in counts.values())
    assert set(counts) == set(emails)  # none lost
    in_flight, unrecorded = quick.SEND_CONCURRENCY, 200 * INTERVAL  # about 200 messages a second
    assert duplicates <= kills * (in_flight + unrecorded + 10), (duplicates, kills)
    assert time.monotonic() - started < 60


@pytest.mark.slow
def test_sigterm_finishes_the_round_in_flight_then_exits(
    client, engine, settings, wired, outside, fake_shopify
):
    item = setup_shop(engine, settings, fake_shopify)
    for _ in range(5):
        signup(client)
    item.levels = {LOCATION: 4}
    level_webhook(client, 4)
    outside["smtp"].recorder.stall = True
    quick = wired.model_copy(update={"WORKER_POLL_INTERVAL": 0.1, "RECONCILE_INTERVAL_SECONDS": 0})
    process = _worker_process(quick)
    try:
        assert _wait_for(lambda: {r.status for r in notifications(engine)} == {"sending"})
        # all five are at the server: in flight, so finished (a send not yet started when the
        # worker is asked to stop is given back instead)
        assert _wait_for(lambda: outside["smtp"].recorder.stalled == 5)
        process.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        assert process.poll() is None  # still finishing what it holds
        outside["smtp"].recorder.stall = False
        assert process.wait(20) == 0
    finally:
        if process.poll() is None:
            process.kill()
    assert {r.status for r in notifications(engine)} == {"sent"}
    assert len(outside["smtp"].recorder.received) == 5
    assert '"worker stopped"' in process.stderr.read()


@pytest.mark.slow
def test_serve_runs_the_worker_inside(engine, settings, wired, outside, fake_shopify):
    """`shopify-app serve` as a real process: signup and webhook over HTTP, the email arrives."""
    from ..support import free_port, webhook_headers

    setup_shop(engine, settings, fake_shopify).levels = {LOCATION: 2}
    port = free_port()
    serving = wired.model_copy(
        update={
            "WORKER_IN_PROCESS": True,
            "WORKER_POLL_INTERVAL": 0.1,
            "RECONCILE_INTERVAL_SECONDS": 0,
        }
    )
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SHOPIFY_", "SMTP_", "TWILIO_", "VAPID_"))
    }
    env.update(
        {name: str(value) for name, value in serving.model_dump().items() if value is not None}
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "shopify_app", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        assert _wait_for(lambda: _up(base)), "serve did not start"
        payload = {
            "intent": {
                "shopify_variant_id": VARIANT,
                "shopify_product_id": 1,
                "channel": "email",
                "quantity": 1,
                "source": "api",
            },
            "customer": {"email": "live@example.com"},
        }
        assert (
            httpx.post(
                f"{base}/api/v1/intents.json", json=payload, headers={"X-Shopify-Shop-Domain": SHOP}
            ).status_code
            == 201
        )
        body = b'{"inventory_item_id": 808950810, "location_id": 655441491, "available": 2, "updated_at": "2026-11-22T12:00:00Z"}'
        response = httpx.post(
            f"{base}/webhooks/inventory_levels/update",
            content=body,
            headers=webhook_headers(body, "inventory_levels/update", SHOP, webhook_id="live"),
        )
        assert response.status_code == 200
        assert _wait_for(lambda: len(outside["smtp"].recorder.received) == 1)
        assert outside["smtp"].recorder.received[0].recipients == ["live@example.com"]
        process.send_signal(signal.SIGTERM)
        # uvicorn shuts down gracefully, then re-raises the signal so the exit status tells of it
        assert process.wait(20) in (0, -signal.SIGTERM)
    finally:
        if process.poll() is None:
            process.kill()
    logs = process.stderr.read()
    assert '"worker stopped"' in logs and "Application shutdown complete" in logs


def _up(base: str) -> bool:
    try:
        return httpx.get(f"{base}/readyz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False
