"""What every webhook endpoint does before its topic's own work (PLATFORM.md section 3):
verify the HMAC over the raw body (401), check the headers (400), and record the delivery so a
re-delivery of the same event is answered 200 and ignored.

A correctly signed delivery is always answered 2xx unless the database itself is failing (then
5xx, and Shopify retries): its topic coerces or drops fields our columns cannot hold
(shopify_app/coerce.py), and if applying it fails anyway on what it says, that is rolled back, the
delivery is recorded as failed and logged, and the answer is 200, because Shopify would only
retry the same payload for two days. A body that is not JSON at all (garbage, a byte order mark
before the JSON) is such a delivery: recorded as failed, without its body, and logged.

Two ways to apply a topic: `endpoint` does the topic's writes in the request, in the transaction
that records the delivery; `queued_endpoint` (inventory_levels/update, which arrives by the
thousand) only records the delivery with its raw payload, in one statement shared with concurrent
requests (shopify_app/group_insert.py), and the worker applies it.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from shopify_app import coerce, metrics
from shopify_app.db import insert_ignoring_conflicts, is_transient, session_scope
from shopify_app.errors import ApiError
from shopify_app.group_insert import GroupInsert
from shopify_app.logs import tag_shop
from shopify_app.models import DeliveryState, WebhookDelivery, utcnow
from shopify_app.request_body import BodyTooLarge, read_body
from shopify_app.verify import VerificationError, sanitize_shop_domain, verify_webhook_hmac
from shopify_app.webhook_payloads import NotJson, failure, parse_json

log = logging.getLogger("webhooks")
MAX_WEBHOOK_BYTES = 5 * 1024 * 1024
deliveries = WebhookDelivery.__table__
OK = 200


@dataclass(frozen=True)
class Delivery:
    topic: str
    shop: str
    webhook_id: str
    event_id: str | None
    triggered_at: datetime | None
    api_version: str | None
    payload: Any
    body: bytes = b""
    not_json: str | None = None  # why the body is not JSON; then there is no payload to apply


Apply = Callable[[Session, Delivery], None]


def delivery_row(
    delivery: Delivery, state: DeliveryState, payload: str | None = None
) -> dict[str, Any]:
    return {
        "shop_domain": delivery.shop,
        "topic": delivery.topic,
        "webhook_id": delivery.webhook_id,
        "event_id": delivery.event_id,
        "triggered_at": delivery.triggered_at,
        "received_at": utcnow(),
        "state": state.value,
        "payload": payload,
    }


def record(
    session: Session, delivery: Delivery, state: DeliveryState = DeliveryState.applied
) -> bool:
    """Write the delivery down; False if this delivery or event was seen before."""
    stmt = insert_ignoring_conflicts(session, deliveries, delivery_row(delivery, state)).returning(
        deliveries.c.id
    )
    return session.execute(stmt).first() is not None


async def verified(request: Request, topic: str) -> Delivery:
    """The delivery, or ApiError refusing it."""
    secret = request.app.state.settings.SHOPIFY_API_SECRET
    try:
        body = await read_body(request, MAX_WEBHOOK_BYTES)
    except BodyTooLarge:
        raise ApiError(413, "The body is too large") from None
    try:
        verify_webhook_hmac(secret, body, request.headers.get("x-shopify-hmac-sha256"))
    except VerificationError as exc:
        log.warning("webhook refused", extra={"topic": topic, "reason": str(exc)})
        raise ApiError(401, "The webhook's HMAC does not verify") from None
    headers = request.headers
    missing = [
        h
        for h in ("X-Shopify-Topic", "X-Shopify-Shop-Domain", "X-Shopify-Webhook-Id")
        if not headers.get(h)
    ]
    if missing:
        raise ApiError(400, *(f"{h} header is missing" for h in missing))
    if headers["x-shopify-topic"] != topic:
        raise ApiError(
            400, f"X-Shopify-Topic is {headers['x-shopify-topic']!r}, this endpoint takes {topic!r}"
        )
    shop = sanitize_shop_domain(headers["x-shopify-shop-domain"])
    if shop is None:
        raise ApiError(400, "X-Shopify-Shop-Domain is not a myshopify.com domain")
    tag_shop(request, shop)
    webhook_id = coerce.text(headers["x-shopify-webhook-id"], 128)
    if webhook_id is None:
        raise ApiError(400, "X-Shopify-Webhook-Id header is missing")
    try:
        payload, not_json = parse_json(body), None
    except NotJson as exc:
        payload, not_json = None, str(exc)
    triggered_at = coerce.timestamp(headers.get("x-shopify-triggered-at"))
    metrics.observe_webhook_lag(topic, triggered_at, request.app.state.clock())
    return Delivery(
        topic=topic,
        shop=shop,
        webhook_id=webhook_id,
        event_id=coerce.text(headers.get("x-shopify-event-id"), 128),
        triggered_at=triggered_at,
        api_version=headers.get("x-shopify-api-version"),
        payload=payload,
        body=body,
        not_json=not_json,
    )


def _log_not_json(delivery: Delivery) -> None:
    log.warning(
        "webhook body is not JSON; recorded as failed",
        extra={
            "topic": delivery.topic,
            "webhook_id": delivery.webhook_id,
            "reason": delivery.not_json,
        },
    )


def _apply_once(request: Request, delivery: Delivery, apply: Apply) -> DeliveryState | None:
    """Record and apply in one transaction; None for a duplicate. If applying fails on what the
    delivery says (not on the database), or there is nothing to apply (the body is not JSON),
    nothing of it is kept but the record, marked failed."""
    engine = request.app.state.engine
    if delivery.not_json is not None:
        _log_not_json(delivery)
    else:
        try:
            with session_scope(engine) as session:
                if not record(session, delivery):
                    return None
                apply(session, delivery)
                return DeliveryState.applied
        except Exception as exc:
            if is_transient(exc):
                raise
            log.warning(
                "webhook could not be applied; recorded as failed",
                extra={"topic": delivery.topic, "webhook_id": delivery.webhook_id, **failure(exc)},
            )
    with session_scope(engine) as session:
        return DeliveryState.failed if record(session, delivery, DeliveryState.failed) else None


def endpoint(topic: str, apply: Apply):
    """A Starlette endpoint for `topic`: verify, de-duplicate, then `apply` in the same transaction."""

    async def handle(request: Request) -> Response:
        delivery = await verified(request, topic)
        state = await run_in_threadpool(_apply_once, request, delivery, apply)
        log.info(
            "webhook",
            extra={"topic": topic, "duplicate": state is None, "webhook_id": delivery.webhook_id},
        )
        return Response(status_code=OK)

    handle.__name__ = "webhook_" + topic.replace("/", "_")
    return handle


def intake(app) -> GroupInsert:
    """The app's group insert of pending deliveries (made on first use, for the engines the lifespan made)."""
    state = app.state
    writer = getattr(state, "webhook_intake", None)
    if writer is None or writer.engine is not state.engine:
        writer = state.webhook_intake = GroupInsert(
            deliveries,
            "webhook_id",
            unique=("event_id",),
            engine=state.engine,
            async_engine=getattr(state, "async_engine", None),
        )
    return writer


