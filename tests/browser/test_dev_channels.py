"""What a newcomer sees with `APP_ENV=development` and no credentials at all (no SMTP, Twilio or
VAPID settings), in headless Chromium against the app on a real port with its worker: the local
storefront's block offers email, text message and browser notification; a restock writes each
signup's alert to `outbox/` (.eml, .sms.txt, .push.json), listed and readable on the storefront;
its link to the admin opens the demo shop's dashboard in this plain browser, and the admin's own
navigation works from there. Screenshots go to tests/artifacts/."""

import json
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from shopify_app import devshop
from shopify_app.app import create_app
from shopify_app.config import Settings
from shopify_app.notify import channels as notify_channels

from ..support import API_KEY, API_SECRET, ARTIFACTS, SECRET_KEY, free_port, serve_in_thread

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="the playwright package is not installed"
)
SHIRT = devshop.PRODUCTS[0]
SOLD_OUT = SHIRT.variants[1]
ANSWER = 15_000  # ms, on a busy 2-core machine
PHONE = "+14155550123"
SUBSCRIPTION = {
    "endpoint": "https://fcm.googleapis.com/fcm/send/dev-browser-test",
    "keys": {
        "p256dh": "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM",
        "auth": "tBHItJI5svbpez7KI4CCXg",
    },
}


@pytest.fixture
def app(database_url: str, tmp_path: Path) -> Iterator[dict]:
    """The app as `APP_ENV=development shopify-app serve` runs it, on SQLite or PostgreSQL."""
    port = free_port()
    settings = Settings(
        APP_ENV="development",
        SHOPIFY_API_KEY=API_KEY,
        SHOPIFY_API_SECRET=API_SECRET,
        SECRET_KEY=SECRET_KEY,
        DATABASE_URL=database_url,
        APP_URL=f"http://127.0.0.1:{port}",
        WORKER_IN_PROCESS=True,
        WORKER_POLL_INTERVAL=0.1,
        SIGNUP_RATE_LIMIT="1000000/hour",
        SIGNUP_CONTACT_LIMIT="1000000/hour",
    ).check()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(notify_channels, "DEV_OUTBOX", tmp_path / "outbox")
        with serve_in_thread(create_app(settings), port=port) as base:
            yield {"base": base, "outbox": tmp_path / "outbox"}


def _page(browser, width: int = 1180):
    context = browser.new_context(viewport={"width": width, "height": 900}, locale="en-US")
    # Offline, as the tests are: Shopify's CDN is never reached (the dev admin asks nothing of it).
    context.route("https://cdn.shopify.com/**", lambda route: route.abort())
    page = context.new_page()
    page.set_default_timeout(ANSWER)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return page, errors


def _signup(base: str, channel: str, **fields: str) -> None:
    answer = httpx.post(
        f"{base}/apps/back-in-stock/intents",
        data={
            "shopify_variant_id": str(SOLD_OUT.id),
            "shopify_product_id": str(SHIRT.id),
            "channel": channel,
            "locale": "en",
            "website": "",
            **fields,
        },
        timeout=30,
    )
    assert answer.status_code == 201, answer.text


def test_a_newcomer_sees_all_three_channels_their_alerts_and_the_admin(browser, app) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page, errors = _page(browser)
    page.goto(f"{app['base']}/dev/storefront?variant={SOLD_OUT.id}")
    for label in ("Email", "Text message", "Browser notification"):
        sync_api.expect(page.get_by_role("radio", name=label)).to_be_visible()
    page.locator(".info").screenshot(path=str(ARTIFACTS / "dev-1-three-channels.png"))

    # An SMS signup through the block; a push one as the block would post it (headless Chromium
    # has no push service to subscribe with), and an email one.
    page.get_by_role("radio", name="Text message").check()
    page.get_by_label("Mobile number").fill("415 555 0123")
    page.get_by_role("button", name="Notify me").click()
    sync_api.expect(page.locator("[data-bis-status]")).to_have_text(re.compile("^Thanks!"))
    _signup(app["base"], "push", push=json.dumps(SUBSCRIPTION))
    _signup(app["base"], "email", email="ada@example.com")

    page.locator(f"[data-restock='{SOLD_OUT.id}']").click()
    alerts = page.locator("[data-alerts]")
    sync_api.expect(alerts.locator("tbody tr")).to_have_count(3)
    for channel in ("Email", "Text message", "Browser notification"):
        sync_api.expect(alerts.locator(f"[data-alert-channel='{channel}']")).to_have_count(1)
    sync_api.expect(alerts).to_contain_text(PHONE)
    sync_api.expect(alerts).to_contain_text("a browser via fcm.googleapis.com")
    page.locator("#devtools").screenshot(path=str(ARTIFACTS / "dev-2-alerts-in-outbox.png"))
    [sms] = app["outbox"].glob("*.sms.txt")
    assert sms.read_text(encoding="utf-8").startswith(f"To: {PHONE}\n\n")
    [push] = app["outbox"].glob("*.push.json")
    assert json.loads(push.read_text(encoding="utf-8"))["endpoint"] == SUBSCRIPTION["endpoint"]

    alerts.locator("[data-alert-channel='Text message'] a").click()
    sync_api.expect(page.get_by_role("heading", level=1)).to_have_text("Text message")
    sync_api.expect(page.locator("pre")).to_contain_text("Linen Shirt (Sage / M) is back in stock")
    page.screenshot(path=str(ARTIFACTS / "dev-3-outbox-sms.png"), full_page=True)
    page.go_back()
    page.locator("[data-alerts] [data-alert-channel='Browser notification'] a").click()
    sync_api.expect(page.get_by_role("heading", level=1)).to_have_text("Browser notification")
    sync_api.expect(page.locator("dl")).to_contain_text(SUBSCRIPTION["endpoint"])
    page.screenshot(path=str(ARTIFACTS / "dev-4-outbox-push.png"), full_page=True)

    # The admin, from the storefront's link, in this plain browser.
    page.goto(f"{app['base']}/dev/storefront")
    page.locator("[data-dev-admin]").click()
    sync_api.expect(page.get_by_role("heading", level=1)).to_have_text("Dashboard")
    sync_api.expect(page.locator("#bridge-note")).to_contain_text("the demo shop's admin")
    sync_api.expect(page.locator("[data-metric=signups]")).to_have_text("3")
    page.screenshot(path=str(ARTIFACTS / "dev-5-admin-dashboard.png"), full_page=True)
    page.locator("nav.tabs").get_by_role("link", name="Signups").click()
    sync_api.expect(page.get_by_role("heading", level=1)).to_have_text(re.compile("Signups"))
    sync_api.expect(page.locator("body")).to_contain_text("ada@example.com")
    page.screenshot(path=str(ARTIFACTS / "dev-6-admin-signups.png"), full_page=True)
    # Why each alert went, where the stock is, and how long it took from the webhook
    page.locator("nav.tabs").get_by_role("link", name="Delivery log").click()
    sync_api.expect(page.locator("[data-why]").first).to_contain_text("Restocked to")
    sync_api.expect(page.locator("[data-latency]").first).to_contain_text(
        "after the stock news reached the app"
    )
    page.screenshot(path=str(ARTIFACTS / "dev-8-admin-deliveries.png"), full_page=True)
    assert not errors, errors

    phone, phone_errors = _page(browser, width=375)
    phone.goto(f"{app['base']}/dev/admin")
    sync_api.expect(phone.get_by_role("heading", level=1)).to_have_text("Dashboard")
    phone.screenshot(path=str(ARTIFACTS / "dev-7-admin-dashboard-375.png"), full_page=True)
    assert not phone_errors, phone_errors
