"""The generation of a shop's kept dashboard days (admin/kept_days.py): a write that changes the
figures of a closed UTC day adds one, so the days kept under the old generation are counted again.

Today's writes need nothing: a day is kept only an hour after it closed (kept_days.SETTLE), when
its last writes have long committed. The writes that reach back are few and rare: an unsent
signup deleted (admin, merchant API) and an order recorded for a closed day (a late or re-sent
`orders/create`)."""

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import Connection, update
from sqlalchemy.orm import Session

from .models import Shop, utcnow

shops = Shop.__table__


def bump(executor: Session | Connection, shop_id: int) -> None:
    executor.execute(
        update(shops).where(shops.c.id == shop_id).values(stats_epoch=shops.c.stats_epoch + 1)
    )


def bump_if_closed(
    executor: Session | Connection, shop_id: int, times: Iterable[datetime | None]
) -> None:
    """Bump when any of `times` (of rows this transaction wrote or deleted) is before today (UTC)."""
    today = utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
    if any(t is not None and t < today for t in times):
        bump(executor, shop_id)