def queued_endpoint(topic: str):
    """A Starlette endpoint for `topic`: verify, then record the delivery with its raw payload as
    pending (a duplicate is not recorded again), answering 200 once that is committed; the worker
    applies it (`inventory_deliveries.apply_pending`). A body that is not JSON is recorded as failed."""

    async def handle(request: Request) -> Response:
        delivery = await verified(request, topic)
        if delivery.not_json is None:
            row = delivery_row(delivery, DeliveryState.pending, delivery.body.decode("utf-8"))
        else:
            _log_not_json(delivery)
            row = delivery_row(delivery, DeliveryState.failed)
        try:
            fresh = await intake(request.app).insert(row)
        except Exception as exc:
            if is_transient(exc):
                raise  # 5xx: Shopify delivers it again later
            # A row the database refuses would be refused on every retry: acknowledge, and say so.
            log.error(
                "webhook could not be recorded",
                extra={"topic": topic, "webhook_id": delivery.webhook_id, **failure(exc)},
            )
            return Response(status_code=OK)
        if log.isEnabledFor(logging.INFO):
            log.info(
                "webhook",
                extra={"topic": topic, "duplicate": not fresh, "webhook_id": delivery.webhook_id},
            )
        return Response(status_code=OK)

    handle.__name__ = "webhook_" + topic.replace("/", "_")
    return handle
