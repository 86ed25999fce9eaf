"""Rows worth keeping only for a while, deleted by the worker each hour: finished jobs, the
merchant's log of events sent (a month), and webhook deliveries once Shopify no longer sends them again (until then their ids de-duplicate
re-deliveries). Deliveries still to apply are never touched.

Both tables only grow at the end (ids follow time), so the old rows are the first ids: a pass
walks from the lowest id in chunks, deleting what is old and done, and stops where the rows become
recent. That costs about what is old, with no index on a time column for the webhook intake to
keep up."""

from datetime import datetime, timedelta

from sqlalchemy import Column, ColumnElement, Connection, Table, delete, select

from .models import (
    DeliveryState,
    EventDelivery,
    EventDeliveryStatus,
    Job,
    JobStatus,
    StatsDay,
    WebhookDelivery,
    utcnow,
)

deliveries, jobs, stats_days = WebhookDelivery.__table__, Job.__table__, StatsDay.__table__
events_out = EventDelivery.__table__
# Shopify re-sends a failed delivery for up to 48 hours (PLATFORM.md section 3): a week is ample.
DELIVERY_KEEP = timedelta(days=7)
# A delivery that could not be applied, kept longer with its payload for someone to look into.
FAILED_DELIVERY_KEEP = timedelta(days=30)
JOB_KEEP = timedelta(days=2)
# The dashboard's longest window is 366 days (admin/stats.py MAX_DAYS); a day's margin for zones.
STATS_DAY_KEEP = timedelta(days=367)
# The merchant's log of events sent to their webhook and to Flow (events_out.py).
EVENT_DELIVERY_KEEP = timedelta(days=30)
CHUNK = 5000


def _purge(
    connection: Connection,
    table: Table,
    born: Column,
    cutoff: datetime,
    done: ColumnElement[bool],
    chunk_size: int,
) -> int:
    """Walk `table` from its lowest id in chunks, deleting the rows `done` selects, until a chunk
    reaches rows born after `cutoff` (nothing from there on can be old enough)."""
    total, after = 0, None
    while True:
        query = select(table.c.id, born).order_by(table.c.id).limit(chunk_size)
        rows = connection.execute(query if after is None else query.where(table.c.id > after)).all()
        if not rows:
            return total
        total += connection.execute(
            delete(table).where(table.c.id.in_([r[0] for r in rows]), done)
        ).rowcount
        if rows[-1][1] >= cutoff:
            return total
        after = rows[-1][0]


def purge(connection: Connection, chunk_size: int = CHUNK) -> dict[str, int]:
    now = utcnow()
    d = deliveries.c
    done_delivery = (
        (
            d.state.is_(None)
            | d.state.in_([DeliveryState.applied.value, DeliveryState.skipped.value])
        )
        & (d.received_at < now - DELIVERY_KEEP)
    ) | ((d.state == DeliveryState.failed.value) & (d.received_at < now - FAILED_DELIVERY_KEEP))
    done_job = (jobs.c.status == JobStatus.done.value) & (jobs.c.updated_at < now - JOB_KEEP)
    return {
        "webhook_deliveries": _purge(
            connection, deliveries, d.received_at, now - DELIVERY_KEEP, done_delivery, chunk_size
        ),
        "jobs": _purge(connection, jobs, jobs.c.created_at, now - JOB_KEEP, done_job, chunk_size),
        "event_deliveries": _purge(
            connection,
            events_out,
            events_out.c.created_at,
            now - EVENT_DELIVERY_KEEP,
            (events_out.c.status != EventDeliveryStatus.pending.value)
            & (events_out.c.created_at < now - EVENT_DELIVERY_KEEP),
            chunk_size,
        ),
        "stats_days": connection.execute(
            delete(stats_days).where(stats_days.c.day < (now - STATS_DAY_KEEP).date())
        ).rowcount,
    }
