"""Shared by the worker tests: a channel that records what it was given, and the calls a
storefront and Shopify would make."""

import asyncio
import json
import uuid
from dataclasses import dataclass, field

import httpx
from sqlalchemy import select, update

from shopify_app.db import session_scope
from shopify_app.models import Notification, RestockEvent
from shopify_app.notify.base import OutgoingMessage
from shopify_app.notify.worker import Worker

from ..fakes.shopify import CatalogItem
from ..support import install_shop, webhook_headers

SHOP = "demo-shop.myshopify.com"
TOKEN = "shpat_worker_tests_token"
ITEM, VARIANT, PRODUCT, LOCATION, LOCATION2 = 808950810, 39072856, 632910392, 655441491, 655441492


@dataclass
class RecordingChannel:
    name: str
    sent: list[OutgoingMessage] = field(default_factory=list)
    fail_with: list[Exception] = field(
        default_factory=list
    )  # raised, one per send, before succeeding
    delay: float = 0.0
    in_flight: int = 0
    most_in_flight: int = 0

    async def send(self, message: OutgoingMessage) -> str | None:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            if self.delay:
                await asyncio.sleep(self.delay)
        finally:
            self.in_flight -= 1
        if self.fail_with:
            raise self.fail_with.pop(0)
        self.sent.append(message)
        return f"{self.name}-{len(self.sent)}"

    async def aclose(self) -> None:
        pass


def recording_channels() -> dict[str, RecordingChannel]:
    return {name: RecordingChannel(name) for name in ("email", "sms", "push")}


def setup_shop(engine, settings, fake_shopify, levels=None, **policy) -> CatalogItem:
    install_shop(engine, settings, SHOP, token=TOKEN, **policy)
    fake_shopify.tokens[SHOP] = TOKEN
    fake_shopify.locations = {LOCATION: "Main warehouse", LOCATION2: "Shop floor"}
    return fake_shopify.add_item(
        CatalogItem(ITEM, VARIANT, PRODUCT, levels=levels or {LOCATION: 0, LOCATION2: 0})
    )


def signup(client, channel="email", variant=VARIANT, quantity=1, **customer):
    customer = customer or {"email": f"{uuid.uuid4().hex[:8]}@example.com"}
    payload = {
        "intent": {
            "shopify_variant_id": variant,
            "shopify_product_id": PRODUCT,
            "channel": channel,
            "quantity": quantity,
            "source": "api",
        },
        "customer": customer,
        "product": {"title": "Linen Shirt", "variant_title": "Green / M"},
    }
    response = client.post(
        "/api/v1/intents.json", json=payload, headers={"X-Shopify-Shop-Domain": SHOP}
    )
    assert response.status_code == 201, response.text
    return response.json()["intents"][0]


def level_webhook(
    client,
    available,
    *,
    updated_at="2026-11-22T12:00:00-05:00",
    location=LOCATION,
    item=ITEM,
    event_id=None,
    webhook_id=None,
):
    body = json.dumps(
        {
            "inventory_item_id": item,
            "location_id": location,
            "available": available,
            "updated_at": updated_at,
            "admin_graphql_api_id": f"gid://shopify/InventoryLevel/1?inventory_item_id={item}",
        }
    ).encode()
    headers = webhook_headers(
        body,
        "inventory_levels/update",
        SHOP,
        webhook_id=webhook_id or uuid.uuid4().hex,
        event_id=event_id or uuid.uuid4().hex,
    )
    response = client.post("/webhooks/inventory_levels/update", content=body, headers=headers)
    assert response.status_code == 200
    return response


def run(worker_coro):
    return asyncio.run(worker_coro)


async def drain(settings, engine, channels, *, name=None, rounds=100):
    async with httpx.AsyncClient() as http:
        worker = Worker(settings, engine, http, channels, name=name)
        await worker.drain(rounds)
        return worker


def notifications(engine) -> list[Notification]:
    with session_scope(engine) as session:
        return list(session.execute(select(Notification).order_by(Notification.id)).scalars())


def events(engine) -> list[RestockEvent]:
    with session_scope(engine) as session:
        return list(session.execute(select(RestockEvent).order_by(RestockEvent.id)).scalars())


def make_due(engine) -> None:
    with session_scope(engine) as session:
        session.execute(
            update(Notification)
            .where(Notification.status == "pending")
            .values(next_attempt_at=Notification.created_at)
        )


def stock_reads(fake_shopify) -> list[dict]:
    """The Admin API calls that read stock: all but the variant reads queued by first signups."""
    return [c for c in fake_shopify.graphql_calls if "productVariant(" not in c["query"]]
