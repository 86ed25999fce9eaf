"""Reminders (the shop's `reminders`, issue 18 item 4): up to two, each `after_days` (1-30) after
an alert was sent, while the variant is still in stock and the shopper has not bought it.

A periodic task (`schedule`) writes a stage's reminders as notifications of kind `reminder`
(`reminder_stage`, `follows_id`: the alert), due at once, for alerts sent between `after_days`
and `after_days` + GRACE_DAYS ago: turning reminders on does not remind last year's alerts. A
stage after the first follows only where the one before it was written. They then go through the
outbox like any message, so unsubscribes, SMS quiet hours and send rates hold; and just before one
is sent (`drop_stale`) it is cancelled if the variant sold out or the shopper bought it meanwhile.
"In stock" is the variant's stock at the locations the shop counts (and, with published_only, a
published product); markets' own stock is not looked at. An order of the variant after the alert
(orders/create, conversions.py) counts as bought, whichever of the alert or a reminder it is
attributed to; reminders count in conversions like alerts.

The texts are the merchant's per language (`subject`, `intro`, `sms`, each optional, with
{product} and {shop}, and {url} in the SMS) or the app's own, translated (templates/i18n)."""

import json
import string
from datetime import timedelta
from typing import Any

from sqlalchemy import and_, case, exists, insert, literal, or_, select, update
from sqlalchemy.orm import Session

from ..db import among, rowcount
from ..models import (
    Customer,
    Intent,
    IntentStatus,
    Notification,
    NotificationKind,
    NotificationStatus,
    Shop,
    Variant,
    utcnow,
)
from .attempts import Claimed
from .outbox import bought
from .render import available_locales

STAGES = 2
GRACE_DAYS = 2
TEXTS = {"subject": (150, {"product", "shop"}), "intro": (600, {"product", "shop"})}
TEXTS["sms"] = (300, {"product", "shop", "url"})
OUT_OF_STOCK = "Not sent: the product sold out again before the reminder went out"
BOUGHT = "Not sent: the shopper bought it after the alert"

notifications, intents, shops = Notification.__table__, Intent.__table__, Shop.__table__
variants, customers = Variant.__table__, Customer.__table__
_variant_of_intent = and_(
    variants.c.shop_id == intents.c.shop_id,
    variants.c.shopify_variant_id == intents.c.shopify_variant_id,
)


# -- the setting ------------------------------------------------------------------------------


def _text(value: Any, field: str) -> str:
    limit, allowed = TEXTS[field]
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{field} must be text")
    if len(value) > limit or any(ord(c) < 32 and c != "\n" for c in value):
        raise ValueError(f"{field} must be at most {limit} characters, without control characters")
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(value) if name is not None}
    except ValueError:
        raise ValueError(f"{field}: a {{ without its }} (write {{{{ for a brace)") from None
    if not names <= allowed:
        words = ", ".join("{" + n + "}" for n in sorted(allowed))
        raise ValueError(f"{field} may use only {words}")
    return value.strip()


def parse_setting(value: Any) -> str | None:
    """The setting as stored (JSON), or None for no reminders; ValueError in the merchant's words."""
    if value is None or value == []:
        return None
    if not isinstance(value, list) or len(value) > STAGES:
        raise ValueError(f"must be a list of at most {STAGES} reminders, or null for none")
    kept, last = [], 0
    for n, stage in enumerate(value, 1):
        if not isinstance(stage, dict) or set(stage) - {"after_days", "texts"}:
            raise ValueError(f"reminder {n} must be an object with after_days and texts")
        days = stage.get("after_days")
        if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 30:
            raise ValueError(f"reminder {n}: after_days must be a whole number from 1 to 30")
        if days <= last:
            raise ValueError(f"reminder {n}: after_days must be later than the reminder before")
        last = days
        texts = stage.get("texts") or {}
        if not isinstance(texts, dict):
            raise ValueError(f"reminder {n}: texts must be an object by language (en, de, fr)")
        checked: dict[str, dict[str, str]] = {}
        for locale, fields in texts.items():
            if locale not in available_locales():
                raise ValueError(f"reminder {n}: texts in {str(locale)[:10]!r}: unknown language")
            if not isinstance(fields, dict) or set(fields) - set(TEXTS):
                raise ValueError(f"reminder {n}: texts.{locale} may have subject, intro and sms")
            try:
                checked[locale] = {f: _text(v, f) for f, v in fields.items()}
            except ValueError as exc:
                raise ValueError(f"reminder {n}: texts.{locale}.{exc}") from None
        kept.append({"after_days": days, "texts": checked})
    return json.dumps(kept, sort_keys=True)


