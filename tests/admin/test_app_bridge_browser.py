"""The admin inside Shopify (issue 16, items 1 and 4), in Debian's Chromium with a fake App Bridge
served in place of Shopify's app-bridge.js (tests/admin/fake_app_bridge.js: the CDN is out of
reach here): the pages go into the admin's nav menu and title bar (no in-page tabs), results are
toasts, confirmations App Bridge's modal, settings use the contextual save bar; a page loaded
without a session gets one from App Bridge. Without App Bridge the same pages keep a compact
fallback, and leaving unsaved settings asks first. "Notify now" and "Send all held" on a product
out of stock ask first, naming the stock. Screenshots: tests/artifacts/admin-bridge-*."""

import pytest
from sqlalchemy import select, update

from shopify_app.app import create_app
from shopify_app.models import Intent, Shop

from ..support import ARTIFACTS, serve_in_thread
from .data import add_delivery, add_intents, add_variant
from .tokens import APP_BRIDGE, FAKE_APP_BRIDGE, SHOP, answer_confirmation, open_page, session_token

NAV = [
    ("Dashboard", "/app", "home"),
    ("Products in demand", "/app/demand", None),
    ("Signups", "/app/signups", None),
    ("Delivery log", "/app/deliveries", None),
    ("Privacy requests", "/app/privacy", None),
    ("Settings", "/app/settings", None),
]


@pytest.fixture
def admin(engine, settings, shop):
    with engine.connect() as connection:
        shop_id = connection.execute(select(Shop.__table__.c.id)).scalar_one()
    add_intents(engine, shop_id, 3)  # variant 1001: "Linen shirt – Blue / M", 0 in stock
    add_variant(engine, shop_id, 1001, sellable=0)
    add_intents(engine, shop_id, 2, variant=2002, product_title="Wool beanie", start=10)
    add_variant(engine, shop_id, 2002, sellable=4)
    with serve_in_thread(create_app(settings, run_worker=False)) as base:
        yield base, shop_id


def bridge(page) -> dict:
    return page.evaluate("window.__bridge")


@pytest.mark.parametrize("width", [1280, 375])
def test_in_the_admin_the_pages_use_its_nav_menu_and_title_bar(width, browser, admin, backend):
    base, _ = admin
    ARTIFACTS.mkdir(exist_ok=True)
    page = open_page(browser, base, "signups", width=width, bridge=True)
    assert page.evaluate("document.documentElement.classList.contains('bridged')")
    assert page.locator("nav.tabs").is_hidden() and page.locator("#bridge-note").is_hidden()
    record = bridge(page)
    assert [(n["label"], n["href"], n["rel"]) for n in record["navMenu"]] == NAV
    assert record["titles"] == ["Signups"]
    assert page.locator("h1").evaluate("h => h.getBoundingClientRect().width") <= 1  # the admin's
    # title bar says it; the heading stays for screen readers
    page.screenshot(path=ARTIFACTS / f"admin-bridge-signups-{width}-{backend}.png", full_page=True)
    page.close()


def test_standalone_the_pages_keep_a_compact_fallback(browser, admin, backend):
    base, _ = admin
    page = open_page(browser, base, "signups", width=375)
    note = page.locator("#bridge-note")
    assert note.is_visible() and page.locator("nav.tabs").is_visible()
    assert note.evaluate("n => n.getBoundingClientRect().height") < 24  # one line, not a banner
    page.screenshot(path=ARTIFACTS / f"admin-bridge-standalone-375-{backend}.png", full_page=True)
    page.close()


def test_results_are_toasts_and_confirmations_app_bridges_modal(browser, admin, engine):
    base, _ = admin
    page = open_page(browser, base, "signups", bridge=True)
    row = page.locator("tr", has=page.locator("button[data-delete]")).first
    victim = int(row.get_attribute("data-intent"))
    row.locator("button[data-delete]").click()
    page.locator("ui-modal#confirm-modal[open]").wait_for()
    [modal] = bridge(page)["modals"]
    assert modal["title"] == "Delete this signup?" and "cannot be brought back" in modal["text"]
    page.locator("#confirm-modal-cancel").click()  # cancelled: nothing happens
    assert page.locator(f"tr[data-intent='{victim}']").count() == 1
    row.locator("button[data-delete]").click()
    page.locator("#confirm-modal-ok").click()
    page.wait_for_function("window.__bridge.toasts.length > 0")
    assert bridge(page)["toasts"] == [{"message": "Signup deleted", "isError": False}]
    assert (
        page.locator("#flash").is_hidden()
        and page.locator(f"tr[data-intent='{victim}']").count() == 0
    )
    with engine.connect() as connection:
        assert (
            connection.execute(
                select(Intent.__table__.c.id).where(Intent.__table__.c.id == victim)
            ).first()
            is None
        )
    page.close()


