"""The admin's delivery log: every message written (alerts and opt-in requests), with the restock
that caused an alert ("why was this sent"); listed in pages and exported as CSV."""

from typing import Any

from sqlalchemy import Connection, Select, func, select

from ..contacts import shown_contact
from ..models import Intent, Notification, RestockEvent
from ..notify.channels import CHANNELS
from ..notify.manual import MANUAL_TRIGGER
from .listings import choice, iso_time, paging, product_public, with_cached_variant

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
    intents.c.shopify_product_id,
    notifications.c.restock_event_id,
    events.c.stock_before,
    events.c.stock_after,
    events.c.policy,
    events.c.trigger,
    events.c.batch_number,
    events.c.chosen,
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


def delivery_select(shop_id: int, where: list, limit: int, offset: int = 0) -> Select[Any]:
    """The messages matching `where`, newest first, `limit` of them from `offset`, each with its
    signup, its restock and its cached variant (joined after the cut: one lookup per row shown)."""
    cut = (
        select(*DELIVERY_COLUMNS)
        .select_from(
            notifications.join(intents, intents.c.id == notifications.c.intent_id).outerjoin(
                events, events.c.id == notifications.c.restock_event_id
            )
        )
        .where(*where)
        .order_by(notifications.c.id.desc())
        .limit(limit)
        .offset(offset)
        .subquery()
    )
    return with_cached_variant(cut, shop_id).order_by(cut.c.id.desc())


def _units(n: int) -> str:
    return f"{n} unit" if n == 1 else f"{n} units"


def _signups(n: int) -> str:
    return f"{n} signup" if n == 1 else f"{n} signups"


def why_sentence(r: Any) -> str:
    """Why a message was written, in the merchant's words, from its stored record: the restock
    event's stock, trigger, batch and the policy it was decided under (restock.Policy.describe,
    notify/manual.py)."""
    if r.restock_event_id is None:
        return "The shopper was asked to confirm their signup (double opt-in)"
    policy = r.policy or ""
    if r.trigger == MANUAL_TRIGGER:
        door = "through the merchant API" if "merchant API" in policy else "from the admin"
        stock = f", with {_units(r.stock_before)} in stock" if r.stock_before is not None else ""
        return f"Sent by hand {door}{stock}"
    stock = _units(r.stock_after)
    if r.trigger == "batch":
        opening = f"Still in stock ({stock}): batch {r.batch_number}"
    elif r.trigger == "reconcile":
        opening = f"Back in stock at {stock}, found by the app's regular stock check"
    else:
        opening = f"Restocked to {stock}"
    if policy.startswith("batches"):
        chosen = f"batch {r.batch_number}, {_signups(r.chosen)} alerted"
        if r.trigger == "batch":
            chosen = f"{_signups(r.chosen)} alerted"
    else:
        chosen = f"everyone waiting alerted ({_signups(r.chosen)})"
    sentence = f"{opening}: {chosen}" if r.chosen else opening
    if "skip over quantity" in policy:
        sentence += "; signups wanting more than the stock were skipped"
    if "held for manual" in policy:
        sentence += "; held for you to send" if r.status == "held" else "; held, then sent by you"
    return sentence


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
    out = {
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
        "sku": r.sku,
        "cached_product_id": r.cached_product_id,
        "why": why,
        "why_text": why_sentence(r),
    }
    product_public(out, r.shopify_product_id)
    return out


def list_deliveries(connection: Connection, shop_id: int, query) -> dict[str, Any]:
    where, page = delivery_filters(shop_id, query), paging(query)
    total = connection.execute(
        select(func.count()).select_from(notifications).where(*where)
    ).scalar_one()
    rows = connection.execute(delivery_select(shop_id, where, page.per_page, page.offset)).all()
    return {"deliveries": [delivery_public(r) for r in rows], "meta": page.meta(total)}
