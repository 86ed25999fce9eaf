"""The admin's delivery log: every message written (alerts and opt-in requests), with the restock
that caused an alert ("why was this sent"); listed in pages and exported as CSV."""

from typing import Any

from sqlalchemy import Connection, Select, func, select

from ..contacts import shown_contact
from ..models import Intent, Notification, RestockEvent
from ..notify.channels import CHANNELS
from .listings import choice, iso_time, paging

intents, notifications, events = Intent.__table__, Notification.__table__, RestockEvent.__table__
NOTIFICATION_STATUSES = ("pending", "held", "sending", "sent", "failed", "cancelled")


DELIVERY_COLUMNS = [
    notifications.c.id,
    notifications.c.kind,
    notifications.c.channel,
    notifications.c.status,
    notifications.c.attempts,
    notifications.c.last_error,
    notifications.c.sent_at,
    notifications.c.created_at,
    notifications.c.intent_id,
    intents.c.email,
    intents.c.phone,
    intents.c.shopify_variant_id,
    intents.c.product_title,
    intents.c.variant_title,
    notifications.c.restock_event_id,
    events.c.stock_before,
    events.c.stock_after,
    events.c.policy,
    events.c.trigger,
    events.c.created_at.label("event_at"),
]


def delivery_filters(shop_id: int, query) -> list:
    where = [notifications.c.shop_id == shop_id]
    if status := choice(query, "status", NOTIFICATION_STATUSES):
        where.append(notifications.c.status == status)
    if channel := choice(query, "channel", CHANNELS):
        where.append(notifications.c.channel == channel)
    if kind := choice(query, "kind", ("alert", "optin")):
        where.append(notifications.c.kind == kind)
    return where


def delivery_select(where: list) -> Select[Any]:
    return (
        select(*DELIVERY_COLUMNS)
        .select_from(
            notifications.join(intents, intents.c.id == notifications.c.intent_id).outerjoin(
                events, events.c.id == notifications.c.restock_event_id
            )
        )
        .where(*where)
    )


def delivery_public(r: Any) -> dict[str, Any]:
    why = None
    if r.restock_event_id is not None:
        why = {
            "restock_event_id": r.restock_event_id,
            "stock_before": r.stock_before,
            "stock_after": r.stock_after,
            "policy": r.policy,
            "trigger": r.trigger,
            "at": iso_time(r.event_at),
        }
    return {
        "id": r.id,
        "kind": r.kind,
        "channel": r.channel,
        "status": r.status,
        "attempts": r.attempts,
        "last_error": r.last_error,
        "sent_at": iso_time(r.sent_at),
        "created_at": iso_time(r.created_at),
        "intent_id": r.intent_id,
        "contact": shown_contact(r.channel, r.email, r.phone),
        "shopify_variant_id": r.shopify_variant_id,
        "product_title": r.product_title,
        "variant_title": r.variant_title,
        "why": why,
    }


def list_deliveries(connection: Connection, shop_id: int, query) -> dict[str, Any]:
    where, page = delivery_filters(shop_id, query), paging(query)
    total = connection.execute(
        select(func.count()).select_from(notifications).where(*where)
    ).scalar_one()
    rows = connection.execute(
        delivery_select(where)
        .order_by(notifications.c.id.desc())
        .limit(page.per_page)
        .offset(page.offset)
    ).all()
    return {"deliveries": [delivery_public(r) for r in rows], "meta": page.meta(total)}
