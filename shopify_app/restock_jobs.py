"""The restock jobs: a stock change is evaluated against what we last decided on, and a restock
is decided (`restock.py` says who, `notify/outbox.decide` writes it down); a batched restock's
next batch; and reconciliation, which re-reads stock through the Admin API for the variants that
have pending signups (a periodic task enqueues one reconcile job per shop)."""

import json
import logging
from datetime import datetime
from typing import Any

from anyio import to_thread
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from . import coerce, demand, inventory, inventory_queries, jobs, restock, stock_scope
from .db import session_scope
from .job_context import JobContext, ShopRow
from .models import Intent, IntentStatus, JobKind, Shop, Variant, utcnow
from .notify import outbox

log = logging.getLogger("shopify_app.worker")
shops, variants, intents = Shop.__table__, Variant.__table__, Intent.__table__
RECONCILE_CHUNK = 50


# -- handlers ---------------------------------------------------------------------------------


async def inventory_changed(ctx: JobContext, shop: ShopRow, job: jobs.ClaimedJob) -> None:
    """An inventory item's level changed: resolve its variant (cache, else the Admin API), then
    evaluate it."""
    item_id = int(job.payload["inventory_item_id"])
    known = await to_thread.run_sync(ctx.in_session, _known_variant, shop["id"], item_id)
    if known is None:
        data = await ctx.api(shop).query(
            inventory_queries.ITEM_QUERY, {"id": inventory_queries.gid("InventoryItem", item_id)}
        )
        stock = inventory_queries.parse_item_stock(data)
        if stock is None:
            return  # not a variant's item (or deleted): no one can be waiting for it
        await to_thread.run_sync(ctx.in_session, _store_stock, shop["id"], [stock])
        known = stock.variant.shopify_variant_id
    received = coerce.timestamp(job.payload.get("received_at"))
    trigger = "published" if job.payload.get("trigger") == "published" else "webhook"
    await to_thread.run_sync(ctx.in_session, evaluate, shop, known, item_id, trigger, received)


async def next_batch(ctx: JobContext, shop: ShopRow, job: jobs.ClaimedJob) -> None:
    await to_thread.run_sync(
        ctx.in_session,
        _next_batch,
        shop,
        int(job.payload["variant_id"]),
        int(job.payload["batch"]),
        str(job.payload.get("audience") or stock_scope.GENERAL),
    )


async def reconcile(ctx: JobContext, shop: ShopRow, job: jobs.ClaimedJob) -> None:
    """Re-read the stock of the shop's variants with pending signups, and evaluate each."""
    waiting = await to_thread.run_sync(ctx.in_session, _waiting_variants, shop["id"])
    api = ctx.api(shop)
    for start in range(0, len(waiting), RECONCILE_CHUNK):
        ids = [
            inventory_queries.gid("ProductVariant", v)
            for v in waiting[start : start + RECONCILE_CHUNK]
        ]
        stocks = inventory_queries.parse_variants_stock(
            await api.query(inventory_queries.VARIANTS_QUERY, {"ids": ids})
        )
        await to_thread.run_sync(ctx.in_session, _store_stock, shop["id"], stocks)
        for stock in stocks:
            if stock.variant.inventory_item_id is not None:
                await to_thread.run_sync(
                    ctx.in_session,
                    evaluate,
                    shop,
                    stock.variant.shopify_variant_id,
                    stock.variant.inventory_item_id,
                    "reconcile",
                )


def schedule_reconcile(ctx: JobContext) -> None:
    """Periodic: a reconcile job for every installed shop with waiting signups (coalesced)."""
    with session_scope(ctx.engine) as session:
        shop_ids = (
            session.execute(
                select(intents.c.shop_id)
                .distinct()
                .join(shops, shops.c.id == intents.c.shop_id)
                .where(
                    intents.c.status == IntentStatus.pending.value,
                    shops.c.uninstalled_at.is_(None),
                )
            )
            .scalars()
            .all()
        )
        for shop_id in shop_ids:
            jobs.enqueue(session, JobKind.reconcile, str(shop_id), shop_id=shop_id)


# -- evaluation -------------------------------------------------------------------------------


