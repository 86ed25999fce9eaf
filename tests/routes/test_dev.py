"""The development storefront (`/dev/storefront`) and its stand-in for Shopify's app proxy
(`/apps/back-in-stock/...`): only with APP_ENV=development; the stand-in signs as Shopify does."""

import asyncio
import re
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from shopify_app import devshop
from shopify_app.app import create_app
from shopify_app.config import Settings
from shopify_app.db import session_scope
from shopify_app.models import Intent, InventoryLevel, Shop, Variant, WebhookDelivery
from shopify_app.notify import channels as notify_channels
from shopify_app.notify.email import FileMailer
from shopify_app.notify.worker import Worker
from shopify_app.routes.dev import RESTOCK_UNITS
from shopify_app.verify import verify_proxy_signature

from ..support import API_KEY, API_SECRET, SECRET_KEY

SOLD_OUT = devshop.PRODUCTS[0].variants[1]
DEV_PATHS = [
    "/dev/storefront",
    "/dev",
    "/dev/extension/assets/notify-me.js",
    "/apps/back-in-stock/config",
    "/dev/outbox/x.eml",
]


@pytest.fixture
def dev_settings(database_url: str) -> Settings:
    return Settings(
        APP_ENV="development",
        SHOPIFY_API_KEY=API_KEY,
        SHOPIFY_API_SECRET=API_SECRET,
        SECRET_KEY=SECRET_KEY,
        DATABASE_URL=database_url,
        APP_URL="http://127.0.0.1:8000",
        WORKER_IN_PROCESS=False,
        RECONCILE_INTERVAL_SECONDS=0,
        SIGNUP_RATE_LIMIT="1000000/hour",
        SIGNUP_CONTACT_LIMIT="1000000/hour",
    ).check()


@pytest.fixture
def outbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "outbox"
    monkeypatch.setattr(notify_channels, "DEV_OUTBOX", folder)
    return folder


@pytest.fixture
def dev_client(dev_settings: Settings, outbox: Path):
    with TestClient(create_app(dev_settings), base_url="http://127.0.0.1:8000") as client:
        yield client


@pytest.mark.parametrize("path", DEV_PATHS)
def test_not_found_outside_development(client: TestClient, path: str) -> None:
    assert client.get(path).status_code == 404
    assert (
        client.post("/apps/back-in-stock/intents", data={"email": "a@example.com"}).status_code
        == 404
    )


def test_start_up_seeds_the_demo_shop_once(dev_settings: Settings, engine, outbox: Path) -> None:
    for _ in range(2):
        with TestClient(create_app(dev_settings)):
            pass
    with session_scope(engine) as session:
        shop = session.execute(select(Shop).where(Shop.domain == devshop.SHOP)).scalar_one()
        assert shop.is_installed
        variants = (
            session.execute(select(Variant).where(Variant.shop_id == shop.id)).scalars().all()
        )
        levels = session.execute(select(func.count()).select_from(InventoryLevel)).scalar_one()
    every = [v for p in devshop.PRODUCTS for v in p.variants]
    assert len(variants) == len(every)
    assert all(v.levels_synced_at is not None and v.inventory_item_id for v in variants)
    assert levels == len(every) * len(
        devshop.LOCATIONS
    )  # every location, so the worker never asks Shopify
    assert devshop.stock(engine)[SOLD_OUT.id] == 0


def test_storefront_renders_the_real_block(dev_client: TestClient) -> None:
    page = dev_client.get("/dev/storefront", params={"variant": SOLD_OUT.id, "locale": "fr"})
    assert page.status_code == 200
    assert 'action="/apps/back-in-stock/intents"' in page.text
    assert "Me prévenir du retour en stock" in page.text  # the fr locale file
    assert f'name="shopify_variant_id" value="{SOLD_OUT.id}"' in page.text
    assert re.search(r'<script src="/dev/extension/assets/notify-me\.js\?v=\d+" defer>', page.text)
    asset = dev_client.get("/dev/extension/assets/notify-me.js")
    assert asset.status_code == 200 and "javascript" in asset.headers["content-type"]
    assert dev_client.get("/dev/extension/assets/..%2F..%2Fpyproject.toml").status_code == 404
    assert dev_client.get("/dev/extension/assets/missing.js").status_code == 404
    # Without ?variant= the first available variant is selected, and the block is hidden.
    first = dev_client.get("/dev/storefront")
    assert re.search(r"<div\b[^>]*\bdata-bis\s[^>]*\shidden\b[^>]*>", first.text)


