"""The dashboard's figures over a window of whole UTC days ending today: signups made, signups
waiting now, signups alerted, the orders those alerts brought (conversions, attributed by
`webhooks/orders_create.py` into the `conversion` table) and what they earned, and per day the
signups made, alerts sent and conversions.

- `conversions`: conversion rows (order lines) ordered within the window.
- `recovered_revenue`: their amounts summed, as a string with two decimals ("0.00" when none),
  rounded half up, so a client never meets float artefacts.
- `conversion_rate`: conversions / notified (signups alerted within the window), a fraction
  rounded to 4 decimals (0.1234 is 12.34 %); 0.0 when nothing was notified. An order in the window
  may come from an alert just before it, so the rate can exceed 1 on a short window.
- `pending`: signups waiting now, whenever made (the dashboard passes the count its "most wanted"
  list made over the same rows).
- `currency`: the shop's currency; a shop whose currency is not known yet shows its conversions'
  (the most frequent one in the window), else None.

Speed (bench/admin_stats.py: a shop with 1,000,000 signups): the per-day signups and alerts are one
index-only count per day (`count(*)` of a `created_at` range on ix_intent_shop_created, the days
joined by UNION ALL, which PostgreSQL runs as a Parallel Append), not a GROUP BY of a date
expression, which computed a date for every row in the window (300-700 ms on PostgreSQL against
35-60 ms). "Waiting now" counts the narrow partial index ix_intent_pending_variant. On PostgreSQL
the three largest parts run at the same time on connections of their own (db.concurrently), so a
request waits for the longest of them rather than their sum.
"""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache, partial
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    Select,
    bindparam,
    func,
    literal_column,
    select,
    union_all,
)

from ..db import concurrently
from ..models import Conversion, Intent, Notification, Shop

intents, notifications, shops, conversions = (
    Intent.__table__,
    Notification.__table__,
    Shop.__table__,
    Conversion.__table__,
)
MAX_DAYS = 366
CENT = Decimal("0.01")


def day_of(connection: Connection, column):
    """A column's UTC date as 'YYYY-MM-DD' text (SQLite stores UTC text; PostgreSQL a timestamptz)."""
    if connection.dialect.name == "postgresql":
        return func.to_char(func.timezone("UTC", column), "YYYY-MM-DD")
    return func.substr(column, 1, 10)


def window_start(now: float, days: int) -> datetime:
    today = datetime.fromtimestamp(now, UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today - timedelta(days=days - 1)


@lru_cache(maxsize=32)
def _per_day_statement(what: str, days: int):
    """Built once per window length (90 sub-selects cost the server more to build than to bind).
    A UNION ALL of one count per day, which PostgreSQL may share among parallel workers."""
    if what == "signups":
        column, where = intents.c.created_at, [intents.c.shop_id == bindparam("shop_id")]
    else:
        sent = notifications.c
        column, where = (
            sent.sent_at,
            [sent.shop_id == bindparam("shop_id"), sent.kind == "alert", sent.status == "sent"],
        )
    counts: list[Select[Any, int]] = [
        select(literal_column(str(i)).label("day"), func.count().label("n")).where(
            *where, column >= bindparam(f"b{i}"), column < bindparam(f"b{i + 1}")
        )
        for i in range(days)
    ]
    return union_all(*counts) if days > 1 else counts[0]


def per_day_counts(
    connection: Connection, *, what: str, shop_id: int, start: datetime, days: int
) -> list[int]:
    """Signups made or alerts sent per UTC day from `start`: one indexed range count per day, in one statement."""
    bounds = {f"b{i}": start + timedelta(days=i) for i in range(days + 1)}
    counts = [0] * days
    for day, n in connection.execute(
        _per_day_statement(what, days), {"shop_id": shop_id, **bounds}
    ):
        counts[int(day)] = n
    return counts


def money(total: float | Decimal | None) -> str:
    return str(Decimal(str(total or 0)).quantize(CENT, rounding=ROUND_HALF_UP))


def _conversions(
    connection: Connection, shop_id: int, start: datetime
) -> tuple[dict, Decimal, str | None]:
    """Per day: count; in all: the revenue and the most frequent currency."""
    c = conversions.c
    rows = connection.execute(
        select(
            day := day_of(connection, c.ordered_at), c.currency, func.count(), func.sum(c.amount)
        )
        .where(c.shop_id == shop_id, c.ordered_at >= start)
        .group_by(day, c.currency)
    ).all()
    by_day: dict[str, int] = {}
    by_currency: dict[str | None, int] = {}
    revenue = Decimal(0)
    for date, currency, count, amount in rows:
        by_day[date] = by_day.get(date, 0) + count
        by_currency[currency] = by_currency.get(currency, 0) + count
        revenue += Decimal(str(amount or 0))
    known = {k: v for k, v in by_currency.items() if k}
    return by_day, revenue, max(known, key=known.__getitem__) if known else None


def _waiting(connection: Connection, shop_id: int) -> int:
    return connection.execute(
        select(func.count()).where(intents.c.shop_id == shop_id, intents.c.status == "pending")
    ).scalar_one()


def _outcomes(connection: Connection, shop_id: int, start: datetime, days: int) -> tuple:
    """Alerts per day, signups notified, conversions, the shop's currency: the smaller counts."""
    alerts = per_day_counts(connection, what="alerts", shop_id=shop_id, start=start, days=days)
    notified = connection.execute(
        select(func.count()).where(intents.c.shop_id == shop_id, intents.c.notified_at >= start)
    ).scalar_one()
    currency = connection.execute(
        select(shops.c.currency).where(shops.c.id == shop_id)
    ).scalar_one()
    return alerts, notified, _conversions(connection, shop_id, start), currency


def compute(
    engine: Engine,
    shop_id: int,
    days: int,
    now: float,
    beside: Callable[[Connection], dict] | None = None,
) -> tuple[dict[str, Any], dict | None]:
    """The figures, their three largest parts counted at the same time (`concurrently`): signups per
    day, signups waiting now, and the rest. `beside` (the dashboard's most wanted: a listing with
    the shop's `pending` total) is counted instead of the waiting signups, from the same scan; its
    result comes back with the figures."""
    start = window_start(now, days)
    (
        signups,
        waiting,
        (alerts, notified, (conversions_by_day, revenue, their_currency), currency),
    ) = concurrently(
        engine,
        partial(per_day_counts, what="signups", shop_id=shop_id, start=start, days=days),
        beside or partial(_waiting, shop_id=shop_id),
        partial(_outcomes, shop_id=shop_id, start=start, days=days),
    )
    pending = waiting["pending"] if beside else waiting
    converted = sum(conversions_by_day.values())
    per_day = []
    for offset in range(days):
        date = (start + timedelta(days=offset)).date().isoformat()
        per_day.append(
            {
                "date": date,
                "signups": signups[offset],
                "alerts": alerts[offset],
                "conversions": conversions_by_day.get(date, 0),
            }
        )
    return {
        "days": days,
        "signups": sum(signups),
        "pending": pending,
        "notified": notified,
        "conversions": converted,
        "conversion_rate": round(converted / notified, 4) if notified else 0.0,
        "recovered_revenue": money(revenue),
        "currency": currency or their_currency,
        "per_day": per_day,
    }, (waiting if beside else None)
