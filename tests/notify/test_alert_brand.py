"""The alert email a merchant is proud to send (issue 16, item 6): the shop's own name from
Shopify (read after install by the `shop_profile` job), the price in the shop's currency for the
shopper's locale, the product image, the merchant's logo and button colour (validated; the
button's text stays readable), a footer that passes WCAG AA, the preview's From the sent one.
Screenshots of the email at 600 and 375 px: tests/artifacts/email-alert-*."""

from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import select, update
from starlette.testclient import TestClient

from shopify_app.app import create_app
from shopify_app.models import Job, Location, Shop
from shopify_app.notify.email import EmailWriter
from shopify_app.notify.render import contrast
from shopify_app.shop_profile import SHOP_PROFILE_QUERY

from ..admin.tokens import bearer
from ..fakes.admin_schema import validation_errors
from ..support import ARTIFACTS
from .helpers import SHOP, drain, level_webhook, recording_channels, run, setup_shop, signup

NEW_SHOP = "linen-and-co.myshopify.com"
PRODUCT_IMAGE = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="800" height="600"><rect width="800" '
    'height="600" fill="#d9cbb3"/><path d="M250 150h300l80 120-70 40v200H240V310l-70-40z" '
    'fill="#6b8f71"/></svg>'
)
LOGO = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="160" height="40"><text x="0" y="30" '
    'font-family="Georgia" font-size="28" fill="#5c2d91">Linen &amp; Co</text></svg>'
)


def shop_row(engine, domain=SHOP):
    with engine.connect() as connection:
        return connection.execute(
            select(Shop.__table__).where(Shop.__table__.c.domain == domain)
        ).one()


def test_the_profile_query_is_valid_against_the_admin_schema():
    assert validation_errors(SHOP_PROFILE_QUERY) == []


def test_an_install_reads_the_shops_name_and_currency(client, engine, settings, fake_shopify):
    fake_shopify.shop_currencies[NEW_SHOP] = "EUR"
    assert client.get("/app/api/settings", headers=bearer(NEW_SHOP)).status_code == 200
    with engine.connect() as connection:
        [job] = connection.execute(select(Job.__table__)).all()
    assert (job.kind, job.key) == ("shop_profile", f"profile-{job.shop_id}")
    run(drain(settings, engine, recording_channels()))
    row = shop_row(engine, NEW_SHOP)
    assert (row.name, row.currency) == ("Linen And Co", "EUR")
    [call] = [c for c in fake_shopify.graphql_calls if "ShopProfile" in c["query"]]
    assert call["errors"] == [] and call["shop"] == NEW_SHOP


def test_an_install_keeps_its_locations_names_when_read_locations_is_granted(
    client, engine, settings, fake_shopify
):
    fake_shopify.locations = {71: "Main warehouse", 72: "Shop floor"}
    assert client.get("/app/api/settings", headers=bearer(NEW_SHOP)).status_code == 200
    run(drain(settings, engine, recording_channels()))
    [call] = [c for c in fake_shopify.graphql_calls if "ShopLocations" in c["query"]]
    assert call["errors"] == [] and call["variables"] == {"after": None}
    with engine.connect() as connection:
        assert connection.execute(
            select(Location.location_id, Location.name).order_by(Location.location_id)
        ).all() == [(71, "Main warehouse"), (72, "Shop floor")]


def test_without_read_locations_the_names_are_not_asked_for(client, engine, settings, fake_shopify):
    fake_shopify.granted_scope = "read_products,read_inventory,read_orders,write_app_proxy"
    fake_shopify.locations = {71: "Main warehouse"}
    client.get("/app/api/settings", headers=bearer(NEW_SHOP))
    run(drain(settings, engine, recording_channels()))
    assert [c for c in fake_shopify.graphql_calls if "ShopLocations" in c["query"]] == []
    assert shop_row(engine, NEW_SHOP).name == "Linen And Co"  # the rest of the profile is read
    with engine.connect() as connection:
        assert connection.execute(select(Location.__table__)).all() == []
        assert connection.execute(select(Job.status)).scalars().all() == ["done"]


def restocked_email(client, engine, settings, locale="en", **shop_values):
    if shop_values:
        with engine.begin() as connection:
            connection.execute(update(Shop.__table__).values(**shop_values))
    signup(client, email="shopper@example.com", locale=locale)
    level_webhook(client, 3)
    channels = recording_channels()
    # In a thread of its own: a Chromium test's Playwright holds this thread's event loop.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(run, drain(settings, engine, channels)).result()
    [message] = channels["email"].sent
    return message


