"""Provider send rates and "slow down" (notify/pace.py): SMS_SEND_RATE holds across workers, in
the shop's oldest-first order; Twilio's 429 with Retry-After pauses SMS for the time asked, without
using up the message's attempts; SMTP 421/451 pauses email."""

import asyncio
import time

import httpx
import pytest
from sqlalchemy import select

from shopify_app.db import session_scope
from shopify_app.models import ChannelPace, Intent, Notification, SendAttempt, utcnow
from shopify_app.notify import pace
from shopify_app.notify.channels import build_channels
from shopify_app.notify.worker import Worker

from ..fakes.smtp import SmtpServer
from ..fakes.twilio import FakeTwilio
from ..support import with_smtp
from .helpers import level_webhook, run, setup_shop, signup

PHONES = [f"+1415555{n:04d}" for n in range(2000, 2024)]


@pytest.fixture
def smtp():
    with SmtpServer() as server:
        yield server


@pytest.fixture
def mail_settings(settings, smtp):
    return with_smtp(settings, smtp.port)


@pytest.fixture
def twilio():
    fake = FakeTwilio()
    with fake.running() as url:
        fake.url = url
        yield fake


def sms_settings(settings, twilio, **extra):
    return settings.model_copy(
        update={
            "TWILIO_ACCOUNT_SID": twilio.account_sid,
            "TWILIO_AUTH_TOKEN": twilio.auth_token,
            "TWILIO_FROM_NUMBER": "+15005550006",
            "TWILIO_API_BASE_URL": twilio.url,
            **extra,
        }
    )


def restock_for_sms(client, engine, settings, fake_shopify, count: int) -> list[str]:
    """`count` SMS signups, oldest first, and a restock that alerts them all (decided, not sent)."""
    item = setup_shop(engine, settings, fake_shopify)
    phones = PHONES[:count]
    for phone in phones:
        signup(client, "sms", phone=phone)
    item.levels = {next(iter(item.levels)): 50}
    level_webhook(client, 50)
    return phones


async def work(settings, engine, *, workers: int = 1, until=None, timeout: float = 20.0):
    """`workers` workers side by side (as separate processes would: each its own name and claims)
    until `until()` holds (or `timeout`)."""
    stop = asyncio.Event()
    async with httpx.AsyncClient() as http:
        running = [
            Worker(settings, engine, http, build_channels(settings), name=f"w{n}")
            for n in range(workers)
        ]
        tasks = [asyncio.create_task(w.run(stop)) for w in running]
        started = time.monotonic()
        while time.monotonic() - started < timeout and not (until and until()):
            await asyncio.sleep(0.02)
        stop.set()
        await asyncio.gather(*tasks)
        for w in running:
            await w.close()


def test_the_sms_rate_holds_across_workers_oldest_first(
    client, engine, settings, fake_shopify, twilio
):
    phones = restock_for_sms(client, engine, settings, fake_shopify, 20)
    paced = sms_settings(settings, twilio, SMS_SEND_RATE=10.0, WORKER_POLL_INTERVAL=0.05)
    run(work(paced, engine, workers=2, until=lambda: len(twilio.messages) >= 20))
    sent = [m["To"] for m in twilio.messages]
    assert sorted(sent) == phones  # once each
    # The oldest signup first: slots are handed out oldest first, 0.1 s apart. Two sends set off
    # in the same moment (a busy loop wakes late) may reach Twilio in either order, so each arrives
    # within a place of its turn; a send that failed for now and was retried comes later, rightly.
    first_try = set(first_attempt_phones(engine))
    arrived = [p for p in sent if p in first_try]
    expected = [p for p in phones if p in first_try]
    assert sorted(arrived) == sorted(expected)
    assert all(abs(arrived.index(p) - turn) <= 1 for turn, p in enumerate(expected)), arrived
    at = twilio.accepted_at
    # 10 a second across both workers: the 20 slots span 1.9 s and no second holds more than 10
    # (plus one at the second's edge). Arrivals are measured, not slots: on a busy machine a send
    # can reach Twilio a few tenths after its slot, so arrivals may bunch a little (up to 13 in a
    # second) and span less. Unpaced, all 20 arrive within a tenth of a second.
    assert at[-1] - at[0] >= 1.5
    assert max(sum(1 for t in at if s <= t < s + 1.0) for s in at) <= 13
    with session_scope(engine) as session:
        assert {n.status for n in session.execute(select(Notification)).scalars()} == {"sent"}