def evaluate(
    session: Session,
    shop: ShopRow,
    variant_id: int,
    item_id: int,
    trigger: str,
    received_at: datetime | None = None,
) -> None:
    """Compare each audience's alertable stock (stock_scope.py) with what we last decided on; alert
    the audiences it restocked for. `received_at`: when the webhook behind it reached the app (its
    alerts' latency is timed from it)."""
    policy = outbox.policy_of(shop)
    scope = stock_scope.load(session, shop)
    variant = _lock_variant(session, shop["id"], variant_id)
    if variant is None:
        return
    available = stock_scope.levels_of(session, shop["id"], item_id)
    counted = stock_scope.stock(available, scope.locations)
    if counted is None:
        return
    before = stock_scope.decided(variant)
    after = {
        audience: stock_scope.alertable(
            stock_scope.stock(available, scope.locations_of(audience)), variant["published"], scope
        )
        for audience in [stock_scope.GENERAL, *map(str, scope.market_ids())]
    }
    session.execute(
        update(variants)
        .where(variants.c.id == variant["id"])
        .values(sellable=counted, decided_stock=json.dumps(after, sort_keys=True))
    )
    restocked = [a for a in after if restock.is_restock(before.get(a), after[a], policy)]
    if restocked:
        demand.reset(session, shop["id"], variant_id)  # a later surge alerts the merchant again
    for audience in restocked:
        among = outbox.audience_filter(scope, audience)
        units = after[audience]
        assert units is not None  # restocked: known
        if not outbox.has_waiting(session, shop["id"], variant_id, among, policy.resend):
            continue
        decision = outbox.decide(
            session,
            shop["id"],
            policy,
            variant_id,
            before=before.get(audience),
            after=units,
            trigger=trigger,
            locations=inventory.stocked_locations(
                session, shop["id"], item_id, scope.locations_of(audience)
            ),
            received_at=received_at,
            among=among,
        )
        session.execute(
            update(variants).where(variants.c.id == variant["id"]).values(restocked_at=utcnow())
        )
        _schedule_next_batch(session, shop, variant_id, decision, 1, policy, audience)
        log.info(
            "restock",
            extra={
                "variant": variant_id,
                "before": before.get(audience),
                "after": units,
                "market": audience or None,
                "chosen": decision.chosen,
                "trigger": trigger,
                "held": not policy.automatic_sending,
            },
        )


def _next_batch(
    session: Session, shop: ShopRow, variant_id: int, batch: int, audience: str
) -> None:
    """The next batch of a batched restock, while the variant is still in stock for its
    audience."""
    policy = outbox.policy_of(shop)
    scope = stock_scope.load(session, shop)
    if audience != stock_scope.GENERAL and int(audience) not in scope.markets:
        return  # the market no longer has locations of its own: its signups wait with the rest
    variant = _lock_variant(session, shop["id"], variant_id)
    if variant is None or variant["inventory_item_id"] is None:
        return
    item_id = variant["inventory_item_id"]
    where = scope.locations_of(audience)
    now = stock_scope.alertable(
        stock_scope.stock(stock_scope.levels_of(session, shop["id"], item_id), where),
        variant["published"],
        scope,
    )
    among = outbox.audience_filter(scope, audience)
    if not restock.in_stock(now, policy) or not outbox.has_waiting(
        session, shop["id"], variant_id, among, policy.resend
    ):
        return  # sold out again (or no one left): the next restock starts over
    assert now is not None  # in stock: known
    decision = outbox.decide(
        session,
        shop["id"],
        policy,
        variant_id,
        before=now,
        after=now,
        trigger="batch",
        batch_number=batch,
        locations=inventory.stocked_locations(session, shop["id"], item_id, where),
        among=among,
    )
    _schedule_next_batch(session, shop, variant_id, decision, batch, policy, audience)


def _schedule_next_batch(
    session: Session,
    shop: ShopRow,
    variant_id: int,
    decision: outbox.Decision,
    batch: int,
    policy: restock.Policy,
    audience: str,
) -> None:
    run_at = restock.next_batch_at(utcnow(), policy)
    if decision.more_waiting and run_at is not None:
        jobs.enqueue(
            session,
            JobKind.batch,
            f"{shop['id']}:{variant_id}" + (f":{audience}" if audience else ""),
            shop_id=shop["id"],
            payload={"variant_id": variant_id, "batch": batch + 1, "audience": audience},
            run_at=run_at,
        )


def _lock_variant(session: Session, shop_id: int, variant_id: int) -> Any:
    return (
        session.execute(
            select(variants)
            .where(variants.c.shop_id == shop_id, variants.c.shopify_variant_id == variant_id)
            .with_for_update()
        )
        .mappings()
        .first()
    )


# -- what is stored ---------------------------------------------------------------------------


def _known_variant(session: Session, shop_id: int, item_id: int) -> int | None:
    """The variant of an item whose every location we have read at least once."""
    row = inventory.variant_for_item(session, shop_id, item_id)
    return (
        row["shopify_variant_id"]
        if row is not None and row["levels_synced_at"] is not None
        else None
    )


def _store_stock(session: Session, shop_id: int, stocks: list[inventory.ItemStock]) -> None:
    for stock in stocks:
        inventory.upsert_variant(session, shop_id, stock.variant, levels_synced=True)
        if stock.variant.inventory_item_id is not None:
            for level in stock.levels:
                inventory.record_level(session, shop_id, stock.variant.inventory_item_id, level)


def _waiting_variants(session: Session, shop_id: int) -> list[int]:
    return list(
        session.execute(
            select(intents.c.shopify_variant_id)
            .distinct()
            .where(intents.c.shop_id == shop_id, intents.c.status == IntentStatus.pending.value)
        )
        .scalars()
        .all()
    )
