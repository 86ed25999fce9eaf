"""Manual sending on the admin's Signups page in Debian's headless Chromium: held signups say they
wait for the merchant, "Notify now" releases one (the row changes at once and its alert is due),
the Held filter, and "Send all held". Screenshots: tests/artifacts/admin-notify-now-*."""

import pytest
from sqlalchemy import select, update

from shopify_app.app import create_app
from shopify_app.models import Intent, Notification, Shop

from ..support import ARTIFACTS, serve_in_thread
from .data import add_delivery, add_intents
from .tokens import answer_confirmation, open_page

intents_t, notifications_t = Intent.__table__, Notification.__table__


@pytest.fixture
def held_admin(engine, settings, shop):
    """A shop with automatic sending off: three signups whose restock alerts are held, two still
    waiting for a restock, one notified."""
    with engine.begin() as connection:
        connection.execute(update(Shop.__table__).values(automatic_sending=False))
        shop_id = connection.execute(select(Shop.__table__.c.id)).scalar_one()
    held = add_intents(engine, shop_id, 3, start=300)
    for intent_id in held:
        add_delivery(engine, shop_id, intent_id, status="held")
    add_intents(engine, shop_id, 2, variant=2002, product_title="Wool beanie", start=400)
    add_delivery(engine, shop_id, add_intents(engine, shop_id, 1, status="notified", start=500)[0])
    with serve_in_thread(create_app(settings, run_worker=False)) as base:
        yield base, held


def statuses(engine, intent_id):
    with engine.connect() as connection:
        intent = connection.execute(
            select(intents_t.c.status).where(intents_t.c.id == intent_id)
        ).scalar_one()
        alert = connection.execute(
            select(notifications_t.c.status).where(notifications_t.c.intent_id == intent_id)
        ).scalar_one()
    return intent, alert


def test_notify_now_sends_a_held_signup_and_send_all_held_the_rest(
    browser,
    held_admin,
    engine,
    backend,
):
    base, held = held_admin
    ARTIFACTS.mkdir(exist_ok=True)
    narrow = open_page(browser, base, "signups", width=375)
    assert narrow.evaluate("document.documentElement.scrollWidth") <= 375
    narrow.screenshot(
        path=str(ARTIFACTS / f"admin-notify-now-held-375-{backend}.png"), full_page=True
    )
    narrow.close()

    page = open_page(browser, base, "signups")
    banner = page.locator("#held-banner")
    assert "3 alerts held, waiting for you to send." in banner.inner_text()
    row = page.locator(f"tr[data-intent='{held[0]}']")
    assert (
        row.locator(".badge").inner_text() == "Held"
        and "waiting for you to send" in row.inner_text()
    )
    assert (
        page.locator("button[data-notify]").count() == 5
    )  # held and pending; not the notified one
    page.screenshot(path=str(ARTIFACTS / f"admin-notify-now-before-{backend}.png"), full_page=True)

    row.locator("button[data-notify]").click()
    page.wait_for_selector("#flash.ok")
    assert page.locator("#flash").inner_text() == "Alert on its way to the shopper"
    assert (
        row.locator(".badge").inner_text() == "Notified" and "alert on its way" in row.inner_text()
    )
    assert row.locator("button").count() == 0
    assert page.locator("#held-count").inner_text() == "2"
    assert statuses(engine, held[0]) == (
        "notified",
        "pending",
    )  # due: the worker sends it on its next round
    assert statuses(engine, held[1]) == ("pending", "held")
    page.screenshot(path=str(ARTIFACTS / f"admin-notify-now-after-{backend}.png"), full_page=True)

    log = open_page(browser, base, "deliveries")
    log.select_option("select[name=status]", "held")
    log.click("form.filters button[type=submit]")
    log.wait_for_url("**status=held**")
    assert log.locator("tbody tr").count() == 2 and log.locator("tbody .badge.held").count() == 2
    assert "waiting for you to send" in log.locator("tbody tr").first.inner_text()
    log.screenshot(
        path=str(ARTIFACTS / f"admin-notify-now-deliveries-{backend}.png"), full_page=True
    )
    log.close()

    page.locator("#held-banner a", has_text="Show held").click()
    page.wait_for_url("**status=held**")
    assert (
        page.locator("tbody tr").count() == 2
        and page.locator("select[name=status]").input_value() == "held"
    )
    page.locator("button[data-send-held]").click()
    assert "Send all 2 held alerts?" in answer_confirmation(page)
    page.wait_for_selector("#flash.ok")
    assert page.locator("#flash").inner_text() == "2 held alerts on the way"
    assert page.locator("#held-banner").is_hidden() and page.locator(".badge.held").count() == 0
    assert [statuses(engine, i) for i in held[1:]] == [("notified", "pending")] * 2
    page.close()
