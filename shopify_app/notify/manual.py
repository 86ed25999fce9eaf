"""Sending by hand: the merchant's "notify now". One service behind both doors: the admin's
signups page (`POST /app/api/intents/{id}/notify`, `POST /app/api/intents/notify`) and the merchant
API (`notify_intent`, `bulk_notify_intent`).

For each of the shop's signups asked for:
- its alert is held (written by a restock while the shop's automatic sending was off): the alert
  is released, due now, under the restock decision that chose it;
- it is pending without an alert: an alert is written now as a decision of the merchant's (one
  RestockEvent per variant, trigger "manual", the stock last known);
- it was notified already: another alert only with `allow_resend`, and not while one is still
  waiting to be sent;
- otherwise it is refused with the reason (unsubscribed, blocked, awaiting opt-in, ...).
The signup is marked notified in the same transaction, as `outbox.decide` does for automatic
sending; the worker sends the alert on its next round. Nothing here sends.

Requests for one signup at the same moment, from either door, on either database: one wins, by a
compare-and-set on the signup's own row (`_claim`), and writes or releases one alert; the others are
refused with what the signup now is (422), or find it deleted (404).
"""

from collections import defaultdict
from typing import Any

from sqlalchemy import Connection, and_, exists, func, insert, or_, select, tuple_, update

from ..models import (
    NOTIFICATION_ON_ITS_WAY,
    Customer,
    Intent,
    IntentStatus,
    Notification,
    NotificationKind,
    NotificationStatus,
    RestockEvent,
    Variant,
    utcnow,
)
from ..unsent import was_sent

intents, customers, notifications = Intent.__table__, Customer.__table__, Notification.__table__
events, variants = RestockEvent.__table__, Variant.__table__

NOT_FOUND = "Intent not found"
CHANGED = "Intent was changed by another request meanwhile; nothing was sent for this one"
ON_ITS_WAY = "An alert for this intent is already waiting to be sent"
MANUAL_TRIGGER = "manual"
CHUNK = 1000


def refusal(row, allow_resend: bool) -> str | None:
    """Why this signup may not be alerted now, or None. `row` has the intent's columns and
    `customer_unsubscribed_at`, `has_subscription`, `was_sent` (unsent.py), `on_its_way`."""
    if row.status == IntentStatus.cancelled.value:
        return "Intent was cancelled"
    if row.status == IntentStatus.unsubscribed.value or row.unsubscribed_at is not None:
        return "Intent is unsubscribed"
    if row.customer_unsubscribed_at is not None:
        return "Customer has unsubscribed from all alerts"
    if row.blocked_at is not None:
        return "Intent is blocked"
    if not row.optin_confirmed:
        return "Intent awaits the customer's opt-in confirmation"
    if row.channel == "push" and not row.has_subscription:
        return "The push subscription is gone"
    if row.was_sent and not allow_resend:
        return "Intent has already been notified; set allow_resend to send again"
    if row.on_its_way:
        # A second click on "send again" before the first alert left would mail the shopper twice.
        return ON_ITS_WAY
    return None


def _read(connection: Connection, shop_id: int, ids: list[int]) -> dict[int, Any]:
    """The shop's signups `ids` with what `refusal` needs and their held alert, by id."""
    held = (
        select(func.min(notifications.c.id))
        .where(
            notifications.c.intent_id == intents.c.id,
            notifications.c.status == NotificationStatus.held.value,
        )
        .scalar_subquery()
    )
    on_its_way = exists().where(
        notifications.c.intent_id == intents.c.id,
        notifications.c.kind == NotificationKind.alert.value,
        notifications.c.status.in_(NOTIFICATION_ON_ITS_WAY),
    )
    rows = connection.execute(
        select(
            intents.c.id,
            intents.c.status,
            intents.c.updated_at,
            intents.c.channel,
            intents.c.optin_confirmed,
            intents.c.blocked_at,
            intents.c.notified_at,
            intents.c.unsubscribed_at,
            intents.c.sent_notifications_count,
            intents.c.shopify_variant_id,
            intents.c.push_subscription.is_not(None).label("has_subscription"),
            was_sent().label("was_sent"),
            customers.c.unsubscribed_at.label("customer_unsubscribed_at"),
            held.label("held_id"),
            on_its_way.label("on_its_way"),
        )
        .join(customers, customers.c.id == intents.c.customer_id)
        .where(intents.c.shop_id == shop_id, intents.c.id.in_(ids))
    ).all()
    return {r.id: r for r in rows}


def _claim(connection: Connection, rows: list, now) -> set[int]:
    """Compare-and-set: of the signups `rows`, those still as they were read (same status and
    updated_at) are marked notified, in one UPDATE; the ids it changed. Two requests that read a
    signup alike cannot both change it: the database orders their writes (PostgreSQL's row lock, and
    it re-checks the WHERE on the row it waited for; SQLite's single writer), and the second finds
    it changed. So one request, and only one, writes or releases the signup's alert."""
    claimed: set[int] = set()
    for start in range(0, len(rows), CHUNK):
        seen = [(r.id, r.status, r.updated_at) for r in rows[start : start + CHUNK]]
        claimed.update(
            connection.execute(
                update(intents)
                .where(tuple_(intents.c.id, intents.c.status, intents.c.updated_at).in_(seen))
                .values(status=IntentStatus.notified.value, updated_at=now)
                .returning(intents.c.id)
            ).scalars()
        )
    return claimed


