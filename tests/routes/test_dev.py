"""The development storefront (`/dev/storefront`) and its stand-in for Shopify's app proxy
(`/apps/back-in-stock/...`): only with APP_ENV=development; the stand-in signs as Shopify does."""

import asyncio
import json
import re
import time
from pathlib import Path

import httpx
import jwt
import pytest
from sqlalchemy import func, select
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from shopify_app import devshop, oauth
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
    "/dev/outbox/x.sms.txt",
    "/dev/admin",
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


PHONE = "+14155550123"
PUSH_SUBSCRIPTION = {
    "endpoint": "https://fcm.googleapis.com/fcm/send/dev-storefront-test",
    "keys": {
        "p256dh": "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM",
        "auth": "tBHItJI5svbpez7KI4CCXg",
    },
}


@pytest.fixture
def serving_client(dev_settings: Settings, outbox: Path):
    """The app as `APP_ENV=development shopify-app serve` runs it: no Twilio, VAPID or SMTP
    settings, the worker in process with the channels it builds itself."""
    settings = dev_settings.model_copy(
        update={"WORKER_IN_PROCESS": True, "WORKER_POLL_INTERVAL": 0.1}
    )
    with TestClient(create_app(settings), base_url="http://127.0.0.1:8000") as client:
        yield client


def _signup(client: TestClient, channel: str, **fields: str) -> None:
    answer = client.post(
        "/apps/back-in-stock/intents",
        data={
            "shopify_variant_id": SOLD_OUT.id,
            "shopify_product_id": devshop.PRODUCTS[0].id,
            "channel": channel,
            "locale": "en",
            "website": "",
            **fields,
        },
    )
    assert answer.status_code == 201, answer.text


def test_without_credentials_sms_and_push_are_offered_and_written_to_the_outbox(
    serving_client: TestClient, outbox: Path, engine
) -> None:
    config = serving_client.get("/apps/back-in-stock/config").json()
    assert config["channels"] == {"email": True, "sms": True, "push": True}
    assert config["vapid_public_key"]  # the block can subscribe a browser
    _signup(serving_client, "sms", phone=PHONE, country="US")
    _signup(serving_client, "push", push=json.dumps(PUSH_SUBSCRIPTION))
    _signup(serving_client, "email", email="ada@example.com")

    restocked = serving_client.post(
        "/dev/storefront/stock",
        data={"variant": SOLD_OUT.id, "action": "restock"},
        follow_redirects=False,
    )
    assert restocked.status_code == 303
    assert "notice=stock-changed" in restocked.headers["location"]  # the worker has sent them all

    [sms] = outbox.glob("*.sms.txt")
    head, _, body = sms.read_text(encoding="utf-8").partition("\n\n")
    assert head == f"To: {PHONE}"
    assert f"Linen Shirt ({SOLD_OUT.title}) is back in stock" in body
    assert f"/products/linen-shirt?variant={SOLD_OUT.id}" in body and "Reply STOP" in body
    [push] = outbox.glob("*.push.json")
    written = json.loads(push.read_text(encoding="utf-8"))
    assert set(written) == {"endpoint", "payload"}
    assert written["endpoint"] == PUSH_SUBSCRIPTION["endpoint"]
    assert written["payload"]["title"] == "Back in stock"
    assert written["payload"]["body"] == f"Linen Shirt ({SOLD_OUT.title}) is available again."
    assert written["payload"]["url"].endswith(f"/products/linen-shirt?variant={SOLD_OUT.id}")
    assert len(list(outbox.glob("*.eml"))) == 1
    with session_scope(engine) as session:
        stored = {i.channel: i.status for i in session.execute(select(Intent)).scalars()}
    assert stored == {"email": "notified", "sms": "notified", "push": "notified"}

    page = serving_client.get("/dev/storefront", params={"variant": SOLD_OUT.id}).text
    for name in (sms.name, push.name):
        assert f'href="/dev/outbox/{name}"' in page
    assert page.count('data-alert-channel="Text message"') == 1
    assert page.count('data-alert-channel="Browser notification"') == 1
    assert "a browser via fcm.googleapis.com" in page and PHONE in page
    shown_sms = serving_client.get(f"/dev/outbox/{sms.name}")
    assert shown_sms.status_code == 200 and "Text message" in shown_sms.text
    assert PHONE in shown_sms.text and "Linen Shirt" in shown_sms.text
    shown_push = serving_client.get(f"/dev/outbox/{push.name}")
    assert shown_push.status_code == 200 and "Browser notification" in shown_push.text
    assert PUSH_SUBSCRIPTION["endpoint"] in shown_push.text
    assert serving_client.get(f"/dev/outbox/{sms.name}/html").status_code == 404
    assert serving_client.get("/dev/outbox/..%2Fx.sms.txt").status_code == 404


