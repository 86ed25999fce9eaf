"""Conversions: an order line is attributed to an alert when the alerted shopper bought the alerted
variant within CONVERSION_WINDOW_DAYS after the alert was sent.

"The same shopper" is the same email, phone or Shopify customer id: the order's (its own `email`
and `phone`, and its `customer`'s) against the signup's (its contacts, and its customer's contacts
and Shopify id). Of the alerts that qualify (kind alert, status sent, sent at or before the order
and no more than the window before it) the latest one takes the line. A line is one `conversion`
row, keyed by shop, order and line item, so a redelivered `orders/create` (under a new webhook id
too) counts once. The row holds no contact: the figures survive a redaction."""

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import Connection, or_, select, update
from sqlalchemy.orm import Session

from . import stats_epoch
from .db import insert_ignoring_conflicts
from .models import (
    Conversion,
    Customer,
    Intent,
    Notification,
    NotificationKind,
    NotificationStatus,
    Shop,
    utcnow,
)

conversions, notifications = Conversion.__table__, Notification.__table__
intents, customers, shops = Intent.__table__, Customer.__table__, Shop.__table__
Executor = Session | Connection


@dataclass(frozen=True)
class Line:
    id: int
    variant_id: int
    quantity: int
    amount: Decimal  # price x quantity, in the order's currency


@dataclass(frozen=True)
class Order:
    """An order as attribution needs it: every field already coerced (webhooks/orders_create.py)."""

    id: int
    created_at: datetime
    currency: str | None
    lines: tuple[Line, ...]
    emails: frozenset[str] = field(default_factory=frozenset)  # normalised, lower-case
    phones: frozenset[str] = field(default_factory=frozenset)  # E.164
    customer_ids: frozenset[str] = field(default_factory=frozenset)  # Shopify customer ids, as text


def _same_shopper(order: Order):
    """The WHERE clause matching a signup (intent joined to its customer) to the order's shopper."""
    clauses = []
    if order.emails:
        clauses += [
            intents.c.email.in_(sorted(order.emails)),
            customers.c.email.in_(sorted(order.emails)),
        ]
    if order.phones:
        clauses += [
            intents.c.phone.in_(sorted(order.phones)),
            customers.c.phone.in_(sorted(order.phones)),
        ]
    if order.customer_ids:
        clauses.append(customers.c.shopify_customer_id.in_(sorted(order.customer_ids)))
    return or_(*clauses) if clauses else None


def alerts_converted(
    session: Executor, shop_id: int, order: Order, window: timedelta
) -> dict[int, int]:
    """Variant id -> the latest alert this order converts, for the order's variants."""
    shopper = _same_shopper(order)
    variants = sorted({line.variant_id for line in order.lines})
    if shopper is None or not variants:
        return {}
    n = notifications.c
    rows = session.execute(
        select(intents.c.shopify_variant_id, n.id)
        .select_from(
            notifications.join(intents, intents.c.id == n.intent_id).join(
                customers, customers.c.id == intents.c.customer_id
            )
        )
        .where(
            n.shop_id == shop_id,
            n.kind.in_([NotificationKind.alert.value, NotificationKind.reminder.value]),
            n.status == NotificationStatus.sent.value,
            n.sent_at <= order.created_at,
            n.sent_at >= order.created_at - window,
            intents.c.shop_id == shop_id,
            intents.c.shopify_variant_id.in_(variants),
            shopper,
        )
        .order_by(n.sent_at, n.id)
    ).all()
    return dict(rows)  # ascending: the latest wins


def attribute(session: Executor, shop_id: int, order: Order, window: timedelta) -> int:
    """Record the order's lines that convert an alert; how many rows were new (a line already
    recorded, by an earlier delivery of the same order, is left as it is)."""
    converted = alerts_converted(session, shop_id, order, window)
    if order.currency:
        # An order's `currency` is the shop's: the dashboard shows its figures in it.
        session.execute(
            update(shops)
            .where(shops.c.id == shop_id, shops.c.currency.is_(None))
            .values(currency=order.currency)
        )
    added = 0
    for line in order.lines:
        notification_id = converted.get(line.variant_id)
        if notification_id is None:
            continue
        row = {
            "shop_id": shop_id,
            "notification_id": notification_id,
            "shopify_variant_id": line.variant_id,
            "order_id": order.id,
            "line_item_id": line.id,
            "quantity": line.quantity,
            "amount": line.amount,
            "currency": order.currency,
            "ordered_at": order.created_at,
            "created_at": utcnow(),
        }
        stmt = insert_ignoring_conflicts(session, conversions, row).returning(conversions.c.id)
        added += session.execute(stmt).first() is not None
    if (
        added
    ):  # an order of a closed day (a late delivery): that day's kept figures are counted again
        stats_epoch.bump_if_closed(session, shop_id, [order.created_at])
    return added
