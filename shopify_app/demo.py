"""`shopify-app demo`: the whole path on a throw-away SQLite file, in a few seconds. A demo shop is
installed, three shoppers sign up (email, SMS, web push) through the public API, a signed
`inventory_levels/update` webhook says the variant is back, and the worker decides and sends.

Everything crosses real HTTP on 127.0.0.1: the app, and a stand-in for Shopify's Admin API that
knows one product. Email goes to .eml files (the development file mailer); SMS and push, which
would need Twilio and VAPID credentials, are printed instead of sent."""

import asyncio
import base64
import contextlib
import json
import shutil
import socket
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from email import message_from_bytes
from email.policy import default as default_policy
from pathlib import Path

import httpx
import uvicorn
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy import select
from sqlmodel import col
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from . import migrate, oauth
from .app import create_app
from .config import Settings
from .db import make_engine, session_scope
from .models import Notification, RestockEvent
from .notify.base import Channel, OutgoingMessage
from .notify.email import FileMailer
from .notify.worker import Worker
from .verify import webhook_hmac

SHOP = "demo-shop.myshopify.com"
ITEM, VARIANT, PRODUCT, LOCATION = 43_210_001, 41_000_001, 7_000_001, 60_001
VARIANT_NODE = {
    "id": f"gid://shopify/ProductVariant/{VARIANT}",
    "legacyResourceId": str(VARIANT),
    "title": "Sage / M",
    "sku": "LS-SAGE-M",
    "price": "49.00",
    "media": {
        "nodes": [
            {"preview": {"image": {"url": "https://cdn.shopify.com/s/files/demo/linen-shirt.jpg"}}}
        ]
    },
    "product": {
        "id": f"gid://shopify/Product/{PRODUCT}",
        "legacyResourceId": str(PRODUCT),
        "title": "Linen Shirt",
        "handle": "linen-shirt",
        "featuredMedia": None,
    },
}


async def _admin_graphql(request: Request) -> JSONResponse:
    """The demo's stand-in for Shopify's Admin API: one variant, its inventory item, 5 units at
    one location."""
    query = (await request.json()).get("query", "")
    if "productVariant(" in query:  # the read queued by the first signup (variant_reads.py)
        node = {**VARIANT_NODE, "inventoryItem": {"legacyResourceId": str(ITEM)}}
        return JSONResponse({"data": {"productVariant": node}})
    levels = {
        "nodes": [
            {
                "location": {"id": f"gid://shopify/Location/{LOCATION}"},
                "quantities": [{"name": "available", "quantity": 5}],
                "updatedAt": "2026-01-01T00:00:00Z",
            }
        ]
    }
    item = {
        "legacyResourceId": str(ITEM),
        "tracked": True,
        "variants": {"nodes": [VARIANT_NODE]},
        "inventoryLevels": levels,
    }
    return JSONResponse({"data": {"inventoryItem": item}})


@dataclass
class PrintChannel:
    name: str
    printed: list[OutgoingMessage]

    async def send(self, message: OutgoingMessage) -> str:
        self.printed.append(message)
        return f"printed-{len(self.printed)}"

    async def aclose(self) -> None:
        pass


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.asynccontextmanager
async def _serving(app) -> AsyncIterator[str]:
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


def _browser_subscription() -> dict:
    key = ec.generate_private_key(ec.SECP256R1())
    point = key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    b64 = lambda raw: base64.urlsafe_b64encode(raw).rstrip(b"=").decode()  # noqa: E731
    return {
        "endpoint": "https://fcm.googleapis.com/fcm/send/demo-subscription",
        "keys": {"p256dh": b64(point), "auth": b64(b"demo-auth-secret")},
    }


async def _webhook(
    http: httpx.AsyncClient, settings: Settings, topic: str, payload: dict, event: str
) -> None:
    body = json.dumps(payload).encode()
    response = await http.post(
        f"/webhooks/{topic}",
        content=body,
        headers={
            "X-Shopify-Hmac-Sha256": webhook_hmac(settings.SHOPIFY_API_SECRET, body),
            "X-Shopify-Topic": topic,
            "X-Shopify-Shop-Domain": SHOP,
            "X-Shopify-Webhook-Id": f"demo-{event}",
            "X-Shopify-Event-Id": f"demo-{event}",
            "Content-Type": "application/json",
        },
    )
    response.raise_for_status()


