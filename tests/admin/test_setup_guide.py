"""The dashboard's setup guide (issue 16, item 5): four steps read from what is stored, each done
when it happened: the block seen on the storefront (its config fetched through the signed app
proxy), every switched-on channel able to send (else the settings it lacks), a test alert sent to
the merchant's own address (by the worker, over real SMTP), the first real signup. The guide goes
when all four are done. Screenshots: tests/artifacts/admin-setup-guide-*."""

from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import select, update
from starlette.testclient import TestClient

from shopify_app.app import create_app
from shopify_app.models import Job, Shop, utcnow
from shopify_app.notify.channels import build_channels
from shopify_app.notify.worker import Worker

from ..notify.helpers import run, setup_shop, signup
from ..support import API_KEY, ARTIFACTS, proxy_query, serve_in_thread
from .data import add_intents
from .tokens import SHOP, bearer, open_page, session_token

MERCHANT = "owner@demo-shop.example"  # what the fake Shopify answers for `shop { email }`


def guide_steps(client) -> dict[str, bool]:
    """The dashboard's guide as the merchant sees it: step -> done ({} when the guide is gone)."""
    html = client.get("/app", params={"shop": SHOP, "id_token": session_token()}).text
    if 'id="setup-guide"' not in html:
        return {}
    steps = {}
    for key in ("block", "channels", "test", "signup"):
        start = html.index(f'data-step="{key}"')
        steps[key] = html[start : start + 40].split('class="')[1].startswith("done")
    return steps


def shop_row(engine):
    with engine.connect() as connection:
        return connection.execute(select(Shop.__table__)).one()


async def work(settings, engine):
    channels = build_channels(settings)
    try:
        async with httpx.AsyncClient() as http:
            await Worker(settings, engine, http, channels).drain()
    finally:
        for channel in channels.values():
            await channel.aclose()


def test_a_new_shop_sees_four_open_steps_and_the_theme_editor_deep_link(client, shop):
    assert guide_steps(client) == dict.fromkeys(("block", "channels", "test", "signup"), False)
    html = client.get("/app", params={"shop": SHOP, "id_token": session_token()}).text
    link = html.split('id="add-block" href="')[1].split('"')[0].replace("&amp;", "&")
    parts = urlsplit(link)
    assert (parts.scheme, parts.netloc, parts.path) == (
        "https",
        SHOP,
        "/admin/themes/current/editor",
    )
    assert parse_qs(parts.query) == {
        "template": ["product"],
        "addAppBlockId": [f"{API_KEY}/notify-me"],
        "target": ["mainSection"],
    }
    assert "0 of 4 tasks complete" in html
    # No channel can send in this deployment: each names what it lacks, and the test is disabled.
    assert "SMTP_HOST, MAIL_FROM" in html and "TWILIO_ACCOUNT_SID" in html
    assert 'id="send-test-alert" disabled' in html and "SMTP_HOST and MAIL_FROM" in html


def test_the_block_is_done_once_the_storefront_fetches_its_config(client, engine, shop):
    assert client.get(f"/proxy/config?{proxy_query(SHOP)}").status_code == 200
    first = shop_row(engine).block_seen_at
    assert first is not None and guide_steps(client)["block"] is True
    client.get(f"/proxy/config?{proxy_query(SHOP)}")
    assert shop_row(engine).block_seen_at == first  # the first sighting is kept


def test_an_unsigned_config_request_or_a_head_does_not_mark_the_block(client, engine, shop):
    assert client.get(f"/proxy/config?shop={SHOP}").status_code == 401
    assert client.head(f"/proxy/config?{proxy_query(SHOP)}").status_code == 200
    assert shop_row(engine).block_seen_at is None


def test_channels_are_done_when_every_switched_on_channel_can_send(engine, mail_settings, shop):
    with engine.begin() as connection:
        connection.execute(update(Shop.__table__).values(channel_sms=False, channel_push=False))
    with TestClient(create_app(mail_settings), base_url="https://app.example.test") as client:
        steps = guide_steps(client)
        assert steps["channels"] is True
        html = client.get("/app", params={"shop": SHOP, "id_token": session_token()}).text
        assert 'data-channel="sms"><strong>SMS</strong>: <span class="sub">off in Settings' in html