def test_a_paced_claim_waits_for_the_channels_turn_before_taking_rows(
    backend, client, engine, settings, fake_shopify, twilio
):
    """Two workers claiming a paced channel at once: the one that claimed the older messages must
    reserve the earlier slots. So the claim takes the channel's row before it takes any message,
    and a worker waiting for the row holds none of them."""
    if backend == "sqlite":
        pytest.skip("SQLite runs one worker process; the race is a PostgreSQL matter")
    phones = restock_for_sms(client, engine, settings, fake_shopify, 20)
    paced = sms_settings(settings, twilio, SMS_SEND_RATE=20.0)

    def lockable() -> int:  # messages no other transaction holds
        with session_scope(engine) as session:
            return len(
                session.execute(select(Notification.id).with_for_update(skip_locked=True)).all()
            )

    async def claim_while_another_has_the_turn() -> int:
        async with httpx.AsyncClient() as http:
            worker = Worker(paced, engine, http, build_channels(paced), name="second")
            with session_scope(engine) as other:  # another worker, between its claim and reserve
                pace.take_turn(other, "sms", utcnow())
                draining = asyncio.create_task(worker.drain())
                await asyncio.sleep(0.5)
                free = await asyncio.to_thread(lockable)
            await draining
        return free

    assert run(claim_while_another_has_the_turn()) == 20  # it waited without holding any
    assert [m["To"] for m in twilio.messages] == phones


def test_twilios_429_pauses_sms_for_the_time_asked_and_uses_no_attempt(
    client, engine, settings, fake_shopify, twilio
):
    phones = restock_for_sms(client, engine, settings, fake_shopify, 6)
    twilio.failures, twilio.retry_after = [429], "1"
    # one at a time, so that no other send is already at Twilio when it says slow down
    config = sms_settings(settings, twilio, WORKER_POLL_INTERVAL=0.05, SEND_CONCURRENCY=1)
    first_refusal = []

    def all_sent():
        if twilio.requests and not first_refusal:
            first_refusal.append(time.time())
        return len(twilio.messages) >= 6

    run(work(config, engine, until=all_sent))
    assert sorted(m["To"] for m in twilio.messages) == sorted(phones)
    # nothing was sent during the second Twilio asked for
    assert min(twilio.accepted_at) - first_refusal[0] >= 0.95
    with session_scope(engine) as session:
        rows = session.execute(select(Notification).order_by(Notification.id)).scalars().all()
        assert [(n.status, n.attempts) for n in rows] == [("sent", 1)] * 6  # no attempt used up
        outcomes = session.execute(select(SendAttempt.outcome)).scalars().all()
        assert outcomes.count("throttled") == 1 and outcomes.count("sent") == 6
        pace = session.execute(select(ChannelPace)).scalar_one()
        assert pace.channel == "sms" and pace.paused_until is not None
        assert {i.status for i in session.execute(select(Intent)).scalars()} == {"notified"}
    # the oldest first, after the pause too
    assert [m["To"] for m in twilio.messages] == phones


def test_an_smtp_421_pauses_email(client, engine, settings, mail_settings, smtp, fake_shopify):
    item = setup_shop(engine, settings, fake_shopify)
    for n in range(3):
        signup(client, email=f"shopper{n}@example.com")
    item.levels = {next(iter(item.levels)): 5}
    level_webhook(client, 5)
    smtp.recorder.refuse_next, smtp.recorder.refuse_code = 1, 421
    config = mail_settings.model_copy(update={"WORKER_POLL_INTERVAL": 0.05, "SEND_CONCURRENCY": 1})
    started = time.time()
    run(work(config, engine, until=lambda: len(_alerts(smtp)) >= 3, timeout=15))
    assert sorted(m.recipients[0] for m in _alerts(smtp)) == [
        f"shopper{n}@example.com" for n in range(3)
    ]
    assert time.time() - started >= 4.5  # SMTP says not for how long: the default 5 s pause
    with session_scope(engine) as session:
        assert [n.attempts for n in session.execute(select(Notification)).scalars()] == [1, 1, 1]


def first_attempt_phones(engine) -> list[str]:
    with session_scope(engine) as session:
        return list(
            session.execute(
                select(Intent.phone)
                .join(Notification, Notification.intent_id == Intent.id)
                .where(Notification.attempts == 1)
            ).scalars()
        )


def _alerts(smtp):
    return [m for m in smtp.recorder.received if "shopper" in m.recipients[0]]
