"""High-demand alerts (issue 9): a variant whose pending signups reach the shop's
high_demand_threshold makes the worker email the merchant, once per variant until a restock; the
address is the shop's email from the (fake) Admin API, the message goes over SMTP to a real server."""

import asyncio
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select, update

from shopify_app import tasks
from shopify_app.db import session_scope
from shopify_app.models import DemandAlert, Job, Shop, Variant, utcnow
from shopify_app.notify.channels import build_channels
from shopify_app.notify.merchant import SHOP_CONTACT_QUERY, parse_contact
from shopify_app.notify.worker import Worker

from ..fakes.admin_schema import validation_errors
from .helpers import (
    LOCATION,
    LOCATION2,
    PRODUCT,
    SHOP,
    VARIANT,
    level_webhook,
    run,
    setup_shop,
    signup,
)

MERCHANT = "owner@demo-shop.example"  # what the fake Shopify answers for `shop { email }`
DEMAND_LINK = f"https://{SHOP}/admin/apps/test-api-key/app/demand"


async def work(settings, engine, *, check=True):
    """One worker: the demand check (as its loop runs it every DEMAND_CHECK_INTERVAL_SECONDS), then
    everything due, through the real channels."""
    channels = build_channels(settings)
    try:
        async with httpx.AsyncClient() as http:
            worker = Worker(settings, engine, http, channels)
            if check:
                tasks.check_demand(worker.context)
            await worker.drain()
    finally:
        for channel in channels.values():
            await channel.aclose()


def to_merchant(smtp):
    return [m for m in smtp.recorder.received if m.recipients == [MERCHANT]]


def alerts(engine) -> list[DemandAlert]:
    with session_scope(engine) as session:
        return list(session.execute(select(DemandAlert)).scalars())


def body(mail) -> str:
    return mail.message.get_body(("plain",)).get_content()


def test_the_contact_query_is_valid_against_the_admin_schema():
    assert validation_errors(SHOP_CONTACT_QUERY) == []
    assert (
        parse_contact({"shop": {"email": " a@b.example ", "name": "Shop"}}).email == "a@b.example"
    )
    assert parse_contact({"shop": None}).email is None and parse_contact({}).name is None


def test_reaching_the_threshold_emails_the_merchant_once(
    client, engine, settings, mail_settings, smtp, fake_shopify
):
    setup_shop(engine, settings, fake_shopify, high_demand_threshold=3)
    shoppers = [signup(client)["email"] for _ in range(2)]
    run(work(mail_settings, engine))
    assert to_merchant(smtp) == [] and alerts(engine) == []  # 2 of 3: not yet

    shoppers.append(signup(client)["email"])
    run(work(mail_settings, engine))
    [mail] = to_merchant(smtp)
    assert (
        mail.message["Subject"] == "High demand: 3 shoppers are waiting for Linen Shirt (Green / M)"
    )
    text, html = body(mail), mail.message.get_body(("html",)).get_content()
    assert (
        "3 shoppers are waiting for Linen Shirt (Green / M)" in text
        and f"variant {VARIANT}" in text
    )
    assert DEMAND_LINK in text and f'href="{DEMAND_LINK}"' in html
    assert "Hello Demo Shop" in text  # the shop's name from the API
    assert not any(s in mail.raw.decode() for s in shoppers)  # no shopper's address
    calls = [
        c for c in fake_shopify.graphql_calls if "shop {" in c["query"]
    ]  # more than one if the API was retried
    assert calls and all(c["errors"] == [] and c["shop"] == SHOP for c in calls)
    [row] = alerts(engine)
    assert (row.shopify_variant_id, row.pending) == (VARIANT, 3) and row.sent_at is not None

    for _ in range(3):
        signup(client)
    run(work(mail_settings, engine))
    run(work(mail_settings, engine))
    assert len(to_merchant(smtp)) == 1  # more signups: no second email


@pytest.mark.slow
def test_a_restock_resets_it_and_a_new_surge_emails_again(
    client, engine, settings, mail_settings, smtp, fake_shopify
):
    item = setup_shop(engine, settings, fake_shopify, high_demand_threshold=2)
    signup(client), signup(client)
    run(work(mail_settings, engine))
    assert len(to_merchant(smtp)) == 1

    item.levels = {LOCATION: 5, LOCATION2: 0}
    level_webhook(client, 5, updated_at="2026-11-22T12:00:00-05:00")
    run(work(mail_settings, engine))
    assert alerts(engine) == []  # the restock reset it
    assert (
        len([m for m in smtp.recorder.received if m.recipients != [MERCHANT]]) == 2
    )  # the shoppers' alerts

    signup(client), signup(client)
    run(work(mail_settings, engine))
    assert len(to_merchant(smtp)) == 1  # in stock: the waiting list is being served, not a surge

    item.levels = {LOCATION: 0, LOCATION2: 0}
    level_webhook(client, 0, updated_at="2026-11-22T13:00:00-05:00")  # sold out again
    run(work(mail_settings, engine))
    signup(client)
    run(work(mail_settings, engine))
    second = to_merchant(smtp)[1:]
    assert len(second) == 1 and "3 shoppers are waiting" in second[0].message["Subject"]
    run(work(mail_settings, engine))
    assert len(to_merchant(smtp)) == 2


def test_no_threshold_no_email(client, engine, settings, mail_settings, smtp, fake_shopify):
    setup_shop(engine, settings, fake_shopify)  # high_demand_threshold null: off
    for _ in range(12):
        signup(client)
    run(work(mail_settings, engine))
    assert to_merchant(smtp) == [] and alerts(engine) == []
    assert not [c for c in fake_shopify.graphql_calls if "shop {" in c["query"]]


