"""The block's DOM events (issue 18, item 11) and its SMS countries (item 6) in headless Chromium,
against the development storefront (the app for real on 127.0.0.1, as in test_storefront.py):
`back-in-stock:loaded`, `:submitted` and `:error` bubble from the block's root with product,
variant and channel (and the messages shown); the country list offers only the shop's SMS
countries."""

import re

import pytest
from sqlalchemy import update

from shopify_app.db import session_scope
from shopify_app.devshop import SHOP
from shopify_app.models import Shop

from .test_storefront import ANSWER, SHIRT, SHIRT_SOLD_OUT, app, intents, page, shot, status

__all__ = ["app", "page"]  # the fixtures, shared with test_storefront.py

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="the playwright package is not installed"
)

# Recorded from the start, on the document (the events bubble), as a theme's script would listen.
LISTEN = """
window.bisEvents = [];
['loaded', 'submitted', 'error'].forEach((name) => document.addEventListener('back-in-stock:' + name,
  (e) => window.bisEvents.push({type: e.type, detail: e.detail, bubbles: e.bubbles,
    fromRoot: e.target.matches('[data-bis]'), custom: e instanceof CustomEvent})));
"""


def seen(page) -> list[dict]:
    return page.evaluate("window.bisEvents")


def wait_for(page, count: int) -> list[dict]:
    page.wait_for_function(f"window.bisEvents.length >= {count}", timeout=ANSWER)
    return seen(page)


def set_sms_countries(app, countries) -> None:
    with session_scope(app["engine"]) as session:
        session.execute(update(Shop).where(Shop.domain == SHOP).values(sms_countries=countries))


@pytest.fixture
def sms_countries(app):
    yield lambda countries: set_sms_countries(app, countries)
    set_sms_countries(app, None)


def test_the_block_tells_the_page_what_happens(page, app) -> None:
    page.add_init_script(LISTEN)
    page.goto(f"{app['base']}/dev/storefront?variant={SHIRT_SOLD_OUT.id}")
    [loaded] = wait_for(page, 1)
    product, variant = str(SHIRT.id), str(SHIRT_SOLD_OUT.id)
    assert loaded == {
        "type": "back-in-stock:loaded",
        "detail": {"product": product, "variant": variant, "channel": "email"},
        "bubbles": True,
        "fromRoot": True,
        "custom": True,
    }

    page.get_by_role("textbox", name="Email").fill("not-an-address@")
    page.get_by_role("button", name="Notify me").click()
    error = wait_for(page, 2)[1]
    assert error["type"] == "back-in-stock:error" and error["fromRoot"]
    assert error["detail"] == {
        "product": product,
        "variant": variant,
        "channel": "email",
        "messages": ["Please enter a valid email address."],
    }
    sync_api.expect(page.locator("[data-bis-error-for=email]")).to_have_text(
        error["detail"]["messages"][0]
    )

    page.get_by_label("Text message").check()
    page.get_by_label("Country").select_option("GB")
    page.get_by_label("Mobile number").fill("07400 123457")
    page.get_by_role("button", name="Notify me").click()
    sync_api.expect(status(page)).to_have_text(re.compile("^Thanks!"), timeout=ANSWER)
    submitted = wait_for(page, 3)[2]
    assert submitted["type"] == "back-in-stock:submitted" and submitted["fromRoot"]
    assert submitted["detail"] == {
        "product": product,
        "variant": variant,
        "channel": "sms",
        "created": True,
    }
    assert [i.phone for i in intents(app, channel="sms", phone="+447400123457")]
    shot(page, "11-events-submitted")


def test_only_the_shops_sms_countries_are_offered(page, app, sms_countries) -> None:
    sms_countries(["CA", "GB", "JP"])  # not the storefront's US; JP not among its countries
    page.add_init_script(LISTEN)
    page.goto(f"{app['base']}/dev/storefront?variant={SHIRT_SOLD_OUT.id}")
    wait_for(page, 1)  # the config is read
    page.get_by_label("Text message").check()
    country = page.get_by_label("Country")
    options = country.locator("option")
    sync_api.expect(options).to_have_count(3)
    assert sorted(options.evaluate_all("os => os.map(o => o.value)")) == ["CA", "GB", "JP"]
    sync_api.expect(country.locator("option[value=JP]")).to_have_text("Japan (+81)")
    sync_api.expect(country).to_have_value("CA")  # US may not be chosen: the first, by name
    sync_api.expect(page.locator("[data-bis-dial]")).to_have_text("+1")
    shot(page, "12-sms-countries")

    # A number from elsewhere typed with its code: refused, said beside the field, and an event.
    phone = page.get_by_label("Mobile number")
    phone.fill("+1 201 555 0147")  # New Jersey, USA
    page.get_by_role("button", name="Notify me").click()
    error = page.locator("[data-bis-error-for=phone]")
    sync_api.expect(error).to_have_text(
        "Text alerts are not available for numbers from this country.", timeout=ANSWER
    )
    last = wait_for(page, 2)[-1]
    assert last["type"] == "back-in-stock:error"
    assert last["detail"]["channel"] == "sms"
    assert last["detail"]["messages"] == [
        "Text alerts are not available for numbers from this country."
    ]
    assert not intents(app, phone="+12015550147")
    shot(page, "13-sms-country-refused")

    country.select_option("JP")
    phone.fill("090-1234-5679")
    page.get_by_role("button", name="Notify me").click()
    sync_api.expect(status(page)).to_have_text(re.compile("^Thanks!"), timeout=ANSWER)
    assert intents(app, phone="+819012345679")


def test_every_country_while_the_shop_limits_none(page, app) -> None:
    page.goto(f"{app['base']}/dev/storefront?variant={SHIRT_SOLD_OUT.id}")
    page.get_by_label("Text message").check()
    sync_api.expect(page.get_by_label("Country")).to_have_value("US")
    assert page.get_by_label("Country").locator("option").count() > 3