def test_storefront_without_the_block(dev_client: TestClient) -> None:
    """`?block=0`: the same product page without the block or its assets, to measure its cost."""
    page = dev_client.get("/dev/storefront", params={"variant": SOLD_OUT.id, "block": "0"})
    assert page.status_code == 200
    assert "Sage / M" in page.text and "Sold out" in page.text
    assert "data-bis" not in page.text
    assert "/apps/back-in-stock/intents" not in page.text
    assert "/dev/extension/assets/" not in page.text


def test_proxy_stand_in_signs_as_shopify_does(
    dev_client: TestClient, dev_settings: Settings
) -> None:
    seen: list[dict] = []

    async def echo(request: Request) -> JSONResponse:
        seen.append(
            {
                "query": request.scope["query_string"].decode(),
                "method": request.method,
                "body": (await request.body()).decode(),
                "headers": dict(request.headers),
            }
        )
        return JSONResponse({"ok": True}, headers={"Retry-After": "7", "Set-Cookie": "a=b"})

    dev_client.app.router.routes.insert(
        0, Route("/proxy/echo", echo, methods=["GET", "POST", "PUT"])
    )
    answer = dev_client.put(
        "/apps/back-in-stock/echo?x=1&x=2&shop=evil.myshopify.com&signature=forged",
        content="a=1&b=2",
        headers={"Content-Type": "application/x-www-form-urlencoded", "Cookie": "session=secret"},
    )
    assert answer.status_code == 200 and answer.json() == {"ok": True}
    assert answer.headers["retry-after"] == "7" and "set-cookie" not in answer.headers
    forwarded = seen[0]
    assert verify_proxy_signature(API_SECRET, forwarded["query"]) == devshop.SHOP
    query = httpx.QueryParams(forwarded["query"])
    assert query.get_list("x") == ["1", "2"] and query.get_list("shop") == [devshop.SHOP]
    assert query["logged_in_customer_id"] == "" and query["path_prefix"] == "/apps/back-in-stock"
    assert forwarded["method"] == "PUT" and forwarded["body"] == "a=1&b=2"
    assert forwarded["headers"]["content-type"] == "application/x-www-form-urlencoded"
    assert "cookie" not in forwarded["headers"] and forwarded["headers"]["x-forwarded-for"]


def test_signup_restock_and_alert_through_the_storefront(
    dev_client: TestClient, dev_settings: Settings, engine, outbox: Path
) -> None:
    signup = dev_client.post(
        "/apps/back-in-stock/intents",
        data={
            "shopify_variant_id": SOLD_OUT.id,
            "shopify_product_id": devshop.PRODUCTS[0].id,
            "channel": "email",
            "email": "ada@example.com",
            "locale": "en",
            "website": "",
        },
    )
    assert signup.status_code == 201, signup.text
    with session_scope(engine) as session:
        intent = session.execute(select(Intent)).scalar_one()
        assert (intent.shopify_variant_id, intent.source) == (SOLD_OUT.id, "proxy")

    restocked = dev_client.post(
        "/dev/storefront/stock",
        data={"variant": SOLD_OUT.id, "action": "restock"},
        follow_redirects=False,
    )
    assert restocked.status_code == 303 and "notice=no-worker" in restocked.headers["location"]
    with session_scope(engine) as session:  # the signed webhook was accepted and recorded
        assert session.execute(select(func.count()).select_from(WebhookDelivery)).scalar_one() == 1

    async def work() -> None:
        async with httpx.AsyncClient() as http:
            await Worker(dev_settings, engine, http, {"email": FileMailer(outbox)}).drain()

    asyncio.run(work())
    assert devshop.stock(engine)[SOLD_OUT.id] == RESTOCK_UNITS
    [eml] = outbox.glob("*.eml")
    page = dev_client.get("/dev/storefront", params={"variant": SOLD_OUT.id})
    assert "ada@example.com" in page.text and eml.name in page.text
    message = dev_client.get(f"/dev/outbox/{eml.name}")
    assert message.status_code == 200 and "Linen Shirt" in message.text
    html = dev_client.get(f"/dev/outbox/{eml.name}/html")
    assert html.status_code == 200 and "sandbox" in html.headers["content-security-policy"]
    assert dev_client.get("/dev/outbox/..%2Fsecret.eml").status_code == 404

    sold_out = dev_client.post(
        "/dev/storefront/stock",
        data={"variant": SOLD_OUT.id, "action": "sell_out"},
        follow_redirects=False,
    )
    assert sold_out.status_code == 303
    asyncio.run(work())
    assert devshop.stock(engine)[SOLD_OUT.id] == 0


def test_home_leads_a_newcomer_to_the_storefront(
    dev_client: TestClient, client: TestClient
) -> None:
    response = dev_client.get("/", follow_redirects=False)
    assert response.status_code == 302 and response.headers["location"] == "/dev/storefront"
    assert (
        client.get("/", follow_redirects=False).status_code == 200
    )  # production: "open it from Shopify"