async def run_demo(keep: bool = False) -> None:
    folder = Path(tempfile.mkdtemp(prefix="shopify-app-demo-"))
    try:
        await _walk_through(folder)
    finally:
        if keep:
            print(f"\nKept {folder} (demo.sqlite3 and outbox/).")
        else:
            shutil.rmtree(folder, ignore_errors=True)


async def _walk_through(folder: Path) -> None:
    async with _serving(
        Starlette(
            routes=[
                Route("/{shop}/admin/api/{version}/graphql.json", _admin_graphql, methods=["POST"])
            ]
        )
    ) as admin_url:
        settings = Settings(
            APP_ENV="development",
            DATABASE_URL=f"sqlite:///{folder / 'demo.sqlite3'}",
            WORKER_IN_PROCESS=False,
            SHOPIFY_ADMIN_BASE_URL=admin_url + "/{shop}",
            RECONCILE_INTERVAL_SECONDS=0,
        ).check()
        migrate.upgrade(settings.DATABASE_URL)
        engine = make_engine(settings.DATABASE_URL)
        oauth.store_shop(
            engine,
            settings,
            SHOP,
            oauth.Grant(
                "shpat_demo_token",
                settings.SHOPIFY_SCOPES,
                expires_in=3600,
                refresh_token="shprt_demo_token",
                refresh_token_expires_in=90 * 86400,
            ),
        )
        print(f"1. Installed the app on {SHOP} (a throw-away database in {folder})")

        async with (
            _serving(create_app(settings, run_worker=False)) as app_url,
            httpx.AsyncClient(base_url=app_url) as http,
        ):
            shoppers = [
                ("email", {"email": "ada@example.com", "name": "Ada", "locale": "en"}),
                ("sms", {"phone": "14155552671", "country": "us"}),
                ("push", {"push": _browser_subscription(), "locale": "fr"}),
            ]
            print("2. Three shoppers ask to be told when Linen Shirt (Sage / M) is back:")
            for channel, customer in shoppers:
                response = await http.post(
                    "/api/v1/intents.json",
                    headers={"X-Shopify-Shop-Domain": SHOP},
                    json={
                        "intent": {
                            "shopify_variant_id": VARIANT,
                            "shopify_product_id": PRODUCT,
                            "channel": channel,
                            "quantity": 1,
                            "source": "api",
                        },
                        "customer": customer,
                        "product": {"title": "Linen Shirt", "variant_title": "Sage / M"},
                    },
                )
                intent = response.json()["intents"][0]
                print(
                    f"   POST /api/v1/intents.json -> {response.status_code}: intent {intent['id']} by "
                    f"{channel} ({intent['contact']})"
                )

            await _webhook(
                http,
                settings,
                "inventory_levels/update",
                {
                    "inventory_item_id": ITEM,
                    "location_id": LOCATION,
                    "available": 5,
                    "updated_at": "2026-11-22T12:00:00Z",
                },
                "restock",
            )
            print("3. Shopify says 5 units are back: POST /webhooks/inventory_levels/update -> 200")

            printed: list[OutgoingMessage] = []
            channels: dict[str, Channel] = {
                "email": FileMailer(folder / "outbox"),
                "sms": PrintChannel("sms", printed),
                "push": PrintChannel("push", printed),
            }
            async with httpx.AsyncClient() as worker_http:
                await Worker(settings, engine, worker_http, channels).drain()

        with session_scope(engine) as session:
            event = session.execute(select(RestockEvent)).scalar_one()
            rows = (
                session.execute(select(Notification).order_by(col(Notification.id))).scalars().all()
            )
        print(
            f"4. The worker decided: stock {event.stock_before} -> {event.stock_after}, policy '{event.policy}', "
            f"{event.chosen} shoppers chosen (restock event {event.id})"
        )
        print("5. The messages:")
        for row in rows:
            print(
                f"   notification {row.id}: {row.channel} {row.status} (provider id {row.provider_id})"
            )
        for path in sorted((folder / "outbox").glob("*.eml")):
            email = message_from_bytes(path.read_bytes(), policy=default_policy)
            print(f"   email written to {path}:")
            for header in ("To", "Subject", "List-Unsubscribe"):
                print(f"     {header}: {email[header]}")
        for message in printed:
            shown = (
                json.dumps(dict(message.push_payload), ensure_ascii=False)
                if message.push_payload
                else message.text
            )
            print(
                f"   {message.channel} to {message.to if message.channel == 'sms' else 'the browser'}: {shown}"
            )
        engine.dispose()
