"""The theme app extension's block in headless Chromium (Debian's package, driven by Playwright;
never a downloaded browser) against the development storefront: the app runs for real on
127.0.0.1 with its worker, so a signup goes through the proxy stand-in to `/proxy/intents` and a
restock through the signed webhook to an email in `outbox/`. Screenshots of each state of the
form are written to tests/artifacts/."""

import base64
import re
from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy import select, update

from shopify_app import devshop, migrate
from shopify_app.app import create_app
from shopify_app.config import Settings
from shopify_app.db import make_engine, session_scope
from shopify_app.devshop import SHOP
from shopify_app.models import Intent, Shop
from shopify_app.notify import channels as notify_channels

from ..support import API_KEY, API_SECRET, ARTIFACTS, SECRET_KEY, free_port, serve_in_thread

SHIRT = devshop.PRODUCTS[0]
BEANIE = devshop.PRODUCTS[1]
SHIRT_SOLD_OUT, SHIRT_IN_STOCK = SHIRT.variants[1], SHIRT.variants[0]
BEANIE_SOLD_OUT = BEANIE.variants[0]
ANSWER = 15_000  # ms to wait for the app's answer on a busy 2-core machine

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="the playwright package is not installed"
)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _vapid_keys() -> tuple[str, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    private = key.private_numbers().private_value.to_bytes(32, "big")
    return _b64(private), _b64(
        key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    )


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """The app in development on a real port: a temporary SQLite file, the worker in process
    (so restocks send), the file mailer's outbox in a temporary folder, SMS and push configured
    (Twilio at a closed local port: no SMS is sent by these tests)."""
    folder = tmp_path_factory.mktemp("storefront")
    url = f"sqlite:///{folder / 'app.sqlite3'}"
    migrate.upgrade(url)
    port = free_port()
    private, public = _vapid_keys()
    settings = Settings(
        APP_ENV="development",
        SHOPIFY_API_KEY=API_KEY,
        SHOPIFY_API_SECRET=API_SECRET,
        SECRET_KEY=SECRET_KEY,
        DATABASE_URL=url,
        APP_URL=f"http://127.0.0.1:{port}",
        WORKER_IN_PROCESS=True,
        WORKER_POLL_INTERVAL=0.1,
        RECONCILE_INTERVAL_SECONDS=0,
        TWILIO_ACCOUNT_SID="ACtest",
        TWILIO_AUTH_TOKEN="test-token",
        TWILIO_FROM_NUMBER="+15005550006",
        TWILIO_API_BASE_URL=f"http://127.0.0.1:{free_port()}",
        VAPID_PRIVATE_KEY=private,
        VAPID_PUBLIC_KEY=public,
        VAPID_SUBJECT="mailto:dev@example.com",
    ).check()
    engine = make_engine(url)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(notify_channels, "DEV_OUTBOX", folder / "outbox")
        with serve_in_thread(create_app(settings), port=port) as base:
            yield {"base": base, "engine": engine, "outbox": folder / "outbox", "vapid": public}
    engine.dispose()


@pytest.fixture
def page(browser, app):
    context = browser.new_context(viewport={"width": 1180, "height": 900}, locale="en-US")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def shot(page, name: str) -> None:
    """The product column (where the block is) as the shopper sees it."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.locator(".info").screenshot(
        path=str(ARTIFACTS / f"storefront-{name}.png"), animations="disabled"
    )


def block(page):
    return page.locator("[data-bis]")


def status(page):
    return page.locator("[data-bis-status]")


def intents(app, **where) -> list[Intent]:
    with session_scope(app["engine"]) as session:
        query = select(Intent)
        for column, value in where.items():
            query = query.where(getattr(Intent, column) == value)
        return list(session.execute(query).scalars())


def test_sold_out_variant_shows_the_form_and_an_email_signup_is_stored(page, app) -> None:
    page.goto(f"{app['base']}/dev/storefront")
    sync_api.expect(page.locator("#variant-select")).to_have_value(str(SHIRT_IN_STOCK.id))
    sync_api.expect(block(page)).to_be_hidden()  # in stock: no form
    shot(page, "1-in-stock")

    page.select_option("#variant-select", str(SHIRT_SOLD_OUT.id))
    sync_api.expect(block(page)).to_be_visible()
    assert f"variant={SHIRT_SOLD_OUT.id}" in page.url
    # Push is offered once the proxy has served the VAPID key.
    sync_api.expect(page.locator("[data-bis-channel=push]")).to_be_visible(timeout=ANSWER)
    sync_api.expect(page.get_by_role("textbox", name="Email")).to_be_visible()
    assert page.locator("input[name=website]").get_attribute("tabindex") == "-1"
    shot(page, "2-form")

    page.get_by_role("textbox", name="Email").fill("ada@example.com")
    page.get_by_label("Also send me news and offers").check()
    page.get_by_role("button", name="Notify me").click()
    sync_api.expect(status(page)).to_have_text(
        "Thanks! We'll let you know as soon as it's back in stock.", timeout=ANSWER
    )
    sync_api.expect(page.locator("[data-bis-form]")).to_be_hidden()
    shot(page, "3-signed-up")
    [intent] = intents(app, email="ada@example.com")
    assert (intent.shopify_variant_id, intent.channel, intent.source) == (
        SHIRT_SOLD_OUT.id,
        "email",
        "proxy",
    )
    assert intent.accepts_marketing and intent.status == "pending"
    # The shopper's market (Liquid's `localization.market`) goes with the signup.
    assert intent.shopify_market_id == 90001

    # The same signup again: "already signed up", and still one signup.
    page.reload()
    page.get_by_role("textbox", name="Email").fill("ada@example.com")
    page.get_by_role("button", name="Notify me").click()
    sync_api.expect(status(page)).to_have_text(re.compile("already on the list"), timeout=ANSWER)
    shot(page, "4-already")
    assert len(intents(app, email="ada@example.com")) == 1

    # Back to an available variant: the block goes away.
    page.select_option("#variant-select", str(SHIRT_IN_STOCK.id))
    sync_api.expect(block(page)).to_be_hidden()


def test_empty_and_invalid_phone(page, app) -> None:
    """The SMS field (issue 16, item 7): each country with its dial code, the chosen one's code
    before the number and an example as placeholder and hint, the SMS consent text before signing
    up; an error sits under the field it is about."""
    page.goto(f"{app['base']}/dev/storefront?variant={SHIRT_SOLD_OUT.id}")
    page.get_by_label("Text message").check()
    phone = page.get_by_label("Mobile number")
    sync_api.expect(phone).to_be_visible()
    sync_api.expect(page.get_by_role("textbox", name="Email")).to_be_hidden()
    country = page.get_by_label("Country")
    sync_api.expect(country).to_have_value("US")  # the storefront's country
    sync_api.expect(country.locator("option[value=US]")).to_have_text("United States (+1)")
    dial = page.locator("[data-bis-dial]")
    sync_api.expect(dial).to_have_text("+1")
    sync_api.expect(phone).to_have_attribute("placeholder", "(201) 555-0123")
    sync_api.expect(page.locator("[data-bis-example]")).to_have_text("Example: (201) 555-0123")
    consent = page.locator("[data-bis-sms-consent]")
    sync_api.expect(consent).to_be_visible()
    sync_api.expect(consent).to_contain_text("Reply STOP to opt out.")
    sync_api.expect(consent).to_contain_text("from Demo Shop")
    described = phone.get_attribute("aria-describedby").split()
    assert consent.get_attribute("id") in described  # read with the field
    page.get_by_role("button", name="Notify me").click()
    error = page.locator("[data-bis-error-for=phone]")
    sync_api.expect(error).to_have_text("Please enter your mobile number.", timeout=ANSWER)
    sync_api.expect(status(page)).to_have_text("")  # said beside the field, not below the button
    sync_api.expect(phone).to_have_attribute("aria-errormessage", error.get_attribute("id"))
    shot(page, "5-phone-missing")

    country.select_option("GB")
    sync_api.expect(dial).to_have_text("+44")
    sync_api.expect(phone).to_have_attribute("placeholder", "07400 123456")
    phone.fill("12")
    sync_api.expect(error).to_be_hidden()  # typing clears it
    page.get_by_role("button", name="Notify me").click()
    sync_api.expect(error).to_have_text(
        "Please enter a valid mobile number for the country you chose.", timeout=ANSWER
    )
    sync_api.expect(phone).to_have_attribute("aria-invalid", "true")
    sync_api.expect(phone).to_be_focused()
    shot(page, "6-phone-invalid")
    page.set_viewport_size({"width": 390, "height": 844})  # a phone
    shot(page, "6-phone-invalid-mobile")
    assert not intents(app, channel="sms")

    phone.fill("07400 123456")  # a UK mobile, given without its country code
    page.get_by_role("button", name="Notify me").click()
    sync_api.expect(status(page)).to_have_text(re.compile("^Thanks!"), timeout=ANSWER)
    [intent] = intents(app, channel="sms")
    assert intent.phone == "+447400123456"


def test_the_sms_consent_text_is_translated(page, app) -> None:
    page.goto(f"{app['base']}/dev/storefront?variant={SHIRT_SOLD_OUT.id}&locale=de")
    page.locator("[data-bis-channel=sms] input").check()
    consent = page.locator("[data-bis-sms-consent]")
    sync_api.expect(consent).to_contain_text("Antworten Sie STOP")
    # The German storefront's country, Germany: its code and a German mobile number.
    sync_api.expect(page.locator("[data-bis-dial]")).to_have_text("+49")
    sync_api.expect(page.locator("[data-bis-example]")).to_have_text("Beispiel: 01512 3456789")


def test_keyboard_only(page, app) -> None:
    page.goto(f"{app['base']}/dev/storefront")
    page.locator("#variant-select").focus()  # where a keyboard user arrives after the breadcrumbs
    page.keyboard.press("ArrowDown")  # Sage / M, sold out
    sync_api.expect(block(page)).to_be_visible()

    order = []
    for _ in range(12):
        page.keyboard.press("Tab")
        order.append(
            page.evaluate(
                "(() => { const el = document.activeElement;"
                " return el.name || el.getAttribute('type') || el.tagName.toLowerCase(); })()"
            )
        )
        if order[-1] == "submit":
            break
    # The channel choice, then the address, the consent box and the button; never the honeypot.
    assert order == ["channel", "email", "accepts_marketing", "submit"], order
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Shift+Tab")
    page.keyboard.type("grace@example.com")
    sync_api.expect(page.get_by_role("textbox", name="Email")).to_be_focused()
    shot(page, "7-keyboard-focus")
    page.keyboard.press("Enter")
    sync_api.expect(status(page)).to_have_text(re.compile("^Thanks!"), timeout=ANSWER)
    sync_api.expect(status(page)).to_be_focused()  # focus is not lost when the form goes away
    assert intents(app, email="grace@example.com")

    # A theme that announces variant changes with an event instead of its form.
    page.evaluate(
        """id => window.dispatchEvent(new CustomEvent('variant:change', {detail: {variant: {id}}}))""",
        SHIRT_IN_STOCK.id,
    )
    sync_api.expect(block(page)).to_be_hidden()


def test_shopper_language(page, app) -> None:
    page.goto(f"{app['base']}/dev/storefront?variant={SHIRT_SOLD_OUT.id}&locale=fr")
    page.get_by_role("textbox", name="E-mail").fill("pas-une-adresse@")
    page.get_by_role("button", name="Me prévenir").click()
    sync_api.expect(page.locator("[data-bis-error-for=email]")).to_have_text(
        "Veuillez saisir une adresse e-mail valide.", timeout=ANSWER
    )
    page.get_by_role("textbox", name="E-mail").fill("zoe@example.fr")
    page.get_by_role("button", name="Me prévenir").click()
    sync_api.expect(status(page)).to_have_text(re.compile("^Merci !"), timeout=ANSWER)
    shot(page, "8-french")
    [intent] = intents(app, email="zoe@example.fr")
    assert intent.shopify_variant_id == SHIRT_SOLD_OUT.id
    assert intent.shopify_market_id == 90002  # France: the development shop's other market


def test_push_registers_the_service_worker_through_the_proxy(page, app) -> None:
    page.context.grant_permissions(["notifications"])
    page.goto(f"{app['base']}/dev/storefront?variant={SHIRT_SOLD_OUT.id}")
    page.get_by_label("Browser notification").check()
    sync_api.expect(page.locator("[data-bis-for=push]")).to_be_visible()
    page.get_by_role("button", name="Notify me").click()
    # Headless Chromium has no push service to subscribe with: the shopper is told to pick another way.
    sync_api.expect(status(page)).not_to_have_text(re.compile(r"^(|Sending…)$"), timeout=ANSWER)
    scope = page.evaluate(
        "navigator.serviceWorker.getRegistration('/apps/back-in-stock/').then(r => r && r.scope)"
    )
    assert scope == f"{app['base']}/apps/back-in-stock/"
    shot(page, "9-push")


def test_restock_sends_the_alert(page, app) -> None:
    page.goto(f"{app['base']}/dev/storefront?product={BEANIE.handle}&variant={BEANIE_SOLD_OUT.id}")
    page.get_by_role("textbox", name="Email").fill("lin@example.com")
    page.get_by_role("button", name="Notify me").click()
    sync_api.expect(status(page)).to_have_text(re.compile("^Thanks!"), timeout=ANSWER)

    page.locator(f"[data-restock='{BEANIE_SOLD_OUT.id}']").click()
    alerts = page.locator("[data-alerts]")
    sync_api.expect(alerts).to_contain_text("lin@example.com", timeout=ANSWER)
    sync_api.expect(alerts).to_contain_text("Merino Beanie")
    sync_api.expect(block(page)).to_be_hidden()  # back in stock: no form
    sync_api.expect(page.locator(".add")).to_have_text("Add to cart")
    page.locator("#devtools").screenshot(path=str(ARTIFACTS / "storefront-10-restocked-alerts.png"))
    assert [i.status for i in intents(app, email="lin@example.com")] == ["notified"]
    assert any(
        "lin@example.com" in p.read_text(errors="replace") for p in app["outbox"].glob("*.eml")
    )

    alerts.locator("a").first.click()
    sync_api.expect(page.locator("dl")).to_contain_text("List-Unsubscribe")

    # Sold out again: the form is back for the next shopper.
    page.goto(f"{app['base']}/dev/storefront?product={BEANIE.handle}&variant={BEANIE_SOLD_OUT.id}")
    page.locator(f"[data-sell-out='{BEANIE_SOLD_OUT.id}']").click()
    sync_api.expect(page.locator(".add")).to_have_text("Sold out", timeout=ANSWER)
    sync_api.expect(block(page)).to_be_visible()


# -- The block's DOM events (issue 18, item 11) and its SMS countries (item 6) ----------------------
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