def test_the_test_alert_is_refused_while_email_cannot_send(client, engine, shop):
    response = client.post("/app/api/test-alert", headers=bearer())
    assert response.status_code == 409
    assert response.json() == {
        "errors": ["This app cannot send email yet: SMTP_HOST and MAIL_FROM must be set."]
    }
    with engine.connect() as connection:
        assert connection.execute(select(Job.__table__)).all() == []


def test_the_test_alert_reaches_the_merchant_as_the_shops_real_alert(
    engine, settings, mail_settings, smtp, fake_shopify
):
    setup_shop(engine, settings, fake_shopify, sender_name="Demo Support")
    with TestClient(create_app(mail_settings), base_url="https://app.example.test") as client:
        signup(client)  # a real signup: its product is the most wanted
        assert client.post("/app/api/test-alert", headers=bearer()).status_code == 202
        assert client.post("/app/api/test-alert", headers=bearer()).status_code == 202  # coalesced
        with engine.connect() as connection:  # one test alert (and the signup's variant read)
            kinds = connection.execute(select(Job.__table__.c.kind)).scalars().all()
            assert sorted(kinds) == ["test_alert", "variant_read"]
        run(work(mail_settings, engine))
        [mail] = [m for m in smtp.recorder.received if m.recipients == [MERCHANT]]
        assert mail.message["Subject"].startswith("[Test] ")
        assert "Linen Shirt" in mail.message["Subject"]
        assert mail.message["From"] == "Demo Support <alerts@app.example>"
        assert shop_row(engine).test_alert_sent_at is not None
        steps = guide_steps(client)
        assert steps["test"] is True and steps["signup"] is True


def test_channels_stay_open_while_a_switched_on_channel_cannot_send(client, engine, shop):
    with engine.begin() as connection:
        connection.execute(update(Shop.__table__).values(channel_sms=False, channel_push=False))
    assert guide_steps(client)["channels"] is False  # email is on and cannot send here
    with engine.begin() as connection:
        connection.execute(update(Shop.__table__).values(channel_email=False))
    assert guide_steps(client)["channels"] is False  # nothing on: no alert could reach anyone


def test_the_guide_goes_when_every_step_is_done(engine, mail_settings, shop):
    with engine.begin() as connection:
        shop_id = connection.execute(select(Shop.__table__.c.id)).scalar_one()
        connection.execute(
            update(Shop.__table__).values(
                test_alert_sent_at=utcnow(), channel_sms=False, channel_push=False
            )
        )
    with TestClient(create_app(mail_settings), base_url="https://app.example.test") as client:
        client.get(f"/proxy/config?{proxy_query(SHOP)}")
        assert guide_steps(client) == {
            "block": True,
            "channels": True,
            "test": True,
            "signup": False,
        }
        add_intents(engine, shop_id, 1, source="merchant")  # the merchant's own does not count
        assert guide_steps(client)["signup"] is False
        add_intents(engine, shop_id, 1, start=10)
        assert guide_steps(client) == {}
        assert (
            "Dashboard"
            in client.get("/app", params={"shop": SHOP, "id_token": session_token()}).text
        )


@pytest.mark.parametrize("width", [1280, 375])
def test_the_guide_in_chromium(width, browser, engine, settings, shop, backend):
    with engine.begin() as connection:
        shop_id = connection.execute(select(Shop.__table__.c.id)).scalar_one()
        connection.execute(update(Shop.__table__).values(channel_push=False))
    add_intents(engine, shop_id, 2)
    ARTIFACTS.mkdir(exist_ok=True)
    with serve_in_thread(create_app(settings, run_worker=False)) as base:
        page = open_page(browser, base, width=width)
        guide = page.locator("#setup-guide")
        assert guide.is_visible()
        assert page.locator("#guide-progress").inner_text() == "1 of 4 tasks complete"
        assert page.locator("#add-block").get_attribute("target") == "_top"
        assert page.locator("#send-test-alert").is_disabled()
        assert "SMTP_HOST and MAIL_FROM" in page.locator("#test-alert-why").inner_text()
        box = guide.bounding_box()
        assert box is not None and box["width"] <= width
        page.screenshot(path=ARTIFACTS / f"admin-setup-guide-{width}-{backend}.png", full_page=True)
        page.close()
