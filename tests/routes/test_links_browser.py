"""The unsubscribe page as a shopper sees it, in Debian's Chromium: choose, submit, read the
answer; screenshots under tests/artifacts/."""

import pytest

from shopify_app.app import create_app

from ..support import ARTIFACTS, api_signup, intent_statuses, serve_in_thread, unsubscribe_path


@pytest.mark.parametrize("width", [1024, 360])
def test_a_shopper_unsubscribes_from_everything(
    width, browser, client, engine, settings, shop, backend
):
    first, second = (
        api_signup(client, "ann@example.com", 1, locale="de"),
        api_signup(client, "ann@example.com", 2),
    )
    ARTIFACTS.mkdir(exist_ok=True)
    with serve_in_thread(create_app(settings, run_worker=False)) as base:
        page = browser.new_page(viewport={"width": width, "height": 720}, locale="de-DE")
        page.goto(base + unsubscribe_path(settings, first))
        assert page.locator("h1").inner_text() == "Abmelden"
        page.screenshot(
            path=str(ARTIFACTS / f"unsubscribe-ask-{width}-{backend}.png"), full_page=True
        )
        # Keyboard only: the shop's name (a link to its storefront), the radio group, the button.
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.textContent") == "Demo Shop"
        page.keyboard.press("Tab")
        page.keyboard.press("ArrowDown")
        assert page.locator("input[value=shop]").is_checked()
        page.keyboard.press("Tab")
        page.keyboard.press("Enter")
        page.wait_for_selector("text=Sie sind abgemeldet")
        page.screenshot(
            path=str(ARTIFACTS / f"unsubscribe-done-{width}-{backend}.png"), full_page=True
        )
    assert intent_statuses(engine) == {first: "unsubscribed", second: "unsubscribed"}