def test_notify_now_out_of_stock_asks_first_naming_the_stock(browser, admin, engine):
    base, _ = admin
    page = open_page(browser, base, "signups")
    in_stock = page.locator("button[data-notify][data-stock='4']").first
    in_stock.click()  # 4 in stock: sent without a question
    page.wait_for_selector("#flash.ok")
    assert page.locator("dialog#confirm-dialog[open]").count() == 0
    empty = page.locator("button[data-notify][data-stock='0']").first
    intent_id = int(empty.get_attribute("data-notify"))
    empty.click()
    text = answer_confirmation(page, accept=False)
    assert "Linen shirt – Blue / M has 0 in stock." in text and "Send anyway" in text
    assert status(engine, intent_id) == "pending"  # declined: nothing sent
    empty.click()
    answer_confirmation(page)
    page.wait_for_function(
        f"document.querySelector(\"tr[data-intent='{intent_id}'] .badge\").textContent === 'Notified'"
    )
    assert status(engine, intent_id) == "notified"
    page.close()


def test_send_all_held_names_what_is_out_of_stock(browser, engine, settings, shop):
    with engine.begin() as connection:
        connection.execute(update(Shop.__table__).values(automatic_sending=False))
        shop_id = connection.execute(select(Shop.__table__.c.id)).scalar_one()
    for intent_id in add_intents(engine, shop_id, 2):
        add_delivery(engine, shop_id, intent_id, status="held")
    add_variant(engine, shop_id, 1001, sellable=0)
    with serve_in_thread(create_app(settings, run_worker=False)) as base:
        page = open_page(browser, base, "signups", bridge=True)
        page.locator("button[data-send-held]").click()
        page.locator("ui-modal#confirm-modal[open]").wait_for()
        [modal] = bridge(page)["modals"]
        assert modal["title"] == "Send all 2 held alerts?"
        assert "Out of stock now: Linen shirt – Blue / M (0 in stock)." in modal["text"]
        assert page.locator("#confirm-modal-ok").inner_text() == "Send anyway"
        page.locator("#confirm-modal-ok").click()
        page.wait_for_function("window.__bridge.toasts.length > 0")
        assert bridge(page)["toasts"] == [{"message": "2 held alerts on the way", "isError": False}]
        page.close()


def test_settings_use_the_contextual_save_bar(browser, admin, engine):
    base, _ = admin
    page = open_page(browser, base, "settings", bridge=True)
    assert page.locator("form#settings-form[data-save-bar][data-discard-confirmation]").count() == 1
    page.fill("#min_restock_quantity", "3")
    assert bridge(page)["saveBar"] == ["show"]
    page.locator("form#settings-form").evaluate("f => f.requestSubmit()")  # the bar's Save
    page.wait_for_function("window.__bridge.toasts.length > 0")
    assert bridge(page)["saveBar"] == ["show", "hide"]
    assert bridge(page)["toasts"] == [{"message": "Settings saved", "isError": False}]
    with engine.connect() as connection:
        assert connection.execute(select(Shop.__table__.c.min_restock_quantity)).scalar_one() == 3
    page.fill("#min_restock_quantity", "9")
    page.locator("form#settings-form").evaluate("f => f.reset()")  # the bar's Discard
    assert page.locator("#min_restock_quantity").input_value() == "1"  # as the page was served
    page.close()


def test_standalone_leaving_unsaved_settings_asks_first(browser, admin, backend):
    base, _ = admin
    page = open_page(browser, base, "settings")
    page.fill("#min_restock_quantity", "7")
    page.locator("nav.tabs a", has_text="Signups").click()
    page.locator("dialog#confirm-dialog[open]").wait_for()
    page.screenshot(path=ARTIFACTS / f"admin-bridge-leave-settings-{backend}.png")
    text = answer_confirmation(page, accept=False)
    assert "Leave without saving?" in text and "Your changes to the settings will be lost." in text
    assert (
        "/app/settings" in page.url and page.locator("#min_restock_quantity").input_value() == "7"
    )
    page.screenshot(path=ARTIFACTS / f"admin-bridge-leave-settings-{backend}.png")
    page.locator("nav.tabs a", has_text="Signups").click()
    answer_confirmation(page)
    page.wait_for_url("**/app/signups**")
    page.close()


def test_a_page_loaded_without_a_session_gets_one_from_app_bridge(browser, admin):
    base, _ = admin
    page = browser.new_page()
    page.route(
        APP_BRIDGE,
        lambda route: route.fulfill(content_type="text/javascript", body=FAKE_APP_BRIDGE),
    )
    token = session_token(ttl=600)
    page.add_init_script(f"window.__bridgeToken = {token!r};")
    page.goto(f"{base}/app/deliveries?shop={SHOP}")  # as App Bridge's nav menu loads a page
    page.wait_for_url("**/app/deliveries?**id_token=**")
    assert page.locator("h1").inner_text() == "Delivery log"
    page.close()


def status(engine, intent_id: int) -> str:
    with engine.connect() as connection:
        return connection.execute(
            select(Intent.__table__.c.status).where(Intent.__table__.c.id == intent_id)
        ).scalar_one()
