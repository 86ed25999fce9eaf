"""Applying recorded `inventory_levels/update` deliveries (webhooks/inventory_levels_update.py
records them): the worker claims pending deliveries in batches; each location's level is stored
unless a later update is already there (deliveries arrive out of order and more than once), and one
job per changed item is enqueued, coalesced with any pending one. A batch that fails on a value
rather than on the database is applied again one by one, and the delivery that fails is marked
failed: a bad delivery is never retried forever."""

import logging
from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, bindparam, select, update
from sqlalchemy.engine import Engine

from . import coerce, inventory, jobs
from .db import is_transient
from .models import DeliveryState, JobKind, Shop, WebhookDelivery
from .shops import INSTALLED
from .webhook_payloads import NotJson, failure, parse_json

TOPIC = "inventory_levels/update"
DELIVERIES_PER_ROUND = 1000
log = logging.getLogger("webhooks.inventory_levels_update")
shops, deliveries = Shop.__table__, WebhookDelivery.__table__


@dataclass(frozen=True)
class LevelUpdate:
    item_id: int
    location_id: int
    available: int | None
    updated_at: datetime


def parse(payload, fallback_time: datetime) -> tuple[LevelUpdate | None, str | None]:
    """The update a payload describes, or None and why not; or the update and what was coerced.

    Rules: ids must be 1..2**63-1 (else the delivery is skipped: never guess which item); a null
    `available` is an untracked location; an integer is clamped to 32 bits; anything else skips the
    delivery (the stored level is kept rather than replaced by a guess); an `updated_at` that is
    not a zoned ISO time within 2000..tomorrow gives way to X-Shopify-Triggered-At, else receipt."""
    if not isinstance(payload, dict):
        return None, "the payload is not an object"
    item_id = coerce.shopify_id(payload.get("inventory_item_id"))
    location_id = coerce.shopify_id(payload.get("location_id"))
    if item_id is None or location_id is None:
        return None, "no usable inventory_item_id or location_id"
    raw = payload.get("available")
    available = coerce.int32(raw)
    if raw is not None and available is None:
        return None, "available is not an integer"
    updated_at = coerce.timestamp(payload.get("updated_at"))
    note = None
    if available != raw:
        note = "available clamped to 32 bits"
    elif updated_at is None and payload.get("updated_at") is not None:
        note = "updated_at unusable"
    return LevelUpdate(item_id, location_id, available, updated_at or fallback_time), note


_pending = (
    select(deliveries.c.id)
    .where(deliveries.c.state == DeliveryState.pending.value, deliveries.c.topic == TOPIC)
    .order_by(deliveries.c.id)
    .limit(bindparam("limit"))
    .with_for_update(skip_locked=True)
)
# An UPDATE first (a no-op one): SQLite takes its write lock now rather than failing to upgrade a
# read later; PostgreSQL skips rows another worker holds.
_CLAIM = (
    update(deliveries)
    .where(deliveries.c.id.in_(_pending.scalar_subquery()))
    .values(state=DeliveryState.pending.value)
    .returning(
        deliveries.c.id,
        deliveries.c.webhook_id,
        deliveries.c.shop_domain,
        deliveries.c.payload,
        deliveries.c.triggered_at,
        deliveries.c.received_at,
    )
)
_MARK = {
    DeliveryState.applied: update(deliveries)
    .where(deliveries.c.id.in_(bindparam("ids", expanding=True)))
    .values(state=DeliveryState.applied.value, payload=None),
    **{
        state: update(deliveries)
        .where(deliveries.c.id.in_(bindparam("ids", expanding=True)))
        .values(state=state.value)
        for state in (DeliveryState.skipped, DeliveryState.failed)
    },
}


def _installed(connection: Connection, domains: set[str]) -> dict[str, int]:
    rows = connection.execute(
        select(shops.c.domain, shops.c.id).where(shops.c.domain.in_(sorted(domains)), INSTALLED)
    )
    return {row.domain: row.id for row in rows}


