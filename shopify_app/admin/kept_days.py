"""The dashboard's figures of closed UTC days, counted once and kept in `stats_day` (migration 0017).

- Which days: those that closed at least SETTLE ago. A signup's `created_at` and an alert's
  `sent_at` are the time of the write that commits them a moment later, so a day is kept only
  when nothing dated in it can still be committing. Today, and yesterday in the first hour after
  midnight, are counted from the rows on every request (stats.py).
- When: lazily, by the dashboard itself: the days of the window it finds no valid row for are
  counted from the rows in one pass (the first request after midnight counts one day, a shop's
  first request the whole window) and saved with `INSERT ... ON CONFLICT DO UPDATE ... WHERE
  the kept row's epoch is older`, so requests racing to save the same day write the same figures
  once, on PostgreSQL and SQLite alike.
- Valid: a row counts while its `epoch` is the shop's `stats_epoch`. The few writes that change a
  closed day's figures add one to it (stats_epoch.py), in their own transaction. The epoch is read
  before the rows are counted: a write that commits before the read is in the count; one that
  commits after it leaves the saved row an epoch behind, and the next request counts the day
  again. A lost race costs a recount, never a wrong figure.
- The shop's deletion (shop/redact) deletes its rows (ON DELETE CASCADE).
"""

import json
import logging
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import Connection, select
from sqlalchemy.exc import IntegrityError, OperationalError

from ..db import dialect_insert
from ..models import Shop, StatsDay
from .day_counts import Day, as_date, count_days

log = logging.getLogger(__name__)
shops, stats_days = Shop.__table__, StatsDay.__table__
SETTLE = timedelta(hours=1)
E4 = Decimal("0.0001")


def closed_days(start: datetime, days: int, now: float) -> int:
    """How many of the window's first days are closed and settled (keepable)."""
    settled = (datetime.fromtimestamp(now, UTC) - SETTLE).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    return max(0, min(days, (settled - start).days))


def _from_row(row) -> Day:
    return Day(
        signups=row.signups,
        alerts=row.alerts,
        conversions=row.conversions,
        revenue=Decimal(row.revenue_e4).scaleb(-4),
        currencies=json.loads(row.currencies),
    )


def _to_row(shop_id: int, epoch: int, day: date, figures: Day) -> dict:
    return {
        "shop_id": shop_id,
        "day": day,
        "epoch": epoch,
        "signups": figures.signups,
        "alerts": figures.alerts,
        "conversions": figures.conversions,
        "revenue_e4": int(figures.revenue.quantize(E4, rounding=ROUND_HALF_UP).scaleb(4)),
        "currencies": json.dumps(figures.currencies, sort_keys=True),
    }


def _save(connection: Connection, rows: list[dict]) -> None:
    stmt = dialect_insert(connection, stats_days).values(rows)
    kept = stmt.excluded
    stmt = stmt.on_conflict_do_update(
        index_elements=["shop_id", "day"],
        set_={c: kept[c] for c in _to_row(0, 0, date.min, Day()) if c not in ("shop_id", "day")},
        where=stats_days.c.epoch < kept.epoch,
    )
    try:
        with connection.begin():
            connection.execute(stmt)
    except (IntegrityError, OperationalError) as exc:
        # The shop was deleted meanwhile, or SQLite stayed locked: the figures counted stand, and
        # the next request counts these days again.
        log.warning("dashboard days not kept", extra={"error": type(exc).__name__})


def read(connection: Connection, *, shop_id: int, start: datetime, days: int) -> list[Day]:
    """The `days` closed days from `start`: kept rows where valid, the others counted and kept."""
    if not days:
        return []
    epoch = connection.execute(
        select(shops.c.stats_epoch).where(shops.c.id == shop_id)
    ).scalar_one()
    first, end = as_date(start, 0), as_date(start, days)
    d = stats_days.c
    kept = {
        row.day: _from_row(row)
        for row in connection.execute(
            select(stats_days).where(
                d.shop_id == shop_id, d.day >= first, d.day < end, d.epoch == epoch
            )
        )
    }
    missing = [i for i in range(days) if as_date(start, i) not in kept]
    fresh: dict[date, Day] = {}
    if missing:
        low, high = missing[0], missing[-1] + 1
        counted, _ = count_days(connection, shop_id, start + timedelta(days=low), high - low)
        fresh = {as_date(start, low + i): figures for i, figures in enumerate(counted)}
    # End the read before writing: SQLite cannot turn a read into a write once another
    # connection has written since it began (SQLITE_BUSY_SNAPSHOT).
    connection.commit()
    saving = [as_date(start, i) for i in missing]
    if saving:
        _save(connection, [_to_row(shop_id, epoch, day, fresh[day]) for day in saving])
    return [kept.get(as_date(start, i)) or fresh[as_date(start, i)] for i in range(days)]
