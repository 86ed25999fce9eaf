"""The weekly summary email (issue 18 item 12): off by default; turned on in the settings, the worker
emails the merchant, once per week, last week's signups, alerts, orders and revenue from alerts beside
the week before, and the products most wanted now; through the real SMTP channel to a local server."""

from datetime import UTC, date, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select, update

from shopify_app import tasks
from shopify_app.db import session_scope
from shopify_app.models import Intent, Job, Shop, utcnow
from shopify_app.notify import weekly_summary
from shopify_app.notify.channels import build_channels
from shopify_app.notify.merchant import MerchantContact
from shopify_app.notify.worker import Worker

from ..admin.tokens import bearer
from ..support import ARTIFACTS, install_shop
from ..webhooks.orders import alerted, deliver, order
from .helpers import SHOP, run, setup_shop, signup

MERCHANT = "owner@demo-shop.example"  # what the fake Shopify answers for `shop { email }`
OTHER = "other-shop.myshopify.com"
LINK = f"https://{SHOP}/admin/apps/test-api-key/app"
MONDAY = weekly_summary.last_week(utcnow())  # the week the summary covers
IN_WEEK = datetime.combine(MONDAY, datetime.min.time(), UTC) + timedelta(days=1, hours=10)


async def work(settings, engine):
    """One worker: the weekly check (as its loop runs it every WEEKLY_SUMMARY_CHECK_SECONDS), then
    everything due, through the real channels."""
    channels = build_channels(settings)
    try:
        async with httpx.AsyncClient() as http:
            worker = Worker(settings, engine, http, channels)
            tasks.queue_weekly_summaries(worker.context)
            await worker.drain()
    finally:
        for channel in channels.values():
            await channel.aclose()


def to_merchant(smtp):
    return [m for m in smtp.recorder.received if m.recipients == [MERCHANT]]


def text_of(mail) -> str:
    return mail.message.get_body(("plain",)).get_content()


def summary_jobs(engine) -> list[Job]:
    with engine.connect() as connection:
        return list(
            connection.execute(
                select(Job.__table__).where(Job.__table__.c.kind == "weekly_summary")
            ).all()
        )


def turn_on(client, on=True):
    response = client.put("/app/api/settings", json={"weekly_summary": on}, headers=bearer())
    assert response.status_code == 200, response.text
    assert response.json()["weekly_summary"] is on


def backdate(engine, intent_ids: list[int], when: datetime) -> None:
    with engine.begin() as connection:
        connection.execute(
            update(Intent.__table__)
            .where(Intent.__table__.c.id.in_(intent_ids))
            .values(created_at=when, updated_at=when)
        )


# -- The week ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("now", "monday"),
    [
        ("2026-12-03T17:00:00+00:00", "2026-11-23"),  # a Thursday: the week before this one
        ("2026-11-30T01:00:00+00:00", "2026-11-23"),  # Monday, an hour after the week closed
        ("2026-11-30T00:59:00+00:00", "2026-11-16"),  # not settled yet: the week before
        ("2026-11-29T23:59:00+00:00", "2026-11-16"),  # Sunday: this week is not over
        ("2026-12-01T03:00:00+05:00", "2026-11-23"),  # a time in another zone counts in UTC
    ],
)
def test_the_week_summarised_is_the_last_whole_one_in_utc(now, monday):
    assert weekly_summary.last_week(datetime.fromisoformat(now)) == date.fromisoformat(monday)


def test_the_week_is_named_as_people_read_it():
    assert weekly_summary.week_span(date(2026, 11, 23)) == "23–29 November 2026"
    assert weekly_summary.week_span(date(2026, 11, 30)) == "30 November – 6 December 2026"
    assert weekly_summary.week_span(date(2026, 12, 28)) == "28 December 2026 – 3 January 2027"


# -- Through the worker ------------------------------------------------------------------------------
def test_it_is_off_by_default_and_sends_nothing(
    client, engine, settings, mail_settings, smtp, fake_shopify
):
    setup_shop(engine, settings, fake_shopify)
    assert client.get("/app/api/settings", headers=bearer()).json()["weekly_summary"] is False
    signup(client)
    run(work(mail_settings, engine))
    assert to_merchant(smtp) == [] and summary_jobs(engine) == []


