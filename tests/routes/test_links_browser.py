"""The unsubscribe page as a shopper sees it, in Debian's Chromium: choose, submit, read the
answer; screenshots under tests/artifacts/."""

import shutil
from pathlib import Path

import pytest

from shopify_app.app import create_app

from ..support import serve_in_thread
from .test_links import path, signup, statuses

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
if not Path(CHROMIUM).exists():
    pytest.skip(
        "Debian's chromium is not installed (apt-get install chromium)", allow_module_level=True
    )


@pytest.fixture
def browser():
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield browser
        browser.close()


@pytest.mark.parametrize("width", [1024, 360])
def test_a_shopper_unsubscribes_from_everything(
    width, browser, client, engine, settings, shop, backend
):
    first, second = (
        signup(client, "ann@example.com", 1, locale="de"),
        signup(client, "ann@example.com", 2),
    )
    ARTIFACTS.mkdir(exist_ok=True)
    with serve_in_thread(create_app(settings, run_worker=False)) as base:
        page = browser.new_page(viewport={"width": width, "height": 720}, locale="de-DE")
        page.goto(base + path(settings, first))
        assert page.locator("h1").inner_text() == "Abmelden"
        page.screenshot(
            path=str(ARTIFACTS / f"unsubscribe-ask-{width}-{backend}.png"), full_page=True
        )
        page.keyboard.press("Tab")  # keyboard only: the radio group, then the button
        page.keyboard.press("ArrowDown")
        assert page.locator("input[value=shop]").is_checked()
        page.keyboard.press("Tab")
        page.keyboard.press("Enter")
        page.wait_for_selector("text=Sie sind abgemeldet")
        page.screenshot(
            path=str(ARTIFACTS / f"unsubscribe-done-{width}-{backend}.png"), full_page=True
        )
    assert statuses(engine) == {first: "unsubscribed", second: "unsubscribed"}