def notify(
    connection: Connection, shop_id: int, ids: list[int], *, allow_resend: bool = False, via: str
) -> tuple[list[int], list[dict]]:
    """Alert the shop's signups `ids` (see the module's docstring); `via` names the door in the
    manual restock event's policy. Returns (ids alerted, [{"intent_id", "error"}] refused), in the
    order asked; another shop's id is refused as NOT_FOUND. A signup another request changed since
    it was read here (notified it, deleted it, ...) is refused with what it is now."""
    found = _read(connection, shop_id, ids)
    refused, chosen = {}, []
    for intent_id in ids:
        row = found.get(intent_id)
        reason = NOT_FOUND if row is None else refusal(row, allow_resend)
        if reason:
            refused[intent_id] = reason
        else:
            assert row is not None  # a missing signup is refused (NOT_FOUND)
            chosen.append(row)
    now = utcnow()
    claimed = _claim(connection, chosen, now)
    lost = [r.id for r in chosen if r.id not in claimed]
    now_found = _read(connection, shop_id, lost) if lost else {}
    for intent_id in lost:
        row = now_found.get(intent_id)
        refused[intent_id] = NOT_FOUND if row is None else refusal(row, allow_resend) or CHANGED
    chosen = [r for r in chosen if r.id in claimed]
    to_release = {r.held_id: r.id for r in chosen if r.held_id is not None}
    released = set(_release(connection, list(to_release)))
    for intent_id in to_release.values():
        if intent_id not in released:  # its held alert was cancelled or sent meanwhile
            refused[intent_id] = CHANGED
    by_variant = defaultdict(list)
    for r in chosen:
        if r.held_id is None:
            by_variant[r.shopify_variant_id].append(r)
    for variant_id, alerted in by_variant.items():
        stock = connection.execute(
            select(func.coalesce(variants.c.sellable, variants.c.inventory_quantity)).where(
                variants.c.shop_id == shop_id, variants.c.shopify_variant_id == variant_id
            )
        ).scalar()
        event_id = connection.execute(
            insert(events)
            .values(
                shop_id=shop_id,
                shopify_variant_id=variant_id,
                stock_before=stock,
                stock_after=stock if stock is not None else 0,
                policy=f"manual send ({via})",
                batch_number=1,
                chosen=len(alerted),
                trigger=MANUAL_TRIGGER,
                created_at=now,
            )
            .returning(events.c.id)
        ).scalar_one()
        connection.execute(
            insert(notifications),
            [
                {
                    "shop_id": shop_id,
                    "intent_id": r.id,
                    "restock_event_id": event_id,
                    "kind": NotificationKind.alert.value,
                    "channel": r.channel,
                    "status": NotificationStatus.pending.value,
                    "attempts": 0,
                    "next_attempt_at": now,
                    "created_at": now,
                    "updated_at": now,
                }
                for r in alerted
            ],
        )
    success = [i for i in ids if i not in refused]
    return success, [{"intent_id": i, "error": refused[i]} for i in ids if i in refused]


def _sendable():
    """A signup that may be alerted now (the conditions of `refusal` for a pending signup)."""
    return and_(
        intents.c.status == IntentStatus.pending.value,
        intents.c.unsubscribed_at.is_(None),
        intents.c.blocked_at.is_(None),
        intents.c.optin_confirmed.is_(True),
        or_(intents.c.channel != "push", intents.c.push_subscription.is_not(None)),
        ~exists().where(
            customers.c.id == intents.c.customer_id, customers.c.unsubscribed_at.is_not(None)
        ),
    )


def _release(connection: Connection, notification_ids: list[int]) -> list[int]:
    """Held alerts to pending, due now (compare-and-set on their status: a held alert is released
    once); the intent ids released. The caller marks those signups notified."""
    now = utcnow()
    released: list[int] = []
    for start in range(0, len(notification_ids), CHUNK):
        released.extend(
            connection.execute(
                update(notifications)
                .where(
                    notifications.c.id.in_(notification_ids[start : start + CHUNK]),
                    notifications.c.status == NotificationStatus.held.value,
                )
                .values(
                    status=NotificationStatus.pending.value, next_attempt_at=now, updated_at=now
                )
                .returning(notifications.c.intent_id)
            )
            .scalars()
            .all()
        )
    return released


def release_held(connection: Connection, shop_id: int) -> dict[str, int]:
    """Every held alert of the shop whose signup may still be alerted: sent now ("send all held").
    Returns {"notified": how many, "held": how many stay held (their signup can no longer be
    alerted: awaiting opt-in, blocked, its push subscription gone)}."""
    held = (
        select(notifications.c.id)
        .join(intents, intents.c.id == notifications.c.intent_id)
        .where(
            notifications.c.shop_id == shop_id,
            notifications.c.status == NotificationStatus.held.value,
        )
        .order_by(notifications.c.id)
    )
    # The signups are locked first, as notify's claim locks them before their alerts: no deadlock.
    ids = connection.execute(held.where(_sendable()).with_for_update(of=intents)).scalars().all()
    released = _release(connection, list(ids))
    now = utcnow()
    for start in range(0, len(released), CHUNK):
        connection.execute(
            update(intents)
            .where(intents.c.id.in_(released[start : start + CHUNK]))
            .values(status=IntentStatus.notified.value, updated_at=now)
        )
    left = connection.execute(select(func.count()).select_from(held.subquery())).scalar_one()
    return {"notified": len(released), "held": left}
