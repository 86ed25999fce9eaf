"""The admin's "Privacy requests" page in Debian's headless Chromium: customer data requests listed
for the merchant, a ready one downloaded as its JSON file through the session token, another
shop's not shown. Screenshots: tests/artifacts/admin-privacy-*."""

import json
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from shopify_app import data_requests
from shopify_app.app import create_app
from shopify_app.db import session_scope
from shopify_app.models import DataRequest, Shop, utcnow

from ..support import ARTIFACTS, install_shop, serve_in_thread
from .data import add_delivery, add_intents
from .tokens import OTHER, open_page


@pytest.fixture
def privacy_admin(engine, settings, shop):
    """Three requests for the shop (two assembled, one still with the worker) and one of another shop."""
    other = install_shop(engine, settings, OTHER)
    with engine.connect() as connection:
        shop_id = connection.execute(
            select(Shop.__table__.c.id).where(Shop.__table__.c.domain == shop)
        ).scalar_one()
    sent = add_intents(engine, shop_id, 2, status="notified")
    add_delivery(engine, shop_id, sent[0])
    with session_scope(engine) as session:
        ids = [
            data_requests.file(
                session,
                shop_id,
                shopify_request_id=9000 + n,
                email=f"shopper{n}@example.com",
                phone=None,
                shopify_customer_id=None,
            )
            for n in range(3)
        ]
        data_requests.file(
            session,
            other,
            shopify_request_id=1,
            email="shopper0@example.com",
            phone=None,
            shopify_customer_id=None,
        )
    for request_id in ids[:2]:
        with session_scope(engine) as session:
            data_requests.make_ready(session, request_id)
    with session_scope(engine) as session:  # received at different times, newest first on the page
        for n, request_id in enumerate(ids):
            session.execute(
                update(DataRequest)
                .where(DataRequest.id == request_id)
                .values(requested_at=utcnow() - timedelta(hours=3 - n))
            )
    with serve_in_thread(create_app(settings, run_worker=False)) as base:
        yield base, ids


@pytest.mark.parametrize("width", [1280, 375])
def test_the_privacy_page_lists_requests_and_downloads_one(width, browser, privacy_admin, backend):
    base, ids = privacy_admin
    ARTIFACTS.mkdir(exist_ok=True)
    page = open_page(browser, base, "privacy", width=width)
    assert page.locator("h1").inner_text() == "Privacy requests"
    assert page.locator("nav.tabs a[aria-current=page]").inner_text() == "Privacy requests"
    rows = page.locator("#data-requests tbody tr")
    assert rows.count() == 3  # not the other shop's
    assert [rows.nth(i).get_attribute("data-request") for i in range(3)] == [
        str(i) for i in reversed(ids)
    ]
    assert (
        "Being prepared" in rows.nth(0).inner_text() and "Not ready yet" in rows.nth(0).inner_text()
    )
    assert "Shopify request 9000" in rows.nth(2).inner_text()
    assert "shopper" not in page.locator("#data-requests").inner_text()  # the list names no one
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    page.screenshot(path=str(ARTIFACTS / f"admin-privacy-{width}-{backend}.png"), full_page=True)

    with page.expect_download() as download:
        page.locator(f"tr[data-request='{ids[0]}'] a[data-download]").click()
    assert download.value.suggested_filename == f"data-request-{ids[0]}.json"
    data = json.loads(Path(download.value.path()).read_text())
    assert data["customer_as_requested"]["email"] == "shopper0@example.com"
    assert [c["email"] for c in data["customers"]] == ["shopper0@example.com"]
    assert [(s["status"], s["email"]) for s in data["signups"]] == [
        ("notified", "shopper0@example.com")
    ]
    assert [(m["kind"], m["address"], m["status"]) for m in data["messages"]] == [
        ("alert", "shopper0@example.com", "sent")
    ]
    assert page.locator("#flash.error").count() == 0
    page.close()


def test_an_empty_list_says_so(browser, engine, settings, shop, backend):
    with serve_in_thread(create_app(settings, run_worker=False)) as base:
        page = open_page(browser, base, "privacy")
        assert page.locator("p.empty").inner_text() == "No customer has asked for their data."
        page.close()