def _apply(connection: Connection, claimed) -> None:
    """Store the newest level per (shop, item, location) among `claimed`, enqueue a job per item
    whose level changed, and mark each delivery applied or skipped."""
    shop_ids = _installed(connection, {row.shop_domain for row in claimed})
    newest: dict[tuple[int, int, int], tuple[datetime, int, LevelUpdate]] = {}
    received: dict[tuple[int, int], datetime] = {}  # (shop, item): its first delivery's arrival
    outcome: dict[DeliveryState, list[int]] = {DeliveryState.applied: [], DeliveryState.skipped: []}
    skipped: Counter[str | None] = Counter()
    notes: Counter[str] = Counter()
    for row in claimed:
        shop_id = shop_ids.get(row.shop_domain)
        if shop_id is None:
            outcome[DeliveryState.skipped].append(row.id)
            skipped["the shop is not installed"] += 1
            continue
        level, why = parse(_payload(row.payload), row.triggered_at or row.received_at)
        if level is None:
            outcome[DeliveryState.skipped].append(row.id)
            skipped[why] += 1
            continue
        if why:
            notes[why] += 1
        key = (shop_id, level.item_id, level.location_id)
        # As if applied one by one in arrival order: a later updated_at wins, and on a tie the later delivery.
        if key not in newest or (level.updated_at, row.id) >= newest[key][:2]:
            newest[key] = (level.updated_at, row.id, level)
        item = (shop_id, level.item_id)
        received[item] = min(received.get(item, row.received_at), row.received_at)
        outcome[DeliveryState.applied].append(row.id)
    stored = inventory.record_levels(
        connection,
        {
            key: inventory.Level(
                location_id=key[2], available=level.available, updated_at=level.updated_at
            )
            for key, (_, _, level) in newest.items()
        },
    )
    jobs.enqueue_many(
        connection,
        JobKind.inventory,
        [
            (
                f"{shop_id}:{item_id}",
                shop_id,
                # when Shopify's word reached us: a restock's alerts are timed from it
                {
                    "inventory_item_id": item_id,
                    "received_at": received[shop_id, item_id].isoformat(),
                },
            )
            for shop_id, item_id in sorted(stored)
        ],
    )
    for state, ids in outcome.items():
        if ids:
            connection.execute(_MARK[state], {"ids": ids})
    for reason, count in skipped.items():
        log.warning(
            "inventory level deliveries skipped", extra={"reason": reason, "deliveries": count}
        )
    for reason, count in notes.items():
        log.warning(
            "inventory level deliveries coerced", extra={"reason": reason, "deliveries": count}
        )


def _payload(raw: str | None):
    try:
        return parse_json(raw.encode()) if raw else None
    except NotJson:
        return None


def apply_pending(connection: Connection, *, limit: int = 1000, one_by_one: bool = False) -> int:
    """Claim up to `limit` pending deliveries and apply them in the caller's transaction; how many
    were claimed. `one_by_one` (after a batch failed on a value) applies each in a savepoint and
    marks one that fails as failed, logged, never retried."""
    claimed = connection.execute(_CLAIM, {"limit": limit}).all()
    if not claimed:
        return 0
    if not one_by_one:
        _apply(connection, claimed)
        return len(claimed)
    for row in claimed:
        try:
            with connection.begin_nested():
                _apply(connection, [row])
        except Exception as exc:
            if is_transient(exc):
                raise
            log.warning(
                "inventory level delivery could not be applied; marked failed",
                extra={"webhook_id": row.webhook_id, **failure(exc)},
            )
            connection.execute(_MARK[DeliveryState.failed], {"ids": [row.id]})
    return len(claimed)


def apply_recorded(engine: Engine) -> int:
    """The worker's round: apply one batch of recorded deliveries; how many were claimed. If the
    batch fails on a value rather than on the database, its deliveries are applied one by one and
    the one that fails is marked failed."""
    try:
        with engine.begin() as connection:
            return apply_pending(connection, limit=DELIVERIES_PER_ROUND)
    except Exception as exc:
        if is_transient(exc):
            raise
        log.warning(
            "a batch of inventory levels failed; applying them one by one",
            extra={"error": type(exc).__name__},
        )
    with engine.begin() as connection:
        return apply_pending(connection, limit=DELIVERIES_PER_ROUND, one_by_one=True)
