"""The settings page's webhooks card in Chromium (issue 18 item 10): an unsafe URL refused with
the field marked, a saved URL showing its signing secret once, a new secret on request, and the
latest deliveries with status code, attempts and time."""

from datetime import timedelta

import pytest
from sqlalchemy import insert, select

from shopify_app.app import create_app
from shopify_app.crypto import decrypt_token
from shopify_app.models import EventDelivery, Shop, utcnow

from ..support import ARTIFACTS, serve_in_thread
from .tokens import answer_confirmation, open_page


@pytest.fixture
def admin(engine, settings, shop):
    with engine.connect() as connection:
        shop_id = connection.execute(select(Shop.__table__.c.id)).scalar_one()
    now = utcnow()
    rows = [
        ("signup.created", "webhook", "delivered", 1, 200, None),
        ("alert.sent", "webhook", "failed", 1, 410, "HTTP 410"),
        ("alert.failed", "webhook", "pending", 3, None, "network: ConnectTimeout"),
        ("signup.created", "flow", "delivered", 1, None, None),
    ]
    with engine.begin() as connection:
        for n, (topic, target, status, attempts, code, error) in enumerate(rows):
            connection.execute(
                insert(EventDelivery.__table__).values(
                    shop_id=shop_id,
                    event_id=f"00000000-0000-4000-8000-00000000000{n}",
                    topic=topic,
                    target=target,
                    status=status,
                    attempts=attempts,
                    status_code=code,
                    last_error=error,
                    created_at=now - timedelta(minutes=10 - n),
                    attempted_at=now - timedelta(minutes=9 - n),
                )
            )
    with serve_in_thread(create_app(settings, run_worker=False)) as base:
        yield base


def stored(engine):
    with engine.connect() as connection:
        return connection.execute(
            select(Shop.__table__.c.webhook_url, Shop.__table__.c.webhook_secret_encrypted)
        ).one()


@pytest.mark.parametrize("width", [1280, 375])
def test_the_webhook_card_saves_shows_the_secret_once_and_lists_deliveries(
    width, browser, admin, engine, settings, backend
):
    page = open_page(browser, admin, "settings", width=width)
    log = page.locator("#event-log tbody tr")
    assert log.count() == 4
    newest = log.nth(0).inner_text()
    assert "signup.created" in newest and "Shopify Flow" in newest and "Delivered" in newest
    assert "HTTP 410" in log.nth(2).inner_text() and "Failed" in log.nth(2).inner_text()
    pending = log.nth(1).inner_text()
    assert "3 attempts" in pending and "network: ConnectTimeout" in pending
    assert not page.locator("#rotate-webhook-secret").is_visible()  # no URL yet

    page.fill("#webhook_url", "https://169.254.169.254/latest/meta-data")
    page.click("#save-webhook")
    page.wait_for_selector("#flash.error")
    assert "Webhook URL: must be https (port 443) to a public host" in page.inner_text("#flash")
    assert page.get_attribute("#webhook_url", "aria-invalid") == "true"
    page.locator("#webhooks").scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / f"admin-webhooks-refused-{width}-{backend}.png"))
    assert stored(engine).webhook_url is None

    page.fill("#webhook_url", "https://hooks.example.com/back-in-stock")
    page.click("#save-webhook")
    page.wait_for_selector("#webhook-secret-box:not([hidden])")
    secret = page.inner_text("#webhook-secret").strip()
    assert secret.startswith("bisw_")
    assert page.get_attribute("#webhook_url", "aria-invalid") is None
    page.locator("#webhooks").scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / f"admin-webhooks-secret-{width}-{backend}.png"))
    row = stored(engine)
    assert row.webhook_url == "https://hooks.example.com/back-in-stock"
    assert decrypt_token(settings.secret_keys, row.webhook_secret_encrypted) == secret

    page.reload()  # never shown again
    assert page.locator("#webhook-secret-box").is_hidden()
    assert secret not in page.content()
    assert page.inner_text("#webhook-secret-state") == "A signing secret is set."
    page.click("#rotate-webhook-secret")
    assert "signed with the new secret at once" in answer_confirmation(page)
    page.wait_for_selector("#webhook-secret-box:not([hidden])")
    assert page.inner_text("#webhook-secret").strip() not in ("", secret)
    page.locator("#webhooks").scroll_into_view_if_needed()
    page.screenshot(
        path=str(ARTIFACTS / f"admin-webhooks-card-{width}-{backend}.png"), full_page=True
    )
    page.close()
