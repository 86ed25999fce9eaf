"""The dashboard's figures of whole UTC days, counted exactly from the rows: signups made, alerts
sent, conversions (orders attributed to alerts) with their revenue and currencies. stats.py counts
today this way on every request; kept_days.py counts a closed day once and keeps it.

Signups and alerts per day are one index-only count per day (`count(*)` of a time range on
ix_intent_shop_created / ix_notification_shop_kind_status_sent, the days joined by UNION ALL, which
PostgreSQL runs as a Parallel Append), not a GROUP BY of a date expression, which computed a date for
every row in the window (300-700 ms on PostgreSQL against 35-60 ms for 1,000,000 signups)."""

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, Select, bindparam, func, literal_column, select, union_all

from ..models import Conversion, Intent, Notification

intents, notifications, conversions = (
    Intent.__table__,
    Notification.__table__,
    Conversion.__table__,
)


@dataclass
class Day:
    signups: int = 0
    alerts: int = 0
    conversions: int = 0
    revenue: Decimal = Decimal(0)
    currencies: dict[str, int] = field(default_factory=dict)  # conversions by known currency

    def add(self, other: "Day") -> None:
        self.signups += other.signups
        self.alerts += other.alerts
        self.conversions += other.conversions
        self.revenue += other.revenue
        for currency, n in other.currencies.items():
            self.currencies[currency] = self.currencies.get(currency, 0) + n


def day_of(connection: Connection, column):
    """A column's UTC date as 'YYYY-MM-DD' text (SQLite stores UTC text; PostgreSQL a timestamptz)."""
    if connection.dialect.name == "postgresql":
        return func.to_char(func.timezone("UTC", column), "YYYY-MM-DD")
    return func.substr(column, 1, 10)


@lru_cache(maxsize=32)
def _per_day_statement(what: str, days: int):
    """Built once per number of days (90 sub-selects cost the server more to build than to bind).
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


def conversions_by_day(
    connection: Connection, shop_id: int, start: datetime, end: datetime | None
) -> dict[str, Day]:
    """Conversions ordered from `start` (until `end`, if given) by UTC date 'YYYY-MM-DD'."""
    c = conversions.c
    where = [c.shop_id == shop_id, c.ordered_at >= start]
    if end is not None:
        where.append(c.ordered_at < end)
    rows = connection.execute(
        select(
            day := day_of(connection, c.ordered_at), c.currency, func.count(), func.sum(c.amount)
        )
        .where(*where)
        .group_by(day, c.currency)
    ).all()
    by_day: dict[str, Day] = {}
    for when, currency, count, amount in rows:
        found = by_day.setdefault(when, Day())
        found.conversions += count
        found.revenue += Decimal(str(amount or 0))
        if currency:
            found.currencies[currency] = found.currencies.get(currency, 0) + count
    return by_day


def count_days(
    connection: Connection, shop_id: int, start: datetime, days: int, *, open_ended: bool = False
) -> tuple[list[Day], Day]:
    """The `days` days from `start`, each counted from the rows; and, when `open_ended`, the
    conversions dated after the last day (an order's clock ahead of ours), which the totals count."""
    signups = per_day_counts(connection, what="signups", shop_id=shop_id, start=start, days=days)
    alerts = per_day_counts(connection, what="alerts", shop_id=shop_id, start=start, days=days)
    end = start + timedelta(days=days)
    converted = conversions_by_day(connection, shop_id, start, None if open_ended else end)
    out = []
    for offset in range(days):
        day = converted.pop(date_at(start, offset), Day())
        day.signups, day.alerts = signups[offset], alerts[offset]
        out.append(day)
    beyond = Day()
    for rest in converted.values():
        beyond.add(rest)
    return out, beyond


def date_at(start: datetime, offset: int) -> str:
    return (start + timedelta(days=offset)).date().isoformat()


def as_date(start: datetime, offset: int) -> date:
    return (start + timedelta(days=offset)).date()
