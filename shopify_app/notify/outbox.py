"""The outbox. A restock decision writes its event, its Notification rows and the intents' new
status in one transaction (`decide`); workers then claim due rows, send them, and write each
attempt down (`attempts.py`). Nothing is sent that was not first written down.

With a shop's automatic sending off, `decide` writes the alerts `held` and leaves their signups
pending; no worker claims a held row until the merchant releases it (`notify/manual.py`)."""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, exists, func, insert, literal, or_, select, update
from sqlalchemy.orm import Session

from .. import restock, stock_scope
from ..db import rowcount
from ..models import (
    NOTIFICATION_UNSENT,
    Conversion,
    Customer,
    DeliveryPolicy,
    Intent,
    IntentStatus,
    Notification,
    NotificationStatus,
    RestockEvent,
    utcnow,
)

intents, customers, conversions = Intent.__table__, Customer.__table__, Conversion.__table__
notifications, events = Notification.__table__, RestockEvent.__table__


def policy_of(shop: Mapping) -> restock.Policy:
    """The shop's alert policy, from its row."""
    return restock.Policy(
        min_restock_quantity=shop["min_restock_quantity"],
        delivery=DeliveryPolicy(shop["delivery_policy"]),
        batch_multiplier=shop["batch_multiplier"],
        batch_interval_seconds=shop["batch_interval_seconds"],
        skip_over_quantity=shop["skip_over_quantity"],
        automatic_sending=shop.get("automatic_sending", True),
        resend=bool(shop.get("resend_on_restock", False)),
        sms_cap=shop.get("sms_cap_per_restock"),
    )


def has_held_alert():
    """The signup's alert was written while automatic sending was off and waits for the merchant."""
    return exists().where(
        notifications.c.intent_id == intents.c.id,
        notifications.c.status == NotificationStatus.held.value,
    )


def audience_filter(scope: stock_scope.Scope, audience: str) -> Any:
    """The signups of an audience (stock_scope.py): a market's own, or the rest; None for all."""
    if audience != stock_scope.GENERAL:
        return intents.c.shopify_market_id == int(audience)
    if not scope.markets:
        return None
    return or_(
        intents.c.shopify_market_id.is_(None),
        intents.c.shopify_market_id.not_in(scope.market_ids()),
    )


def bought(intent_id: Any):
    """The shopper bought the variant after an alert: an order line attributed to one of the
    signup's messages (conversions.py)."""
    theirs = notifications.alias("theirs")
    return exists().where(
        theirs.c.intent_id == intent_id, conversions.c.notification_id == theirs.c.id
    )


def _unsent():
    """The signup has a message not sent yet (on its way, or held for the merchant)."""
    unsent = notifications.alias("unsent_alert")
    return exists().where(
        unsent.c.intent_id == intents.c.id, unsent.c.status.in_(NOTIFICATION_UNSENT)
    )


def _eligible(shop_id: int, variant_id: int, most: int | None, among: Any = None, resend=False):
    """Pending, confirmed signups for the variant (of an audience, `among`) whose customer has not
    unsubscribed and whose alert is not already held for the merchant, oldest first. With
    `resend` (resend_on_restock), also the signups alerted once before that did not buy and have
    not been alerted again."""
    waiting = and_(intents.c.status == IntentStatus.pending.value, ~has_held_alert())
    if resend:
        waiting = or_(
            waiting,
            and_(
                intents.c.status == IntentStatus.notified.value,
                intents.c.resent_at.is_(None),
                ~bought(intents.c.id),
                ~_unsent(),
            ),
        )
    conditions = [
        intents.c.shop_id == shop_id,
        intents.c.shopify_variant_id == variant_id,
        waiting,
        intents.c.optin_confirmed.is_(True),
        or_(intents.c.channel != "push", intents.c.push_subscription.is_not(None)),
        ~exists().where(
            customers.c.id == intents.c.customer_id, customers.c.unsubscribed_at.is_not(None)
        ),
    ]
    if most is not None:
        conditions.append(intents.c.quantity <= most)
    if among is not None:
        conditions.append(among)
    return and_(*conditions)


def has_waiting(
    session: Session, shop_id: int, variant_id: int, among: Any = None, resend: bool = False
) -> bool:
    return (
        session.execute(
            select(literal(1)).where(_eligible(shop_id, variant_id, None, among, resend)).limit(1)
        ).first()
        is not None
    )


def _waiting(session: Session, shop_id: int, variant_id: int, among: Any, resend: bool) -> int:
    return session.execute(
        select(func.count())
        .select_from(intents)
        .where(_eligible(shop_id, variant_id, None, among, resend))
    ).scalar_one()


