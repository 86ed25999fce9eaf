"""The worker: takes jobs (stock changed, next batch due, reconcile) and turns them into restock
decisions, then sends due notifications through the channels. Any number of workers can run
against PostgreSQL; rows are claimed with SKIP LOCKED and a lease."""

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import Mapping
from datetime import timedelta

import httpx
from anyio import to_thread
from sqlalchemy import and_, select, update
from sqlalchemy.engine import Engine

from webhooks import inventory_levels_update

from .. import demand, housekeeping, inventory, jobs, privacy, restock, shop_tokens
from ..admin_api import AdminApi, StoredTokens
from ..config import Settings
from ..db import is_transient, make_async_engine, run_async, session_scope
from ..models import Intent, IntentStatus, JobKind, NotificationStatus, Shop, Variant, utcnow
from ..shops import INSTALLED
from . import merchant, outbox
from .base import Channel, OutgoingMessage, PermanentError, SubscriptionGone, TransientError
from .recorder import OutcomeRecorder, places
from .render import Alert, Renderer

log = logging.getLogger("shopify_app.worker")
shops, variants, intents = Shop.__table__, Variant.__table__, Intent.__table__
JOBS_PER_ROUND = 20
DELIVERIES_PER_ROUND = 1000
RECONCILE_CHUNK = 50
PURGE_INTERVAL_SECONDS = 3600
# Token upkeep renews a refresh token this close to its end (a shop with no Admin API work for weeks).
REFRESH_TOKEN_UPKEEP = timedelta(days=14)


