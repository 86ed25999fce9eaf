"""The outbox, read by the workers: claim due notifications of the enabled channels for a lease
(`claim`), load the alerts behind them (`load_alerts`), and write each attempt down and move its
notification and signup on (`record`), retrying with backoff up to MAX_SEND_ATTEMPTS. A
provider's "slow down" pauses its channel (pace.py) and does not count as an attempt."""

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple

from sqlalchemy import (
    Connection,
    and_,
    bindparam,
    exists,
    func,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.orm import Session

from .. import events_out
from ..contacts import sending_address
from ..db import among
from ..models import (
    Customer,
    Intent,
    Notification,
    NotificationKind,
    NotificationStatus,
    SendAttempt,
    Shop,
    Variant,
    utcnow,
)
from ..shops import INSTALLED
from . import pace
from .render import Alert

intents, customers, shops = Intent.__table__, Customer.__table__, Shop.__table__
notifications, attempts, variants = (
    Notification.__table__,
    SendAttempt.__table__,
    Variant.__table__,
)
MAX_SEND_ATTEMPTS = 8
BACKOFF_BASE = 2.0
BACKOFF_MAX = 3600.0


def _due(channels: list[str], now: datetime):
    return and_(
        notifications.c.channel.in_(channels),
        # a shop that uninstalled the app sends nothing: its messages wait (held) until a reinstall
        exists().where(shops.c.id == notifications.c.shop_id, INSTALLED),
        # `held` (automatic sending off) is never due: the merchant releases it to pending
        or_(
            and_(
                notifications.c.status == NotificationStatus.pending.value,
                notifications.c.next_attempt_at <= now,
            ),
            and_(
                notifications.c.status == NotificationStatus.sending.value,
                notifications.c.locked_until < now,
            ),
        ),
    )


SHOPS_PER_CLAIM = 50  # a claim shares its batch among at most this many shops, in turn


def _due_shops(session: Session, channels: list[str], after: int, most: int) -> list[int]:
    """Up to `most` shops with pending notifications on `channels`, in turn from the one after
    `after` (then from the lowest): a loose index scan on ix_notification_pending_shop, one probe
    per shop however many messages each has queued."""
    found: list[int] = []
    for low, high in ((after, None), (0, after)):
        cursor = low
        while len(found) < most:
            conditions = [
                notifications.c.status == NotificationStatus.pending.value,
                notifications.c.shop_id > cursor,
                notifications.c.channel.in_(channels),
            ]
            if high is not None:
                conditions.append(notifications.c.shop_id <= high)
            shop = session.execute(
                select(func.min(notifications.c.shop_id)).where(*conditions)
            ).scalar()
            if shop is None:
                break
            found.append(shop)
            cursor = shop
    return found


class Claimed(NamedTuple):
    """A notification just claimed: what the sender checks before loading it (quiet hours look
    only at SMS, `reminders.drop_stale` only at reminders)."""

    id: int
    channel: str
    kind: str


def _claim_ids(
    session: Session, worker: str, where, limit: int, lease: timedelta, now
) -> list[Claimed]:
    due = (
        select(notifications.c.id)
        .where(where)
        .order_by(notifications.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    rows = session.execute(
        update(notifications)
        .where(notifications.c.id.in_(due.scalar_subquery()))
        .values(
            status=NotificationStatus.sending.value,
            locked_by=worker,
            locked_until=now + lease,
            attempts=notifications.c.attempts + 1,
            updated_at=now,
        )
        .returning(notifications.c.id, notifications.c.channel, notifications.c.kind)
    ).all()
    return [Claimed(*row) for row in rows]


def claim(
    session: Session, worker: str, channels: list[str], *, limit: int, lease: timedelta
) -> list[int]:
    """Take up to `limit` due notifications of the enabled channels for `lease`; their ids."""
    return [c.id for c in claim_in_turn(session, worker, channels, limit=limit, lease=lease)[0]]


def claim_in_turn(
    session: Session,
    worker: str,
    channels: list[str],
    *,
    limit: int,
    lease: timedelta,
    after_shop: int = 0,
) -> tuple[list[Claimed], int]:
    """Take up to `limit` due notifications of the enabled channels for `lease`: them, oldest
    first, and the last shop served (the next claim's `after_shop`, so shops take turns).

    Fair across shops: the batch is shared among the shops with messages waiting (up to
    SHOPS_PER_CLAIM of them, taken in turn from the one after `after_shop`), each shop's oldest
    first, so one shop's 100,000-alert restock queued first does not hold back another's ten. A
    share one shop leaves unused goes to the others. Messages whose worker died (lease passed) are
    taken back first."""
    if not channels:
        return [], after_shop
    now = utcnow()
    claimed = _claim_ids(
        session,
        worker,
        and_(
            notifications.c.channel.in_(channels),
            notifications.c.status == NotificationStatus.sending.value,
            notifications.c.locked_until < now,
            exists().where(shops.c.id == notifications.c.shop_id, INSTALLED),
        ),
        limit,
        lease,
        now,
    )
    shop_ids = _due_shops(session, channels, after_shop, SHOPS_PER_CLAIM)
    last = after_shop
    for n, shop_id in enumerate(shop_ids):
        room = limit - len(claimed)
        if room <= 0:
            break
        last = shop_id
        share = max(1, room // (len(shop_ids) - n))
        claimed += _claim_ids(
            session,
            worker,
            and_(notifications.c.shop_id == shop_id, _due(channels, now)),
            share,
            lease,
            now,
        )
    return sorted(claimed), last


def load_alerts(session: Session, ids: list[int]) -> list[tuple[Alert, int]]:
    """The alerts behind claimed notifications, with each one's attempt number."""
    if not ids:
        return []
    v = variants.alias("v")
    rows = session.execute(
        select(
            notifications.c.id,
            notifications.c.attempts,
            notifications.c.kind,
            notifications.c.reminder_stage,
            shops.c.reminders,
            intents.c.id.label("intent_id"),
            intents.c.channel,
            intents.c.email,
            intents.c.phone,
            intents.c.push_subscription,
            intents.c.shopify_variant_id,
            func.coalesce(v.c.product_title, intents.c.product_title).label("product_title"),
            func.coalesce(v.c.variant_title, intents.c.variant_title).label("variant_title"),
            v.c.price,
            func.coalesce(v.c.currency, shops.c.currency).label("currency"),
            v.c.handle,
            v.c.image_url,
            customers.c.locale,
            customers.c.name,
            shops.c.domain,
            shops.c.sender_name,
            shops.c.reply_to,
            shops.c.name.label("shop_name"),
            shops.c.brand_logo_url,
            shops.c.brand_color,
        )
        .join(intents, intents.c.id == notifications.c.intent_id)
        .join(customers, customers.c.id == intents.c.customer_id)
        .join(shops, shops.c.id == notifications.c.shop_id)
        .outerjoin(
            v,
            and_(
                v.c.shop_id == intents.c.shop_id,
                v.c.shopify_variant_id == intents.c.shopify_variant_id,
            ),
        )
        .where(among(session, notifications.c.id, ids))
        .order_by(notifications.c.id)
    ).all()
    found = []
    for r in rows:
        to = sending_address(r.channel, r.email, r.phone, r.push_subscription)
        alert = Alert(
            notification_id=r.id,
            intent_id=r.intent_id,
            channel=r.channel,
            to=to or "",
            shop_domain=r.domain,
            shopify_variant_id=r.shopify_variant_id,
            product_title=r.product_title,
            variant_title=r.variant_title,
            price=r.price,
            handle=r.handle,
            image_url=r.image_url,
            locale=r.locale,
            customer_name=r.name,
            kind=r.kind,
            reminder_stage=r.reminder_stage,
            reminders=r.reminders,
            sender_name=r.sender_name,
            reply_to=r.reply_to,
            shop_name=r.shop_name,
            currency=r.currency,
            brand_logo_url=r.brand_logo_url,
            brand_color=r.brand_color,
        )
        found.append((alert, r.attempts))
    return found


@dataclass
class Outcome:
    notification_id: int
    intent_id: int
    attempt: int
    # sent | retry | failed; throttled: the provider said slow down (its channel pauses);
    # deferred: not tried, its channel paused meanwhile. Neither counts as an attempt.
    outcome: str
    provider_id: str | None = None
    error: str | None = None
    retry_after: float | None = None
    subscription_gone: bool = False
    channel: str = ""


NOT_COUNTED = ("throttled", "deferred")


def backoff(attempt: int, retry_after: float | None = None) -> float:
    """Seconds before the next try: exponential with full jitter, or what the provider asked."""
    if retry_after is not None:
        return min(BACKOFF_MAX, retry_after)
    return random.uniform(0.5, 1.0) * min(BACKOFF_MAX, BACKOFF_BASE**attempt)


def record(session: Session | Connection, worker: str, outcomes: list[Outcome]) -> None:
    """Write each attempt and move each notification (and its intent) on, in bulk; an alert's
    final outcome (sent, or given up on) is an event (events_out.py), in the same transaction."""
    if not outcomes:
        return
    now = utcnow()
    tried = [
        {
            "notification_id": o.notification_id,
            "attempt": o.attempt,
            "outcome": o.outcome,
            "provider_id": o.provider_id,
            "error": (o.error or "")[:2000] or None,
            "worker": worker,
            "at": now,
        }
        for o in outcomes
        if o.outcome != "deferred"
    ]
    if tried:  # all deferred (quiet hours, a paused channel): no attempt to write
        session.execute(insert(attempts), tried)
    rows = []
    for o in outcomes:
        if o.outcome == "retry" and o.attempt >= MAX_SEND_ATTEMPTS:
            o.outcome = "failed"
        status = (
            NotificationStatus.sent
            if o.outcome == "sent"
            else NotificationStatus.failed
            if o.outcome == "failed"
            else NotificationStatus.pending
        ).value
        wait = (
            backoff(o.attempt, o.retry_after)
            if o.outcome == "retry"
            else o.retry_after or 0.0
            if o.outcome in NOT_COUNTED
            else 0.0
        )
        rows.append(
            {
                "b_id": o.notification_id,
                "b_status": status,
                "b_provider": o.provider_id,
                "b_error": (o.error or "")[:2000] or None,
                "b_sent_at": now if o.outcome == "sent" else None,
                "b_next": now + timedelta(seconds=wait),
                "b_uncount": 1 if o.outcome in NOT_COUNTED else 0,
            }
        )
    postgresql = _dialect(session) == "postgresql"
    if postgresql:
        _settle_in_one_statement(session, worker, rows, now)
    else:
        session.execute(
            update(notifications)
            .where(notifications.c.id == bindparam("b_id"), notifications.c.locked_by == worker)
            .values(
                status=bindparam("b_status"),
                provider_id=bindparam("b_provider"),
                last_error=bindparam("b_error"),
                sent_at=bindparam("b_sent_at"),
                next_attempt_at=bindparam("b_next"),
                attempts=notifications.c.attempts - bindparam("b_uncount"),
                locked_until=None,
                updated_at=now,
            ),
            rows,
        )
    for o in outcomes:
        if o.outcome == "throttled":
            pace.pause(session, o.channel, now + timedelta(seconds=o.retry_after or 0.0))
    sent = [
        {"b_intent": o.intent_id, "b_notification": o.notification_id}
        for o in outcomes
        if o.outcome == "sent"
    ]
    if sent and postgresql:
        _count_on_signups_in_one_statement(session, sent, now)
    elif sent:  # an alert counts on its signup; a confirmation (double opt-in) does not
        is_alert = exists().where(
            notifications.c.id == bindparam("b_notification"),
            notifications.c.kind == NotificationKind.alert.value,
        )
        session.execute(
            update(intents)
            .where(intents.c.id == bindparam("b_intent"), is_alert)
            .values(
                notified_at=now,
                sent_notifications_count=intents.c.sent_notifications_count + 1,
                updated_at=now,
            ),
            sent,
        )
    events_out.alerts_settled(
        session,
        worker,
        sent=[o.notification_id for o in outcomes if o.outcome == "sent"],
        failed=[o.notification_id for o in outcomes if o.outcome == "failed"],
    )
    gone = [{"b_intent": o.intent_id} for o in outcomes if o.subscription_gone]
    if gone:
        session.execute(
            update(intents)
            .where(intents.c.id == bindparam("b_intent"))
            .values(push_subscription=None, updated_at=now),
            gone,
        )


def _dialect(session: Session | Connection) -> str:
    return (session.get_bind() if isinstance(session, Session) else session).dialect.name


# On PostgreSQL a group's outcomes are written in one statement each, the rows passed as arrays
# and joined back with unnest: an executemany is one statement per row, each built, sent and
# answered (psycopg pipelines them, but building and reading each still costs CPU per row).
_SETTLE = text(
    f"""
    UPDATE {notifications.name} AS n
    SET status = b.status, provider_id = b.provider_id, last_error = b.last_error,
        sent_at = b.sent_at, next_attempt_at = b.next_attempt_at,
        attempts = n.attempts - b.uncount, locked_until = NULL, updated_at = :now
    FROM unnest(
        CAST(:ids AS bigint[]), CAST(:statuses AS text[]), CAST(:provider_ids AS text[]),
        CAST(:errors AS text[]), CAST(:sent_ats AS timestamptz[]),
        CAST(:nexts AS timestamptz[]), CAST(:uncounts AS integer[])
    ) AS b(id, status, provider_id, last_error, sent_at, next_attempt_at, uncount)
    WHERE n.id = b.id AND n.locked_by = :worker
    """
)
# An alert counts on its signup, a confirmation (double opt-in) does not; a signup with two alerts
# sent in one group counts both, as the executemany does.
_COUNT_ON_SIGNUPS = text(
    f"""
    UPDATE {intents.name} AS i
    SET notified_at = :now, sent_notifications_count = i.sent_notifications_count + b.alerts,
        updated_at = :now
    FROM (
        SELECT s.intent_id, count(*) AS alerts
        FROM unnest(CAST(:intent_ids AS bigint[]), CAST(:notification_ids AS bigint[]))
            AS s(intent_id, notification_id)
        JOIN {notifications.name} AS n
            ON n.id = s.notification_id AND n.kind = '{NotificationKind.alert.value}'
        GROUP BY s.intent_id
    ) AS b
    WHERE i.id = b.intent_id
    """
)


def _settle_in_one_statement(
    session: Session | Connection, worker: str, rows: list[dict], now: datetime
) -> None:
    session.execute(
        _SETTLE,
        {
            "ids": [r["b_id"] for r in rows],
            "statuses": [r["b_status"] for r in rows],
            "provider_ids": [r["b_provider"] for r in rows],
            "errors": [r["b_error"] for r in rows],
            "sent_ats": [r["b_sent_at"] for r in rows],
            "nexts": [r["b_next"] for r in rows],
            "uncounts": [r["b_uncount"] for r in rows],
            "now": now,
            "worker": worker,
        },
    )


def _count_on_signups_in_one_statement(
    session: Session | Connection, sent: list[dict], now: datetime
) -> None:
    session.execute(
        _COUNT_ON_SIGNUPS,
        {
            "intent_ids": [r["b_intent"] for r in sent],
            "notification_ids": [r["b_notification"] for r in sent],
            "now": now,
        },
    )