@dataclass(frozen=True)
class Decision:
    event_id: int
    chosen: int
    more_waiting: bool


def decide(
    session: Session,
    shop_id: int,
    policy: restock.Policy,
    variant_id: int,
    *,
    before: int | None,
    after: int,
    trigger: str,
    batch_number: int = 1,
    locations: str | None = None,
    received_at: datetime | None = None,
    among: Any = None,
) -> Decision:
    """Write the restock event and its notifications; mark the chosen intents. The caller holds the
    variant's row lock (or SQLite's write lock) so two workers never decide the same restock.
    With automatic sending off the notifications are written held and the intents stay pending
    (the signups page shows them held) until the merchant sends them."""
    now = utcnow()
    limit = restock.batch_size(after, policy)
    event_id = session.execute(
        insert(events)
        .values(
            shop_id=shop_id,
            shopify_variant_id=variant_id,
            stock_before=before,
            stock_after=after,
            policy=policy.describe(),
            batch_number=batch_number,
            chosen=0,
            trigger=trigger,
            waiting=_waiting(session, shop_id, variant_id, among, policy.resend),
            batch_size=limit,
            location_ids=locations,
            received_at=received_at,
            created_at=now,
        )
        .returning(events.c.id)
    ).scalar_one()
    status = NotificationStatus.pending if policy.automatic_sending else NotificationStatus.held
    again = intents.c.status == IntentStatus.notified.value  # chosen a second time (resend)
    chosen = (
        select(
            intents.c.shop_id,
            intents.c.id,
            literal(event_id),
            intents.c.channel,
            literal(status.value),
            literal(0),
            literal(now),
            literal(now),
            literal(now),
            again,
        )
        .where(
            _eligible(
                shop_id, variant_id, restock.max_quantity(after, policy), among, policy.resend
            )
        )
        # Those never alerted before those alerted once already, each oldest first.
        .order_by(case((again, 1), else_=0), intents.c.id)
    )
    if limit is not None:
        chosen = chosen.limit(limit)
    columns = [
        "shop_id",
        "intent_id",
        "restock_event_id",
        "channel",
        "status",
        "attempts",
        "next_attempt_at",
        "created_at",
        "updated_at",
        "resend",
    ]
    session.execute(insert(notifications).from_select(columns, chosen))
    of_event = notifications.c.restock_event_id == event_id
    sms_held = _cap_sms(session, event_id, policy.sms_cap) if policy.automatic_sending else None
    # rowcount of INSERT ... SELECT is not reported by every driver: count what was written.
    count = session.execute(
        select(func.count())
        .select_from(notifications)
        .where(notifications.c.restock_event_id == event_id)
    ).scalar_one()
    session.execute(
        update(intents)
        .where(
            intents.c.id.in_(select(notifications.c.intent_id).where(of_event)),
            intents.c.status == IntentStatus.notified.value,
        )
        .values(resent_at=now, updated_at=now)
    )
    # Signups whose alert is on its way are notified; a held one's signup waits for the merchant.
    session.execute(
        update(intents)
        .where(
            intents.c.id.in_(
                select(notifications.c.intent_id).where(
                    of_event, notifications.c.status == NotificationStatus.pending.value
                )
            )
        )
        .values(status=IntentStatus.notified.value, updated_at=now)
    )
    session.execute(
        update(events).where(events.c.id == event_id).values(chosen=count, sms_held=sms_held)
    )
    return Decision(
        event_id=event_id,
        chosen=count,
        more_waiting=has_waiting(session, shop_id, variant_id, among, policy.resend),
    )


def _cap_sms(session: Session, event_id: int, cap: int | None) -> int | None:
    """Hold the restock's SMS past the shop's cap (the oldest signups' go first): the merchant
    sees how many and their segments, and releases them ("Send all held"). How many were held."""
    if cap is None:
        return None
    sms = and_(
        notifications.c.restock_event_id == event_id,
        notifications.c.channel == "sms",
        notifications.c.status == NotificationStatus.pending.value,
    )
    first = select(notifications.c.id).where(sms).order_by(notifications.c.id).limit(cap)
    held = session.execute(
        update(notifications)
        .where(sms, notifications.c.id.not_in(first.scalar_subquery()))
        .values(status=NotificationStatus.held.value)
    )
    return rowcount(held)


def resend(session: Session, notification_id: int) -> bool:
    """Put a failed notification back in the queue (the merchant's "send again")."""
    result = session.execute(
        update(notifications)
        .where(
            notifications.c.id == notification_id,
            notifications.c.status == NotificationStatus.failed.value,
        )
        .values(status=NotificationStatus.pending.value, next_attempt_at=utcnow(), last_error=None)
    )
    return rowcount(result) == 1
