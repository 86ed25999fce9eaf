"""Events out: something happened in a shop (a signup was filed, an alert was sent or given up
on, a variant's waiting list reached high demand), so each target that wants it gets one
`event_delivery` row and one `event_out` job, written by the caller in the transaction of what
the event reports. The targets: the merchant's own webhook (webhooks_out.py) when the shop has a
`webhook_url`, and Shopify Flow (flow.py) when a workflow of the shop starts with the event's
trigger. The job delivers it (`deliver`), retried with backoff; the row is the merchant's
delivery log (`recent`). A new event is a `Topic` here and a call to `emit` where it happens.

The payloads are documented in docs/events.md. They hold no more than the admin shows the
merchant: a signup's email or phone, never a push subscription."""

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, exists, insert, literal, or_, select, update
from sqlalchemy.orm import Session

from . import jobs
from .db import among
from .models import (
    EventDelivery,
    EventDeliveryStatus,
    EventTarget,
    FlowTrigger,
    Intent,
    JobKind,
    Notification,
    NotificationKind,
    NotificationStatus,
    Shop,
    utcnow,
)

deliveries, shops, flow_triggers = EventDelivery.__table__, Shop.__table__, FlowTrigger.__table__
notes, intents = Notification.__table__, Intent.__table__
Executor = Session | Connection
RECENT = 50  # deliveries the merchant's log shows


@dataclass(frozen=True)
class Topic:
    name: str  # the webhook's `topic`
    webhook: bool  # sent to the merchant's webhook_url
    flow_handle: str | None  # the Flow trigger extension's handle (extensions/flow-*)


SIGNUP_CREATED = Topic("signup.created", True, "signup-created")
ALERT_SENT = Topic("alert.sent", True, "alert-sent")
ALERT_FAILED = Topic("alert.failed", True, None)
HIGH_DEMAND = Topic("demand.high", False, "high-demand-reached")
TOPICS = {t.name: t for t in (SIGNUP_CREATED, ALERT_SENT, ALERT_FAILED, HIGH_DEMAND)}
FLOW_HANDLES = frozenset(t.flow_handle for t in TOPICS.values() if t.flow_handle)


def _flow_enabled(handle: str | None):
    if handle is None:
        return literal(False)
    return exists().where(
        flow_triggers.c.shop_id == shops.c.id,
        flow_triggers.c.handle == handle,
        flow_triggers.c.enabled.is_(True),
    )


def wanted(topic: Topic):
    """A shop (a `shops` row in the statement) that some target wants `topic` for: the one rule,
    also read inside PostgreSQL's first-signup statement so a batch for shops without targets
    costs nothing more."""
    webhook = shops.c.webhook_url.is_not(None) if topic.webhook else literal(False)
    return or_(webhook, _flow_enabled(topic.flow_handle))


@dataclass(frozen=True)
class Event:
    shop_id: int
    data: dict[str, Any]  # what happened: the webhook's `data`, documented in docs/events.md
    flow: dict[str, Any] | None = None  # the Flow trigger's payload (its fields' keys)


def emit(session: Executor, topic: Topic, events: Sequence[Event]) -> int:
    """Queue `events` to every target that wants them, in the caller's transaction. How many
    deliveries were queued."""
    if not events:
        return 0
    shop_ids = sorted({e.shop_id for e in events})
    targets = {
        r.id: r
        for r in session.execute(
            select(
                shops.c.id,
                shops.c.domain,
                (shops.c.webhook_url.is_not(None) if topic.webhook else literal(False)).label(
                    "webhook"
                ),
                _flow_enabled(topic.flow_handle).label("flow"),
            ).where(shops.c.id.in_(shop_ids))
        )
    }
    now = utcnow()
    rows: list[dict[str, Any]] = []
    for event in events:
        shop = targets.get(event.shop_id)
        if shop is None:
            continue
        event_id = str(uuid.uuid4())
        if shop.webhook:
            body = webhook_body(event_id, topic, shop.domain, now, event.data)
            rows.append(_row(event, event_id, topic, EventTarget.webhook, body, now))
        if shop.flow and topic.flow_handle and event.flow is not None:
            body = json.dumps({"handle": topic.flow_handle, "payload": event.flow})
            rows.append(_row(event, event_id, topic, EventTarget.flow, body, now))
    if not rows:
        return 0
    session.execute(insert(deliveries), rows)
    jobs.enqueue_many(
        session,
        JobKind.event_out,
        [
            (f"{r['event_id']}:{r['target']}", r["shop_id"], {"event_id": r["event_id"]})
            for r in rows
        ],
    )
    return len(rows)