class Worker:
    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        http: httpx.AsyncClient,
        channels: Mapping[str, Channel],
        *,
        name: str | None = None,
        renderer: Renderer | None = None,
    ):
        self.settings = settings
        self.engine = engine
        self.http = http
        self.channels = dict(channels)
        self.renderer = renderer or Renderer(settings)
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.lease = timedelta(seconds=settings.WORKER_LEASE_SECONDS)
        # Per channel: a slow SMS provider must not hold up email, and no more requests wait in
        # httpx's pool than it has connections (its queue grows costly past that).
        self._in_flight = {
            name: asyncio.Semaphore(settings.SEND_CONCURRENCY) for name in self.channels
        }
        self._next_reconcile = 0.0
        self._next_purge = 0.0
        self._next_demand_check = 0.0
        self._next_token_upkeep = 0.0
        self._async_engine = None  # PostgreSQL: made on first use, for recording outcomes

    # -- the loop ---------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        log.info("worker started", extra={"worker": self.name, "channels": sorted(self.channels)})
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            try:
                if (
                    self.settings.RECONCILE_INTERVAL_SECONDS > 0
                    and loop.time() >= self._next_reconcile
                ):
                    self._next_reconcile = loop.time() + self.settings.RECONCILE_INTERVAL_SECONDS
                    await to_thread.run_sync(self.schedule_reconcile)
                if loop.time() >= self._next_purge:
                    self._next_purge = loop.time() + PURGE_INTERVAL_SECONDS
                    await to_thread.run_sync(self.purge_expired)
                if (
                    self.settings.TOKEN_UPKEEP_INTERVAL_SECONDS > 0
                    and loop.time() >= self._next_token_upkeep
                ):
                    self._next_token_upkeep = (
                        loop.time() + self.settings.TOKEN_UPKEEP_INTERVAL_SECONDS
                    )
                    await to_thread.run_sync(self.token_upkeep)
                if (
                    self.settings.DEMAND_CHECK_INTERVAL_SECONDS > 0
                    and loop.time() >= self._next_demand_check
                ):
                    self._next_demand_check = (
                        loop.time() + self.settings.DEMAND_CHECK_INTERVAL_SECONDS
                    )
                    await to_thread.run_sync(self.check_demand)
                done = await self.tick()
            except Exception:
                log.exception("worker round failed", extra={"worker": self.name})
                done = 0
            if not done:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=self.settings.WORKER_POLL_INTERVAL)
        log.info("worker stopped", extra={"worker": self.name})

    def purge_expired(self) -> int:
        """Hourly: old webhook deliveries and finished jobs go (housekeeping.py), and retention
        (RETENTION_DAYS) forgets the contacts of signups done with long ago."""
        with self.engine.begin() as connection:
            removed = housekeeping.purge(connection)
        if any(removed.values()):
            log.info("housekeeping", extra={"worker": self.name, **removed})
        with session_scope(self.engine) as session:
            forgotten = privacy.purge_expired(session, self.settings.RETENTION_DAYS)
        if forgotten:
            log.info("retention purge", extra={"worker": self.name, "signups": forgotten})
        return forgotten

    def token_upkeep(self) -> int:
        """Shops whose token should be renewed before any call needs it: non-expiring tokens are
        migrated (Shopify refuses them from 2027-01-01), refresh tokens near their end renewed."""
        renewed = 0
        for shop_id in shop_tokens.needing_upkeep(self.engine, REFRESH_TOKEN_UPKEEP):
            try:
                shop_tokens.renew(self.engine, self.settings, shop_id)
                renewed += 1
            except (shop_tokens.ReconnectNeeded, LookupError):
                pass  # logged where it was found
            except Exception as exc:
                log.warning(
                    "token upkeep failed; retried next round",
                    extra={"shop_id": shop_id, "error": type(exc).__name__},
                )
        return renewed

    def check_demand(self) -> int:
        """High-demand alerts (demand.py): variants whose waiting list reached their shop's threshold."""
        with session_scope(self.engine) as session:
            return demand.raise_alerts(session)

    async def tick(self) -> int:
        """One round: due jobs, then one batch of due notifications. How much was done."""
        return await self.run_jobs() + await self.send_batch()

    async def drain(self, rounds: int = 1000) -> None:
        """Work until nothing is due (tests, demo)."""
        try:
            for _ in range(rounds):
                if not await self.tick():
                    return
        finally:
            await self.close()

    # -- recorded webhooks ------------------------------------------------------------------

    def apply_deliveries(self) -> int:
        """Apply one batch of recorded inventory_levels/update deliveries (webhooks/inventory_levels_update.py).
        If the batch fails on a value rather than on the database, its deliveries are applied one
        by one and the one that fails is marked failed: a bad delivery is never retried forever."""
        try:
            with self.engine.begin() as connection:
                return inventory_levels_update.apply_pending(connection, limit=DELIVERIES_PER_ROUND)
        except Exception as exc:
            if is_transient(exc):
                raise
            log.warning(
                "a batch of inventory levels failed; applying them one by one",
                extra={"error": type(exc).__name__},
            )
        with self.engine.begin() as connection:
            return inventory_levels_update.apply_pending(
                connection, limit=DELIVERIES_PER_ROUND, one_by_one=True
            )

    # -- jobs -------------------------------------------------------------------------------

    async def run_jobs(self) -> int:
        """Recorded webhooks first (they enqueue jobs), then the due jobs."""
        applied = await to_thread.run_sync(self.apply_deliveries)
        claimed = await to_thread.run_sync(self._claim_jobs)
        for job in claimed:
            try:
                await self.run_job(job)
                await to_thread.run_sync(self._finish_job, job.id)
                log.info("job", extra={"job": job.kind, "key": job.key, "worker": self.name})
            except shop_tokens.ReconnectNeeded:
                await to_thread.run_sync(
                    self._job_waits, job
                )  # resumed when the shop has a token again
            except Exception as exc:
                retry_in = getattr(exc, "retry_after", None) or outbox.backoff(job.attempts)
                await to_thread.run_sync(
                    self._fail_job, job, f"{type(exc).__name__}: {exc}", retry_in
                )
                log.warning(
                    "job failed", extra={"job": job.kind, "key": job.key, "error": str(exc)[:300]}
                )
        return applied + len(claimed)

    def _claim_jobs(self):
        with session_scope(self.engine) as session:
            return jobs.claim(session, self.name, limit=JOBS_PER_ROUND, lease=self.lease)

    def _finish_job(self, job_id: int) -> None:
        with session_scope(self.engine) as session:
            jobs.finish(session, job_id)

    def _job_waits(self, job) -> None:
        with session_scope(self.engine) as session:
            jobs.wait_for_token(session, job)

    def _fail_job(self, job, error: str, retry_in: float) -> None:
        with session_scope(self.engine) as session:
            jobs.fail(session, job, error, retry_in=timedelta(seconds=retry_in))

    async def run_job(self, job: jobs.ClaimedJob) -> None:
        shop = await to_thread.run_sync(self._shop, job.shop_id)
        if shop is None:
            return  # uninstalled or erased: nothing to do
        if job.kind == JobKind.inventory:
            await self._inventory_changed(shop, int(job.payload["inventory_item_id"]))
        elif job.kind == JobKind.batch:
            await to_thread.run_sync(
                self._next_batch, shop, int(job.payload["variant_id"]), int(job.payload["batch"])
            )
        elif job.kind == JobKind.reconcile:
            await self._reconcile(shop)
        elif job.kind in merchant.JOBS:
            await merchant.run(self, shop, job)

    def _shop(self, shop_id: int | None):
        if shop_id is None:
            return None
        with session_scope(self.engine) as session:
            return (
                session.execute(select(shops).where(shops.c.id == shop_id, INSTALLED))
                .mappings()
                .first()
            )

    def _api(self, shop) -> AdminApi:
        return AdminApi(
            self.http,
            self.settings,
            shop["domain"],
            StoredTokens(self.engine, self.settings, shop["id"]),
        )

    async def _inventory_changed(self, shop, item_id: int) -> None:
        known = await to_thread.run_sync(self._known_variant, shop["id"], item_id)
        if known is None:
            data = await self._api(shop).query(
                inventory.ITEM_QUERY, {"id": inventory.gid("InventoryItem", item_id)}
            )
            stock = inventory.parse_item_stock(data)
            if stock is None:
                return  # not a variant's item (or deleted): no one can be waiting for it
            await to_thread.run_sync(self._store_stock, shop["id"], [stock])
            known = stock.variant.shopify_variant_id
        await to_thread.run_sync(self._evaluate, shop, known, item_id, "webhook")

    def _known_variant(self, shop_id: int, item_id: int) -> int | None:
        """The variant of an item whose every location we have read at least once."""
        with session_scope(self.engine) as session:
            row = inventory.variant_for_item(session, shop_id, item_id)
            return (
                row["shopify_variant_id"]
                if row is not None and row["levels_synced_at"] is not None
                else None
            )

    def _store_stock(self, shop_id: int, stocks: list[inventory.ItemStock]) -> None:
        with session_scope(self.engine) as session:
            for stock in stocks:
                inventory.upsert_variant(session, shop_id, stock.variant, levels_synced=True)
                if stock.variant.inventory_item_id is not None:
                    for level in stock.levels:
                        inventory.record_level(
                            session, shop_id, stock.variant.inventory_item_id, level
                        )

    def _lock_variant(self, session, shop_id: int, variant_id: int):
        return (
            session.execute(
                select(variants)
                .where(variants.c.shop_id == shop_id, variants.c.shopify_variant_id == variant_id)
                .with_for_update()
            )
            .mappings()
            .first()
        )

    def _evaluate(self, shop, variant_id: int, item_id: int, trigger: str) -> None:
        """Compare sellable stock with what we last decided on; alert on a restock."""
        policy = outbox.policy_of(shop)
        with session_scope(self.engine) as session:
            variant = self._lock_variant(session, shop["id"], variant_id)
            if variant is None:
                return
            after = inventory.sellable(session, shop["id"], item_id)
            if after is None:
                return
            before = variant["sellable"]
            session.execute(
                update(variants).where(variants.c.id == variant["id"]).values(sellable=after)
            )
            if restock.is_restock(before, after, policy):
                demand.reset(
                    session, shop["id"], variant_id
                )  # a later surge alerts the merchant again
            if not restock.is_restock(before, after, policy) or not outbox.has_waiting(
                session, shop["id"], variant_id
            ):
                return
            decision = outbox.decide(
                session, shop["id"], policy, variant_id, before=before, after=after, trigger=trigger
            )
            session.execute(
                update(variants).where(variants.c.id == variant["id"]).values(restocked_at=utcnow())
            )
            self._schedule_next_batch(session, shop, variant_id, decision, 1, policy)
            log.info(
                "restock",
                extra={
                    "variant": variant_id,
                    "before": before,
                    "after": after,
                    "chosen": decision.chosen,
                    "trigger": trigger,
                    "held": not policy.automatic_sending,
                },
            )

    def _schedule_next_batch(
        self, session, shop, variant_id: int, decision, batch: int, policy
    ) -> None:
        run_at = restock.next_batch_at(utcnow(), policy)
        if decision.more_waiting and run_at is not None:
            jobs.enqueue(
                session,
                JobKind.batch,
                f"{shop['id']}:{variant_id}",
                shop_id=shop["id"],
                payload={"variant_id": variant_id, "batch": batch + 1},
                run_at=run_at,
            )

    def _next_batch(self, shop, variant_id: int, batch: int) -> None:
        """The next batch of a batched restock, while the variant is still in stock."""
        policy = outbox.policy_of(shop)
        with session_scope(self.engine) as session:
            variant = self._lock_variant(session, shop["id"], variant_id)
            if variant is None or variant["inventory_item_id"] is None:
                return
            now = inventory.sellable(session, shop["id"], variant["inventory_item_id"])
            if not restock.in_stock(now, policy) or not outbox.has_waiting(
                session, shop["id"], variant_id
            ):
                return  # sold out again (or no one left): the next restock starts over
            decision = outbox.decide(
                session,
                shop["id"],
                policy,
                variant_id,
                before=now,
                after=now,
                trigger="batch",
                batch_number=batch,
            )
            self._schedule_next_batch(session, shop, variant_id, decision, batch, policy)

    # -- reconciliation ---------------------------------------------------------------------

    def schedule_reconcile(self) -> None:
        """A reconcile job for every installed shop with waiting signups (coalesced)."""
        with session_scope(self.engine) as session:
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

    async def _reconcile(self, shop) -> None:
        waiting = await to_thread.run_sync(self._waiting_variants, shop["id"])
        api = self._api(shop)
        for start in range(0, len(waiting), RECONCILE_CHUNK):
            ids = [
                inventory.gid("ProductVariant", v) for v in waiting[start : start + RECONCILE_CHUNK]
            ]
            stocks = inventory.parse_variants_stock(
                await api.query(inventory.VARIANTS_QUERY, {"ids": ids})
            )
            await to_thread.run_sync(self._store_stock, shop["id"], stocks)
            for stock in stocks:
                if stock.variant.inventory_item_id is not None:
                    await to_thread.run_sync(
                        self._evaluate,
                        shop,
                        stock.variant.shopify_variant_id,
                        stock.variant.inventory_item_id,
                        "reconcile",
                    )

    def _waiting_variants(self, shop_id: int) -> list[int]:
        with session_scope(self.engine) as session:
            return (
                session.execute(
                    select(intents.c.shopify_variant_id)
                    .distinct()
                    .where(
                        and_(
                            intents.c.shop_id == shop_id,
                            intents.c.status == IntentStatus.pending.value,
                        )
                    )
                )
                .scalars()
                .all()
            )

    # -- sending ----------------------------------------------------------------------------

    async def send_batch(self) -> int:
        prepared = await to_thread.run_sync(self._claim_and_render)
        if not prepared:
            return 0
        recorder = OutcomeRecorder(
            self._record_async, places(self.settings.SEND_CONCURRENCY, len(self.channels))
        )
        heartbeat = asyncio.create_task(self._keep_lease(), name="lease-heartbeat")

        async def send_and_record(
            alert: Alert, attempt: int, message: OutgoingMessage | None
        ) -> None:
            await recorder.acquire()
            recorder.add(await self._send(alert, attempt, message))

        try:
            await asyncio.gather(*(send_and_record(*item) for item in prepared))
        finally:
            heartbeat.cancel()
            await recorder.close()
        return len(prepared)

    async def _keep_lease(self) -> None:
        """While this worker sends, its claim stays fresh; a worker that dies stops renewing it, and
        its rows are claimed by another within one lease (WORKER_LEASE_SECONDS)."""
        while True:
            await asyncio.sleep(self.lease.total_seconds() / 3)
            try:
                await to_thread.run_sync(self._renew_lease)
            except Exception as exc:
                log.warning(
                    "lease renewal failed", extra={"worker": self.name, "error": type(exc).__name__}
                )

    def _renew_lease(self) -> None:
        with session_scope(self.engine) as session:
            rows = outbox.notifications
            session.execute(
                update(rows)
                .where(
                    rows.c.locked_by == self.name, rows.c.status == NotificationStatus.sending.value
                )
                .values(locked_until=utcnow() + self.lease)
            )

    def _claim_and_render(self) -> list[tuple[Alert, int, OutgoingMessage | None]]:
        with session_scope(self.engine) as session:
            ids = outbox.claim(
                session,
                self.name,
                sorted(self.channels),
                limit=self.settings.WORKER_BATCH_SIZE,
                lease=self.lease,
            )
        if not ids:
            return []
        with session_scope(self.engine) as session:
            alerts = outbox.load_alerts(session, ids)
        prepared = []
        for alert, attempt in alerts:
            try:
                prepared.append((alert, attempt, self.renderer.render(alert) if alert.to else None))
            except Exception:
                log.exception("render failed", extra={"notification": alert.notification_id})
                prepared.append((alert, attempt, None))
        return prepared

    async def _send(
        self, alert: Alert, attempt: int, message: OutgoingMessage | None
    ) -> outbox.Outcome:
        base = {
            "notification_id": alert.notification_id,
            "intent_id": alert.intent_id,
            "attempt": attempt,
        }
        if message is None:
            return outbox.Outcome(
                **base,
                outcome="failed",
                error="no contact for this channel, or the message could not be rendered",
            )
        try:
            async with self._in_flight[alert.channel]:
                provider_id = await self.channels[alert.channel].send(message)
        except SubscriptionGone as exc:
            return outbox.Outcome(
                **base,
                outcome="failed",
                error=str(exc) or "subscription gone",
                subscription_gone=True,
            )
        except PermanentError as exc:
            return outbox.Outcome(**base, outcome="failed", error=str(exc) or type(exc).__name__)
        except TransientError as exc:
            return outbox.Outcome(
                **base,
                outcome="retry",
                error=str(exc) or type(exc).__name__,
                retry_after=getattr(exc, "retry_after", None),
            )
        except Exception as exc:
            log.exception("send failed unexpectedly", extra={"notification": alert.notification_id})
            return outbox.Outcome(**base, outcome="retry", error=f"{type(exc).__name__}: {exc}")
        return outbox.Outcome(**base, outcome="sent", provider_id=provider_id)

    async def _record_async(self, outcomes: list[outbox.Outcome]) -> None:
        """On PostgreSQL through an async connection on the event loop: a thread doing these round
        trips while the loop sends fights it for the GIL (each wake-up waits out a switch interval),
        which cost about a sixth of the sending rate."""
        if self._async_engine is None and not self.engine.url.get_backend_name().startswith(
            "sqlite"
        ):
            self._async_engine = make_async_engine(
                self.engine.url.render_as_string(hide_password=False), pool_size=2
            )
        if self._async_engine is None:
            await to_thread.run_sync(self._record, outcomes)
            return
        await run_async(
            self._async_engine, lambda connection: outbox.record(connection, self.name, outcomes)
        )
        self._log_sent(outcomes)

    async def close(self) -> None:
        if self._async_engine is not None:
            await self._async_engine.dispose()
            self._async_engine = None

    def _record(self, outcomes: list[outbox.Outcome]) -> None:
        with session_scope(self.engine) as session:
            outbox.record(session, self.name, outcomes)
        self._log_sent(outcomes)

    def _log_sent(self, outcomes: list[outbox.Outcome]) -> None:
        sent = sum(1 for o in outcomes if o.outcome == "sent")
        log.info(
            "sent", extra={"worker": self.name, "sent": sent, "not_sent": len(outcomes) - sent}
        )

    def release(self) -> None:
        """Give back what this worker holds (on shutdown) so others need not wait for the lease."""
        with session_scope(self.engine) as session:
            outbox_rows = outbox.notifications
            session.execute(
                update(outbox_rows)
                .where(
                    outbox_rows.c.locked_by == self.name,
                    outbox_rows.c.status == NotificationStatus.sending.value,
                )
                .values(
                    status=NotificationStatus.pending.value,
                    locked_until=None,
                    attempts=outbox_rows.c.attempts - 1,
                )
            )