def test_dev_admin_opens_the_demo_shops_dashboard_without_shopify(
    dev_settings: Settings, outbox: Path, engine, fake_shopify
) -> None:
    # A demo shop stored by an earlier version (a non-expiring placeholder token): the start-up
    # makes it one that never sends the admin to Shopify's token exchange.
    oauth.store_shop(
        engine, dev_settings, devshop.SHOP, oauth.Grant(devshop.PLACEHOLDER_TOKEN, "read_products")
    )
    settings = dev_settings.model_copy(
        update={"SHOPIFY_ADMIN_BASE_URL": fake_shopify.base_url + "/{shop}"}
    )
    with TestClient(create_app(settings), base_url="http://127.0.0.1:8000") as client:
        storefront = client.get("/dev/storefront").text
        assert 'href="/dev/admin"' in storefront
        opened = client.get("/dev/admin", follow_redirects=False)
        assert opened.status_code == 303 and opened.headers["cache-control"] == "no-store"
        target = httpx.URL(opened.headers["location"])
        assert target.path == "/app" and target.params["shop"] == devshop.SHOP
        claims = jwt.decode(
            target.params["id_token"], API_SECRET, algorithms=["HS256"], audience=API_KEY
        )
        assert claims["dest"] == f"https://{devshop.SHOP}" and claims["sub"]
        assert 7 * 3600 < claims["exp"] - time.time() <= devshop.ADMIN_SESSION_SECONDS
        dashboard = client.get(str(target))
        assert dashboard.status_code == 200
        assert "<h1>Dashboard</h1>" in dashboard.text and "Reconnect needed" not in dashboard.text
        assert "app-bridge.js" not in dashboard.text  # it would send the browser to Shopify
        assert "the demo shop's admin" in dashboard.text
        # The token works for the admin's JSON calls too, as the page makes them.
        settings_answer = client.get(
            "/app/api/settings", headers={"Authorization": f"Bearer {target.params['id_token']}"}
        )
        assert settings_answer.status_code == 200
        assert settings_answer.json()["can_send"] == {"email": True, "sms": True, "push": True}
    assert fake_shopify.token_requests == []  # no token exchange was tried


def test_outside_development_there_is_no_dev_admin_and_app_bridge_loads(
    dev_client: TestClient, client: TestClient
) -> None:
    """Outside development there is no /dev/admin, and the admin loads App Bridge for every shop,
    the demo shop's domain included (installed here by the development app, in the same
    database); a token signed with another secret is refused."""
    assert client.get("/dev/admin", follow_redirects=False).status_code == 404
    token = httpx.URL(
        dev_client.get("/dev/admin", follow_redirects=False).headers["location"]
    ).params["id_token"]
    page = client.get(f"/app?id_token={token}")  # the tests' one secret: a valid token here
    assert page.status_code == 200
    assert "app-bridge.js" in page.text and "the demo shop's admin" not in page.text
    forged = jwt.encode(
        {**jwt.decode(token, options={"verify_signature": False})}, "another secret", "HS256"
    )
    assert client.get(f"/app?id_token={forged}").status_code == 401