def webhook_body(
    event_id: str, topic: Topic, domain: str, at: datetime, data: Mapping[str, Any]
) -> str:
    """The exact bytes POSTed (and signed): compact JSON, keys in a stable order."""
    envelope = {
        "id": event_id,
        "topic": topic.name,
        "shop": domain,
        "created_at": at.isoformat().replace("+00:00", "Z"),
        "data": data,
    }
    return json.dumps(envelope, separators=(",", ":"), ensure_ascii=False, default=str)


def _row(
    event: Event, event_id: str, topic: Topic, target: EventTarget, body: str, now: datetime
) -> dict[str, Any]:
    return {
        "shop_id": event.shop_id,
        "event_id": event_id,
        "topic": topic.name,
        "target": target.value,
        "body": body,
        "status": EventDeliveryStatus.pending.value,
        "attempts": 0,
        "status_code": None,
        "last_error": None,
        "created_at": now,
        "attempted_at": None,
    }


# -- what the job reads and writes ---------------------------------------------------------------


@dataclass(frozen=True)
class Pending:
    id: int
    shop_id: int
    event_id: str
    topic: str
    target: str
    body: str


def pending(session: Executor, shop_id: int, event_id: str, target: str) -> Pending | None:
    """The delivery a job is for, while it is still to deliver (else None: done already)."""
    row = session.execute(
        select(deliveries).where(
            deliveries.c.shop_id == shop_id,
            deliveries.c.event_id == event_id,
            deliveries.c.target == target,
            deliveries.c.status == EventDeliveryStatus.pending.value,
        )
    ).first()
    if row is None or row.body is None:
        return None
    return Pending(row.id, row.shop_id, row.event_id, row.topic, row.target, row.body)


def settle(
    session: Executor,
    delivery_id: int,
    *,
    status: EventDeliveryStatus,
    status_code: int | None,
    error: str | None,
) -> None:
    """One attempt's outcome. A final one (delivered, failed) forgets the body."""
    values: dict[str, Any] = {
        "status": status.value,
        "status_code": status_code,
        "last_error": (error or "")[:255] or None,
        "attempts": deliveries.c.attempts + 1,
        "attempted_at": utcnow(),
    }
    if status != EventDeliveryStatus.pending:
        values["body"] = None
    session.execute(update(deliveries).where(deliveries.c.id == delivery_id).values(**values))


def recent(session: Executor, shop_id: int, limit: int = RECENT) -> list[dict[str, Any]]:
    """The shop's latest deliveries, newest first, as the admin shows them."""
    rows = session.execute(
        select(
            deliveries.c.id,
            deliveries.c.event_id,
            deliveries.c.topic,
            deliveries.c.target,
            deliveries.c.status,
            deliveries.c.status_code,
            deliveries.c.attempts,
            deliveries.c.last_error,
            deliveries.c.created_at,
            deliveries.c.attempted_at,
        )
        .where(deliveries.c.shop_id == shop_id)
        .order_by(deliveries.c.id.desc())
        .limit(limit)
    ).all()
    return [
        {
            "id": r.id,
            "event_id": r.event_id,
            "topic": r.topic,
            "target": r.target,
            "status": r.status,
            "status_code": r.status_code,
            "attempts": r.attempts,
            "error": r.last_error,
            "created_at": r.created_at.isoformat(),
            "attempted_at": r.attempted_at.isoformat() if r.attempted_at else None,
        }
        for r in rows
    ]


# -- the events' payloads ------------------------------------------------------------------------


def gid(kind: str, number: int | None) -> str | None:
    return f"gid://shopify/{kind}/{number}" if number is not None else None


def _flow_signup(row: Mapping[Any, Any]) -> dict[str, Any]:
    """The Flow fields a signup's triggers share (their extensions' `settings.fields`)."""
    return {
        "product_id": row["shopify_product_id"],
        "Variant ID": gid("ProductVariant", row["shopify_variant_id"]),
        "Variant title": row.get("variant_title") or "",
        "Channel": row["channel"],
        "Email": row.get("email") or "",
        "Phone": row.get("phone") or "",
    }


