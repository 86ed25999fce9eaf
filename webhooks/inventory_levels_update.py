"""`inventory_levels/update`: one location's `available` for one inventory item. A bulk inventory
import sends one per item and location, so the request only verifies and records the delivery
with its raw payload (one statement, shared with concurrent requests) and answers 200 once that
is committed. The worker then applies pending deliveries in batches (`apply_pending`): each
location's level is stored unless a later update is already there (deliveries arrive out of order
and more than once), and one job per changed item is enqueued, coalesced with any pending one.
No call to Shopify and no sending here."""

import logging
from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, bindparam, select, update

from shopify_app import coerce, inventory, jobs
from shopify_app.db import is_transient
from shopify_app.models import DeliveryState, JobKind, Shop
from shopify_app.shops import INSTALLED

from .receive import NotJson, deliveries, failure, parse_json, queued_endpoint

TOPIC = "inventory_levels/update"
log = logging.getLogger(__name__)
shops = Shop.__table__

handle = queued_endpoint(TOPIC)


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
    outcome: dict[DeliveryState, list[int]] = {DeliveryState.applied: [], DeliveryState.skipped: []}
    skipped, notes = Counter(), Counter()
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
            (f"{shop_id}:{item_id}", shop_id, {"inventory_item_id": item_id})
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
