"""What every webhook endpoint does before its topic's own work (PLATFORM.md section 3):
verify the HMAC over the raw body (401), check the headers (400), and record the delivery so a
re-delivery of the same event is answered 200 and ignored."""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from shopify_app.inventory import parse_time
from shopify_app.db import insert_ignoring_conflicts, session_scope
from shopify_app.models import WebhookDelivery, utcnow
from shopify_app.routes.responses import BodyTooLarge, errors, read_body, tag_shop
from shopify_app.verify import VerificationError, sanitize_shop_domain, verify_webhook_hmac

log = logging.getLogger("webhooks")
MAX_WEBHOOK_BYTES = 5 * 1024 * 1024
deliveries = WebhookDelivery.__table__


@dataclass(frozen=True)
class Delivery:
    topic: str
    shop: str
    webhook_id: str
    event_id: str | None
    triggered_at: datetime | None
    api_version: str | None
    payload: Any


Apply = Callable[[Session, Delivery], None]


def record(session: Session, delivery: Delivery) -> bool:
    """Write the delivery down; False if this delivery or event was seen before."""
    values = {
        "shop_domain": delivery.shop,
        "topic": delivery.topic,
        "webhook_id": delivery.webhook_id,
        "event_id": delivery.event_id,
        "triggered_at": delivery.triggered_at,
        "received_at": utcnow(),
    }
    stmt = insert_ignoring_conflicts(session, deliveries, values).returning(deliveries.c.id)
    return session.execute(stmt).first() is not None


async def verified(request: Request, topic: str) -> Delivery | Response:
    """The delivery, or the response refusing it."""
    secret = request.app.state.settings.SHOPIFY_API_SECRET
    try:
        body = await read_body(request, MAX_WEBHOOK_BYTES)
    except BodyTooLarge:
        return errors(413, "The body is too large")
    try:
        verify_webhook_hmac(secret, body, request.headers.get("x-shopify-hmac-sha256"))
    except VerificationError as exc:
        log.warning("webhook refused", extra={"topic": topic, "reason": str(exc)})
        return errors(401, "The webhook's HMAC does not verify")
    headers = request.headers
    missing = [h for h in ("X-Shopify-Topic", "X-Shopify-Shop-Domain", "X-Shopify-Webhook-Id") if not headers.get(h)]
    if missing:
        return errors(400, *(f"{h} header is missing" for h in missing))
    if headers["x-shopify-topic"] != topic:
        return errors(400, f"X-Shopify-Topic is {headers['x-shopify-topic']!r}, this endpoint takes {topic!r}")
    shop = sanitize_shop_domain(headers["x-shopify-shop-domain"])
    if shop is None:
        return errors(400, "X-Shopify-Shop-Domain is not a myshopify.com domain")
    tag_shop(request, shop)
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        return errors(400, "The body is not JSON")
    return Delivery(
        topic=topic,
        shop=shop,
        webhook_id=headers["x-shopify-webhook-id"][:128],
        event_id=(headers.get("x-shopify-event-id") or None) and headers["x-shopify-event-id"][:128],
        triggered_at=parse_time(headers.get("x-shopify-triggered-at")),
        api_version=headers.get("x-shopify-api-version"),
        payload=payload,
    )


def _apply_once(request: Request, delivery: Delivery, apply: Apply) -> bool:
    with session_scope(request.app.state.engine) as session:
        if not record(session, delivery):
            return False
        apply(session, delivery)
        return True


def endpoint(topic: str, apply: Apply):
    """A Starlette endpoint for `topic`: verify, de-duplicate, then `apply` in the same transaction."""

    async def handle(request: Request) -> Response:
        delivery = await verified(request, topic)
        if isinstance(delivery, Response):
            return delivery
        fresh = await run_in_threadpool(_apply_once, request, delivery, apply)
        log.info("webhook", extra={"topic": topic, "duplicate": not fresh, "webhook_id": delivery.webhook_id})
        return Response(status_code=200)

    handle.__name__ = "webhook_" + topic.replace("/", "_")
    return handle
