"""The settings page's preview (`POST /app/api/settings/preview`): the real renderer's email and
SMS with the sender settings being typed, for the most-wanted variant; checked like a PUT; nothing saved."""

from sqlalchemy import select

from shopify_app.app import create_app
from shopify_app.models import SettingsChange, Shop

from ..support import ARTIFACTS, serve_in_thread
from .data import add_intents, add_variant
from .tokens import bearer, open_page


def _shop_id(engine) -> int:
    with engine.connect() as connection:
        return connection.execute(select(Shop.__table__.c.id)).scalar_one()


def test_the_preview_renders_the_typed_sender_for_the_most_wanted_variant(client, engine, shop):
    shop_id = _shop_id(engine)
    add_variant(engine, shop_id, variant=2002)
    add_intents(engine, shop_id, 1, variant=1001, product_title="Wool hat")
    add_intents(engine, shop_id, 3, variant=2002, product_title="Linen shirt", start=10)
    response = client.post(
        "/app/api/settings/preview",
        json={"sender_name": "Linen & Co", "reply_to": "Help@Example.com"},
        headers=bearer(),
    )
    assert response.status_code == 200
    body = response.json()
    assert body["product"] == "Linen shirt"
    assert (
        body["email"]["from"].startswith("Linen & Co <")
        and body["email"]["reply_to"] == "help@example.com"
    )
    assert body["email"]["subject"] == "Linen shirt (Blue / M) is back in stock"
    # The body names the shop as Shopify does (here, before its name is read: from its domain);
    # the sender name is the From's display name only.
    assert "Linen shirt" in body["email"]["html"] and "Linen &amp; Co" not in body["email"]["html"]
    assert "alert at Demo Shop." in body["email"]["text"]
    assert body["sms"]["text"].startswith("Linen & Co: ") and body["sms"]["characters"] == len(
        body["sms"]["text"]
    )
    with engine.connect() as connection:  # a preview saves nothing
        assert connection.execute(select(Shop.__table__.c.sender_name)).scalar_one() is None
        assert connection.execute(select(SettingsChange.__table__)).first() is None


def test_without_signups_the_preview_shows_a_sample(client, shop):
    body = client.post(
        "/app/api/settings/preview", json={"sender_name": None, "reply_to": None}, headers=bearer()
    ).json()
    assert body["product"] == "Sample product" and body["email"]["reply_to"] is None
    assert body["sms"]["fits_one_segment"] is True


def test_the_preview_refuses_what_a_save_would_refuse(client, shop):
    for payload, error in [
        ({"reply_to": "nope"}, "reply_to: must be a valid email address"),
        (
            {"sender_name": "a\nb"},
            "sender_name: must not contain control characters, quotes or angle brackets",
        ),
        (
            {"min_restock_quantity": 3},
            "min_restock_quantity: not previewed (only sender_name, reply_to, brand_logo_url, "
            "brand_color)",
        ),
        (
            {"brand_color": "green"},
            "brand_color: must be a colour like #008060 (# and six hexadecimal digits)",
        ),
        (
            {"brand_logo_url": "http://shop.example/logo.png"},
            "brand_logo_url: must be a web address starting with https:// (at most 2048 characters)",
        ),
        ([], "body: must be a JSON object of the message settings to preview"),
    ]:
        response = client.post("/app/api/settings/preview", json=payload, headers=bearer())
        assert response.status_code == 400 and response.json() == {"errors": [error]}
    assert client.post("/app/api/settings/preview", json={}).status_code == 401


def test_the_settings_page_preview_follows_typing(browser, engine, settings, shop, backend):
    """In Chromium: the preview is there on load (server-rendered) and follows the sender fields."""
    add_intents(engine, _shop_id(engine), 2, product_title="Linen shirt")
    with serve_in_thread(create_app(settings, run_worker=False)) as base:
        page = open_page(browser, base, "settings", width=375)
        assert (
            page.locator("#preview-subject").inner_text()
            == "Linen shirt (Blue / M) is back in stock"
        )
        email = page.frame_locator("#preview-email")
        assert "Linen shirt" in email.locator("body").inner_text()
        page.fill("#sender_name", "Linen & Co")
        page.fill("#reply_to", "help@linen.example")
        page.wait_for_function(
            "document.getElementById('preview-sms').textContent.startsWith('Linen & Co: ')"
        )
        assert page.locator("#preview-from").inner_text().startswith("Linen & Co <")
        assert page.locator("#preview-reply-to").inner_text() == "help@linen.example"
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
        page.locator("#preview").screenshot(
            path=str(ARTIFACTS / f"admin-settings-preview-{backend}.png")
        )
        page.fill("#reply_to", "nope")
        page.wait_for_function(
            "document.getElementById('preview-reply-to').textContent.includes('must be a valid')"
        )
    with engine.connect() as connection:
        assert connection.execute(select(Shop.__table__.c.sender_name)).scalar_one() is None