def test_each_variant_counts_on_its_own(
    client, engine, settings, mail_settings, smtp, fake_shopify
):
    setup_shop(engine, settings, fake_shopify, high_demand_threshold=2)
    signup(client), signup(client, variant=VARIANT + 1)
    run(work(mail_settings, engine))
    assert to_merchant(smtp) == []
    signup(client, variant=VARIANT + 1)
    run(work(mail_settings, engine))
    [mail] = to_merchant(smtp)
    assert f"variant {VARIANT + 1}" in body(mail)
    assert [a.shopify_variant_id for a in alerts(engine)] == [VARIANT + 1]


def test_a_variant_in_stock_now_is_not_alerted_on(
    client, engine, settings, mail_settings, smtp, fake_shopify
):
    setup_shop(engine, settings, fake_shopify, high_demand_threshold=1)
    with session_scope(engine) as session:
        shop_id = session.execute(select(Shop.id)).scalar_one()
        session.add(
            Variant(
                shop_id=shop_id, shopify_variant_id=VARIANT, shopify_product_id=PRODUCT, sellable=4
            )
        )
    signup(client)
    run(work(mail_settings, engine))
    assert to_merchant(smtp) == [] and alerts(engine) == []


def test_several_workers_raise_it_once(client, engine, settings, mail_settings, smtp, fake_shopify):
    setup_shop(engine, settings, fake_shopify, high_demand_threshold=1)
    signup(client)

    async def check_twice():
        async with httpx.AsyncClient() as http:
            return [
                tasks.check_demand(Worker(mail_settings, engine, http, {}).context)
                for _ in range(2)
            ]

    assert run(check_twice()) == [1, 0]
    with session_scope(engine) as session:
        kinds = [j.kind for j in session.execute(select(Job).order_by(Job.id)).scalars()]
        assert kinds == ["variant_read", "demand_alert"]  # the signup's read, one alert
    run(work(mail_settings, engine, check=False))
    assert len(to_merchant(smtp)) == 1


def test_an_smtp_refusal_is_retried_with_backoff(
    client, engine, settings, mail_settings, smtp, fake_shopify
):
    setup_shop(engine, settings, fake_shopify, high_demand_threshold=1)
    signup(client)
    smtp.recorder.refuse_next = 1  # 451 once
    run(work(mail_settings, engine))
    assert to_merchant(smtp) == []
    with session_scope(engine) as session:
        job = session.execute(select(Job).where(Job.kind == "demand_alert")).scalar_one()
        assert job.status == "pending" and job.run_at > utcnow() and "451" in job.last_error
        assert session.execute(select(DemandAlert.sent_at)).scalar_one() is None
        session.execute(
            update(Job).where(Job.id == job.id).values(run_at=utcnow() - timedelta(seconds=1))
        )
    run(work(mail_settings, engine))
    [mail] = to_merchant(smtp)
    assert (
        mail.message["Subject"] == "High demand: 1 shopper is waiting for Linen Shirt (Green / M)"
    )
    with session_scope(engine) as session:
        job = session.execute(select(Job).where(Job.kind == "demand_alert")).scalar_one()
        assert (job.status, job.attempts) == ("done", 2)
        assert session.execute(select(DemandAlert.sent_at)).scalar_one() is not None


def test_a_restock_before_the_email_goes_cancels_it(
    client, engine, settings, mail_settings, smtp, fake_shopify
):
    item = setup_shop(engine, settings, fake_shopify, high_demand_threshold=1)
    signup(client)

    async def raise_only():
        async with httpx.AsyncClient() as http:
            return tasks.check_demand(Worker(mail_settings, engine, http, {}).context)

    assert run(raise_only()) == 1
    with session_scope(engine) as session:  # the email is still queued when the restock comes
        session.execute(
            update(Job)
            .where(Job.kind == "demand_alert")
            .values(run_at=utcnow() + timedelta(hours=1))
        )
    item.levels = {LOCATION: 3, LOCATION2: 0}
    level_webhook(client, 3)
    run(work(mail_settings, engine, check=False))
    assert alerts(engine) == []
    with session_scope(engine) as session:
        session.execute(
            update(Job)
            .where(Job.kind == "demand_alert")
            .values(run_at=utcnow() - timedelta(seconds=1))
        )
    run(work(mail_settings, engine, check=False))
    assert to_merchant(smtp) == []
    with session_scope(engine) as session:
        assert (
            session.execute(select(Job.status).where(Job.kind == "demand_alert")).scalar_one()
            == "done"
        )


def test_the_worker_loop_runs_the_check(
    client, engine, settings, mail_settings, smtp, fake_shopify
):
    setup_shop(engine, settings, fake_shopify, high_demand_threshold=1)
    signup(client)
    looping = mail_settings.model_copy(
        update={
            "DEMAND_CHECK_INTERVAL_SECONDS": 0.2,
            "WORKER_POLL_INTERVAL": 0.05,
            "RECONCILE_INTERVAL_SECONDS": 0,
        }
    )

    async def loop_until_sent():
        channels = build_channels(looping)
        stop = asyncio.Event()
        async with httpx.AsyncClient() as http:
            task = asyncio.create_task(Worker(looping, engine, http, channels).run(stop))
            for _ in range(200):
                if to_merchant(smtp):
                    break
                await asyncio.sleep(0.05)
            stop.set()
            await task
        for channel in channels.values():
            await channel.aclose()

    run(loop_until_sent())
    assert len(to_merchant(smtp)) == 1