def test_the_merchant_gets_last_weeks_figures_once(
    client, engine, settings, mail_settings, smtp, fake_shopify
):
    setup_shop(engine, settings, fake_shopify)
    install_shop(engine, settings, OTHER, weekly_summary=False)  # not asked: not summarised
    turn_on(client)
    # Last week: 3 signups through the API, 2 shoppers alerted (their signups made 3 days before
    # the alert, in the same week), one of whom bought 3 x 19.99. The week before: 1 signup.
    last_week = [signup(client)["id"] for _ in range(3)]
    backdate(engine, last_week, IN_WEEK)
    backdate(engine, [signup(client)["id"]], IN_WEEK - timedelta(days=7))
    alerted(engine, email="bought@example.com", sent_at=IN_WEEK + timedelta(days=3))
    alerted(engine, email="browsed@example.com", sent_at=IN_WEEK + timedelta(days=3))
    deliver(client, order(at=IN_WEEK + timedelta(days=3, hours=2), email="bought@example.com"))
    signup(client)  # this week: waiting, but not last week's figure

    run(work(mail_settings, engine))
    [mail] = to_merchant(smtp)
    span = weekly_summary.week_span(MONDAY)
    assert mail.message["Subject"] == (
        f"Your week of back-in-stock alerts ({span}): 5 signups, €59.97 from alerts"
    )
    text, html = text_of(mail), mail.message.get_body(("html",)).get_content()
    assert "Hello Demo Shop" in text  # the shop's name from the Admin API
    assert f"Your week of back-in-stock alerts, {span} (Monday to Sunday, UTC)" in text
    assert "Signups: 5 (week before: 1)" in text
    assert "Alerts sent: 2 (week before: 0)" in text
    assert "Orders from alerts: 1 (week before: 0)" in text
    assert "Revenue from alerts: €59.97 (week before: €0.00)" in text
    assert "Conversion rate 50.0%: 1 order from alerts for 2 signups alerted this week." in text
    # Waiting now: the 3 of last week, the 1 before and this week's (the alerted ones are not).
    assert (
        "Most wanted now: 5 shoppers are waiting in all.\r\n- Linen Shirt – Green / M: 5 waiting"
        in text
    )
    assert f"Open the dashboard: {LINK}/dashboard" in text and f'href="{LINK}/demand"' in html
    assert "bought@example.com" not in mail.raw.decode()  # no shopper's address
    assert "browsed@example.com" not in mail.raw.decode()
    with engine.connect() as connection:
        weeks = dict(connection.execute(select(Shop.domain, Shop.weekly_summary_week)).all())
    assert weeks == {SHOP: MONDAY, OTHER: None}
    assert len(summary_jobs(engine)) == 1

    run(work(mail_settings, engine))  # the next check, and the one after: the week was summarised
    run(work(mail_settings, engine))
    assert len(to_merchant(smtp)) == 1 and len(summary_jobs(engine)) == 1


def test_a_shop_that_turns_it_off_before_it_goes_gets_nothing(
    client, engine, settings, mail_settings, smtp, fake_shopify
):
    setup_shop(engine, settings, fake_shopify)
    turn_on(client)
    with session_scope(engine) as session:
        assert weekly_summary.queue_due(session, utcnow()) == 1
    assert len(summary_jobs(engine)) == 1
    turn_on(client, False)
    run(work(mail_settings, engine))
    assert to_merchant(smtp) == []
    # Turned on again, the week already queued is not queued twice.
    turn_on(client)
    run(work(mail_settings, engine))
    assert to_merchant(smtp) == [] and len(summary_jobs(engine)) == 1


def test_an_smtp_failure_is_retried_and_a_quiet_week_still_reports(
    client, engine, settings, mail_settings, smtp, fake_shopify
):
    setup_shop(engine, settings, fake_shopify)
    turn_on(client)
    smtp.recorder.refuse_next = 1  # a 4xx on the first try: the job is retried
    run(work(mail_settings, engine))
    with engine.begin() as connection:
        connection.execute(update(Job.__table__).values(run_at=utcnow()))  # its backoff, over
    run(work(mail_settings, engine))
    [mail] = to_merchant(smtp)
    text = text_of(mail)
    assert "A quiet week: no signups, alerts or orders from alerts." in text
    assert "Most wanted now: no shopper is waiting for a product now." in text
    assert "Revenue from alerts: €0.00" not in text  # the shop's currency is not known: no symbol
    assert "Revenue from alerts: 0.00 (week before: 0.00)" in text


# -- What the merchant sees ------------------------------------------------------------------------
def _summary() -> weekly_summary.Summary:
    from decimal import Decimal

    from shopify_app.admin.day_counts import Day

    return weekly_summary.Summary(
        week=date(2026, 11, 23),
        this=Day(signups=1284, alerts=312, conversions=41, revenue=Decimal("2459.18")),
        before=Day(signups=998, alerts=120, conversions=12, revenue=Decimal("611.40")),
        notified=312,
        currency="USD",
        wanted=[
            weekly_summary.Wanted("Linen Shirt – Green / M", 214),
            weekly_summary.Wanted("Merino Crew Neck Sweater – Charcoal Heather / XL", 87),
            weekly_summary.Wanted("Canvas Tote", 9),
        ],
        waiting=402,
    )


@pytest.mark.parametrize("width", [600, 375])
def test_the_summary_email_in_chromium(width, browser, settings):
    message = weekly_summary.summary_email(
        settings, SHOP, MerchantContact("owner@example.com", "Linen & Co"), _summary()
    )
    assert message.subject == (
        "Your week of back-in-stock alerts (23–29 November 2026): 1,284 signups, $2,459.18 from alerts"
    )
    ARTIFACTS.mkdir(exist_ok=True)
    page = browser.new_page(viewport={"width": width, "height": 900})
    page.route("**/*", lambda route: route.abort())  # no network
    page.set_content(message.html or "")
    assert page.locator("h1").inner_text() == "Your week of back-in-stock alerts"
    assert page.evaluate("document.documentElement.scrollWidth") <= width  # nothing sideways
    revenue = page.get_by_role("row", name="Revenue from alerts")
    assert revenue.inner_text().split() == ["Revenue", "from", "alerts", "$2,459.18", "$611.40"]
    assert page.get_by_role("link", name="Open the dashboard").is_visible()
    assert "Linen & Co" in page.locator("p").first.inner_text()
    page.screenshot(path=ARTIFACTS / f"email-weekly-summary-{width}.png", full_page=True)
    page.close()
