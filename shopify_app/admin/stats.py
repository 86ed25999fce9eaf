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

Speed (bench/admin_stats.py: a shop with 1,000,000 signups): the closed days' figures are kept
(kept_days.py, counted once per day); today is counted from the rows (day_counts.py). "Signups
alerted" stays an exact count over the window (ix_intent_shop_notified): a signup alerted again
moves its `notified_at` to the new alert, out of the day it was first counted in, so it cannot be
kept per day. "Waiting now" counts the narrow partial index ix_intent_pending_variant. On
PostgreSQL the three parts run at the same time on connections of their own (db.concurrently), so
a request waits for the longest of them rather than their sum.
"""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from functools import partial
from typing import Any

from sqlalchemy import Connection, Engine, func, select

from ..db import concurrently
from ..models import Intent, Shop
from . import kept_days
from .day_counts import Day, count_days, date_at

intents, shops = Intent.__table__, Shop.__table__
MAX_DAYS = 366
CENT = Decimal("0.01")


def window_start(now: float, days: int) -> datetime:
    today = datetime.fromtimestamp(now, UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today - timedelta(days=days - 1)


def money(total: float | Decimal | None) -> str:
    return str(Decimal(str(total or 0)).quantize(CENT, rounding=ROUND_HALF_UP))


def _waiting(connection: Connection, shop_id: int) -> int:
    return connection.execute(
        select(func.count()).where(intents.c.shop_id == shop_id, intents.c.status == "pending")
    ).scalar_one()


def _live(
    connection: Connection, shop_id: int, window: datetime, start: datetime, days: int
) -> tuple[list[Day], Day, int, str | None]:
    """The days from `start` not kept (today, and yesterday in the hour after midnight) counted
    from the rows, the conversions dated later, signups alerted in the window, the shop's currency."""
    counted, beyond = count_days(connection, shop_id, start, days, open_ended=True)
    notified = connection.execute(
        select(func.count()).where(intents.c.shop_id == shop_id, intents.c.notified_at >= window)
    ).scalar_one()
    currency = connection.execute(
        select(shops.c.currency).where(shops.c.id == shop_id)
    ).scalar_one()
    return counted, beyond, notified, currency


def compute(
    engine: Engine,
    shop_id: int,
    days: int,
    now: float,
    beside: Callable[[Connection], dict] | None = None,
    *,
    keep: bool = True,
) -> tuple[dict[str, Any], dict | None]:
    """The figures, their three parts counted at the same time (`concurrently`): the kept days,
    signups waiting now, and the rest (today from the rows). `beside` (the dashboard's most wanted:
    a listing with the shop's `pending` total) is counted instead of the waiting signups, from the
    same scan; its result comes back with the figures. `keep=False` counts every day from the rows
    (what the dashboard did before days were kept; the tests compare the two)."""
    start = window_start(now, days)
    closed = kept_days.closed_days(start, days, now) if keep else 0
    kept, waiting, (live, beyond, notified, currency) = concurrently(
        engine,
        partial(kept_days.read, shop_id=shop_id, start=start, days=closed),
        beside or partial(_waiting, shop_id=shop_id),
        partial(
            _live,
            shop_id=shop_id,
            window=start,
            start=start + timedelta(days=closed),
            days=days - closed,
        ),
    )
    pending = waiting["pending"] if beside else waiting
    every = [*kept, *live]
    total = Day()
    for day in [*every, beyond]:
        total.add(day)
    known = total.currencies
    # The most frequent currency; a tie goes to the first in alphabetical order.
    their_currency = min(known, key=lambda c: (-known[c], c)) if known else None
    per_day = [
        {
            "date": date_at(start, offset),
            "signups": day.signups,
            "alerts": day.alerts,
            "conversions": day.conversions,
        }
        for offset, day in enumerate(every)
    ]
    return {
        "days": days,
        "signups": total.signups,
        "pending": pending,
        "notified": notified,
        "conversions": total.conversions,
        "conversion_rate": round(total.conversions / notified, 4) if notified else 0.0,
        "recovered_revenue": money(total.revenue),
        "currency": currency or their_currency,
        "per_day": per_day,
    }, (waiting if beside else None)