def stages(raw: str | None) -> list[dict[str, Any]]:
    return json.loads(raw) if raw else []


# -- writing them -----------------------------------------------------------------------------


def _in_stock():
    """The variant's row (joined) says it is in stock for alerts: at least the shop's minimum, and
    published if the shop alerts only for published products."""
    threshold = case((shops.c.min_restock_quantity > 1, shops.c.min_restock_quantity), else_=1)
    return and_(
        variants.c.sellable >= threshold,
        or_(shops.c.published_only.is_(False), variants.c.published.is_not(False)),
    )


def schedule(session: Session) -> int:
    """Write the reminders that are due, for every installed shop with reminders; how many."""
    now = utcnow()
    written = 0
    rows = session.execute(
        select(shops.c.id, shops.c.reminders).where(
            shops.c.reminders.is_not(None), shops.c.uninstalled_at.is_(None)
        )
    ).all()
    for shop_id, raw in rows:
        for stage, setting in enumerate(stages(raw), 1):
            written += _write_stage(session, shop_id, stage, setting["after_days"], now)
    return written


def _write_stage(session: Session, shop_id: int, stage: int, after_days: int, now) -> int:
    alert, earlier, same = (
        notifications.alias("alert"),
        notifications.alias("earlier"),
        notifications.alias("same"),
    )
    due = now - timedelta(days=after_days)
    conditions = [
        alert.c.shop_id == shop_id,
        alert.c.kind == NotificationKind.alert.value,
        alert.c.status == NotificationStatus.sent.value,
        alert.c.sent_at <= due,
        alert.c.sent_at > due - timedelta(days=GRACE_DAYS),
        intents.c.status == IntentStatus.notified.value,
        intents.c.unsubscribed_at.is_(None),
        ~exists().where(
            customers.c.id == intents.c.customer_id, customers.c.unsubscribed_at.is_not(None)
        ),
        ~exists().where(same.c.follows_id == alert.c.id, same.c.reminder_stage == stage),
        ~bought(alert.c.intent_id),
        _in_stock(),
    ]
    if stage > 1:
        conditions.append(
            exists().where(
                earlier.c.follows_id == alert.c.id, earlier.c.reminder_stage == stage - 1
            )
        )
    chosen = (
        select(
            alert.c.shop_id,
            alert.c.intent_id,
            alert.c.channel,
            literal(NotificationKind.reminder.value),
            literal(stage),
            alert.c.id,
            literal(NotificationStatus.pending.value),
            literal(0),
            literal(now),
            literal(now),
            literal(now),
        )
        .join(intents, intents.c.id == alert.c.intent_id)
        .join(shops, shops.c.id == alert.c.shop_id)
        .join(variants, _variant_of_intent)
        .where(*conditions)
        .order_by(alert.c.id)
    )
    columns = [
        "shop_id",
        "intent_id",
        "channel",
        "kind",
        "reminder_stage",
        "follows_id",
        "status",
        "attempts",
        "next_attempt_at",
        "created_at",
        "updated_at",
    ]
    return max(rowcount(session.execute(insert(notifications).from_select(columns, chosen))), 0)


# -- just before sending ----------------------------------------------------------------------


def drop_stale(session: Session, claimed: list[Claimed]) -> list[Claimed]:
    """Of notifications just claimed, those to send: a reminder whose variant sold out, or whose
    shopper bought it, since it was written is cancelled with the reason."""
    ids = [c.id for c in claimed if c.kind == NotificationKind.reminder.value]
    if not ids:  # alerts and confirmations are sent as claimed: nothing to look up
        return claimed
    rows = session.execute(
        select(
            notifications.c.id,
            bought(notifications.c.intent_id).label("bought"),
            _in_stock().label("in_stock"),
        )
        .join(intents, intents.c.id == notifications.c.intent_id)
        .join(shops, shops.c.id == notifications.c.shop_id)
        .outerjoin(variants, _variant_of_intent)
        .where(
            among(session, notifications.c.id, ids),
        )
    ).all()
    stale = {r.id: BOUGHT if r.bought else OUT_OF_STOCK for r in rows if r.bought or not r.in_stock}
    for reason in set(stale.values()):
        session.execute(
            update(notifications)
            .where(notifications.c.id.in_([i for i, why in stale.items() if why == reason]))
            .values(
                status=NotificationStatus.cancelled.value,
                last_error=reason,
                locked_until=None,
                locked_by=None,
                updated_at=utcnow(),
            )
        )
    return [c for c in claimed if c.id not in stale]
