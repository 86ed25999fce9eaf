"""The dashboard's figures over a window of whole UTC days ending today: signups made, signups
waiting now, signups alerted, and per day the signups made and alerts sent. Conversions and
recovered revenue stay 0 until orders are attributed (a later part of issue 9)."""

from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import Connection, func, select

from ..models import Intent, Notification, Shop

intents, notifications, shops = Intent.__table__, Notification.__table__, Shop.__table__
MAX_DAYS = 366


def day_of(connection: Connection, column):
    """A column's UTC date as 'YYYY-MM-DD' text (SQLite stores UTC text; PostgreSQL a timestamptz)."""
    if connection.dialect.name == "postgresql":
        return func.to_char(func.timezone("UTC", column), "YYYY-MM-DD")
    return func.substr(column, 1, 10)


def window_start(now: float, days: int) -> datetime:
    today = datetime.fromtimestamp(now, timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    return today - timedelta(days=days - 1)


def compute(connection: Connection, shop_id: int, days: int, now: float) -> dict[str, Any]:
    start = window_start(now, days)
    mine = intents.c.shop_id == shop_id
    signups_by_day = dict(connection.execute(
        select(day := day_of(connection, intents.c.created_at), func.count())
        .where(mine, intents.c.created_at >= start).group_by(day)).all())
    sent = notifications.c
    alerts_by_day = dict(connection.execute(
        select(day := day_of(connection, sent.sent_at), func.count())
        .where(sent.shop_id == shop_id, sent.kind == "alert", sent.status == "sent", sent.sent_at >= start)
        .group_by(day)).all())
    pending = connection.execute(select(func.count()).where(mine, intents.c.status == "pending")).scalar_one()
    notified = connection.execute(
        select(func.count()).where(mine, intents.c.notified_at >= start)).scalar_one()
    currency = connection.execute(select(shops.c.currency).where(shops.c.id == shop_id)).scalar_one()
    per_day = []
    for offset in range(days):
        date = (start + timedelta(days=offset)).date().isoformat()
        per_day.append({"date": date, "signups": signups_by_day.get(date, 0), "alerts": alerts_by_day.get(date, 0)})
    return {
        "days": days,
        "signups": sum(signups_by_day.values()),
        "pending": pending,
        "notified": notified,
        "conversions": 0,
        "conversion_rate": 0.0,
        "recovered_revenue": "0.00",
        "currency": currency,
        "per_day": per_day,
    }