def signup_event(shop_id: int, intent: Mapping[Any, Any]) -> Event:
    """`signup.created` from the signup's row (its intent columns and id)."""
    data = {
        "signup": {
            "id": intent["id"],
            "channel": intent["channel"],
            "email": intent.get("email"),
            "phone": intent.get("phone"),
            "quantity": intent.get("quantity", 1),
            "source": intent.get("source"),
            "product_id": intent["shopify_product_id"],
            "variant_id": intent["shopify_variant_id"],
            "market_id": intent.get("shopify_market_id"),
            "product_title": intent.get("product_title"),
            "variant_title": intent.get("variant_title"),
            "created_at": _iso(intent.get("created_at")),
        }
    }
    flow = {**_flow_signup(intent), "Quantity": intent.get("quantity", 1)}
    return Event(shop_id, data, flow)


def alert_event(shop_id: int, alert: Mapping[Any, Any], sent: bool) -> Event:
    """`alert.sent` / `alert.failed` from the notification joined with its signup."""
    data = {
        "alert": {
            "id": alert["notification_id"],
            "signup_id": alert["intent_id"],
            "channel": alert["channel"],
            "email": alert.get("email"),
            "phone": alert.get("phone"),
            "product_id": alert["shopify_product_id"],
            "variant_id": alert["shopify_variant_id"],
            "product_title": alert.get("product_title"),
            "variant_title": alert.get("variant_title"),
            "attempts": alert["attempts"],
            "sent_at": _iso(alert.get("sent_at")) if sent else None,
            "error": None if sent else (alert.get("last_error") or "")[:200] or None,
        }
    }
    return Event(shop_id, data, _flow_signup(alert))


def demand_event(
    shop_id: int,
    variant_id: int,
    product_id: int | None,
    titles: tuple[str | None, str | None],
    pending: int,
    threshold: int,
) -> Event:
    """High demand reached (Flow only): a variant's waiting list reached the threshold."""
    data = {
        "variant_id": variant_id,
        "product_id": product_id,
        "product_title": titles[0],
        "variant_title": titles[1],
        "waiting": pending,
        "threshold": threshold,
    }
    flow = {
        "Variant ID": gid("ProductVariant", variant_id),
        "Variant title": titles[1] or "",
        "Waiting": pending,
        "Threshold": threshold,
    }
    if product_id is not None:
        flow["product_id"] = product_id
    return Event(shop_id, data, flow)


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    return str(value)


# -- alerts whose last attempt was just recorded -------------------------------------------------


def alerts_settled(session: Executor, worker: str, sent: list[int], failed: list[int]) -> int:
    """`alert.sent` and `alert.failed` for notifications whose final outcome `record` just wrote
    (by this worker: a lease lost to another worker is that worker's to report). Only alerts
    (not opt-in confirmations), only for shops some target wants them for."""
    queued = 0
    for topic, ids, status in (
        (ALERT_SENT, sent, NotificationStatus.sent),
        (ALERT_FAILED, failed, NotificationStatus.failed),
    ):
        if not ids:
            continue
        rows = (
            session.execute(
                select(
                    notes.c.id.label("notification_id"),
                    notes.c.shop_id,
                    notes.c.attempts,
                    notes.c.sent_at,
                    notes.c.last_error,
                    intents.c.id.label("intent_id"),
                    intents.c.channel,
                    intents.c.email,
                    intents.c.phone,
                    intents.c.shopify_product_id,
                    intents.c.shopify_variant_id,
                    intents.c.product_title,
                    intents.c.variant_title,
                )
                .join(intents, intents.c.id == notes.c.intent_id)
                .join(shops, shops.c.id == notes.c.shop_id)
                .where(
                    among(session, notes.c.id, ids),
                    notes.c.kind == NotificationKind.alert.value,
                    notes.c.status == status.value,
                    notes.c.locked_by == worker,
                    wanted(topic),
                )
                .order_by(notes.c.id),
            )
            .mappings()
            .all()
        )
        events = [alert_event(r["shop_id"], r, status == NotificationStatus.sent) for r in rows]
        queued += emit(session, topic, events)
    return queued