def test_the_alert_names_the_shop_prices_in_its_currency_and_carries_the_brand(
    client, engine, settings, fake_shopify
):
    setup_shop(engine, settings, fake_shopify)
    response = client.put(
        "/app/api/settings",
        json={
            "brand_logo_url": "https://cdn.shopify.com/s/files/logo.png",
            "brand_color": "#FFD700",
            "sender_name": "Linen Support",
        },
        headers=bearer(),
    )
    assert response.status_code == 200, response.text
    assert response.json()["brand_color"] == "#ffd700"
    message = restocked_email(client, engine, settings, name="Linen & Co", currency="EUR")
    html, text = message.html or "", message.text
    assert message.sender_name == "Linen Support"  # the From's display name only
    assert "alert at Linen &amp; Co." in html and "alert at Linen & Co." in text
    assert "Linen Support" not in html and "Linen Support" not in text
    assert "Price: €49.00" in text and "€49.00" in html  # the shop's currency, English
    assert '<img src="https://cdn.shopify.com/s/files/logo.png" alt="Linen &amp; Co"' in html
    assert 'src="https://cdn.example.com/linen-shirt.jpg"' in html  # the product image
    # Gold is too light for white text: the button's text turns dark.
    assert "background:#ffd700;color:#202223" in html
    assert "color:#616161" in html and "#8c9196" not in html
    assert contrast("#616161", "#ffffff") >= 4.5 and contrast("#ffd700", "#202223") >= 4.5
    assert "<" not in text  # the text part stands on its own


def test_the_price_follows_the_shoppers_locale(client, engine, settings, fake_shopify):
    setup_shop(engine, settings, fake_shopify)
    message = restocked_email(client, engine, settings, locale="de", currency="EUR")
    assert "Preis: 49,00\u00a0€" in message.text  # CLDR's German: comma, no-break space, € after


def test_without_brand_settings_the_button_is_shopify_green_with_white_text(
    client, engine, settings, fake_shopify
):
    setup_shop(engine, settings, fake_shopify)
    message = restocked_email(client, engine, settings)
    html = message.html or ""
    assert (
        "background:#008060;color:#ffffff" in html and '<img src="https://cdn.shopify' not in html
    )
    assert "alert at Demo Shop." in message.text  # no name read yet: from the domain
    assert "Price: 49.00" in message.text  # no currency known yet: the amount alone


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        (
            "brand_color",
            "red",
            "brand_color: must be a colour like #008060 (# and six hexadecimal digits)",
        ),
        (
            "brand_color",
            7,
            "brand_color: must be a colour like #008060 (# and six hexadecimal digits)",
        ),
        (
            "brand_logo_url",
            "javascript:alert(1)",
            "brand_logo_url: must be a web address starting with https:// (at most 2048 characters)",
        ),
        (
            "brand_logo_url",
            'https://x.example/a"onload="b',
            "brand_logo_url: must be a web address starting with https:// (at most 2048 characters)",
        ),
        (
            "brand_logo_url",
            "https://x.example/" + "a" * 2048,
            "brand_logo_url: must be a web address starting with https:// (at most 2048 characters)",
        ),
    ],
)
def test_bad_brand_settings_are_refused_and_change_nothing(
    client, engine, shop, field, value, error
):
    response = client.put("/app/api/settings", json={field: value}, headers=bearer())
    assert response.status_code == 400 and response.json() == {"errors": [error]}
    row = shop_row(engine)
    assert (row.brand_color, row.brand_logo_url) == (None, None)


@pytest.mark.parametrize("sender_name", [None, "Linen Support"])
def test_the_previews_from_is_the_sent_from(settings, shop, sender_name):
    mail_from = "Back in Stock <alerts@app.example>"
    app_settings = settings.model_copy(update={"MAIL_FROM": mail_from})
    with TestClient(create_app(app_settings), base_url="https://app.example.test") as client:
        body = client.post(
            "/app/api/settings/preview", json={"sender_name": sender_name}, headers=bearer()
        ).json()
    sent = EmailWriter(mail_from).from_named(sender_name).removeprefix("From: ")
    assert body["email"]["from"] == sent == f"{sender_name or 'Back in Stock'} <alerts@app.example>"


@pytest.mark.parametrize("width", [600, 375])
def test_the_alert_email_in_chromium(
    width, browser, client, engine, settings, fake_shopify, backend
):
    setup_shop(engine, settings, fake_shopify)
    message = restocked_email(
        client,
        engine,
        settings,
        name="Linen & Co",
        currency="USD",
        brand_color="#5c2d91",
        brand_logo_url="https://cdn.example.com/logo.svg",
    )
    ARTIFACTS.mkdir(exist_ok=True)
    page = browser.new_page(viewport={"width": width, "height": 900})
    # No network: the product image and the logo are drawn here, anything else is refused.
    images = {"linen-shirt.jpg": PRODUCT_IMAGE, "logo.svg": LOGO}
    page.route(
        "**/*",
        lambda route: (
            route.fulfill(content_type="image/svg+xml", body=images[name])
            if (name := route.request.url.rsplit("/", 1)[-1]) in images
            else route.abort()
        ),
    )
    page.set_content(message.html or "")
    assert page.locator("h1").inner_text() == "Good news: it's back"
    assert page.evaluate("document.documentElement.scrollWidth") <= width  # nothing sideways
    button = page.get_by_role("link", name="Buy it now")
    assert button.is_visible()
    image = page.locator('img[alt="Linen Shirt (Green / M)"]')
    assert image.evaluate("i => i.complete && i.naturalWidth") == 800  # drawn, not its alt text
    assert page.locator('img[alt="Linen & Co"]').evaluate("i => i.naturalWidth") == 160
    page.screenshot(path=ARTIFACTS / f"email-alert-{width}-{backend}.png", full_page=True)
    page.close()
