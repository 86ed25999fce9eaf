"""The worker's sending round: claim due notifications (SKIP LOCKED, with a lease kept fresh while
they are sent), render them, send each through its channel, and write every outcome down
(`attempts.record`, batched by `recorder.py`)."""

import asyncio
import collections
import contextlib
import logging
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from anyio import to_thread
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncEngine

from .. import metrics
from ..config import Settings
from ..db import make_async_engine, run_async, session_scope
from ..models import NotificationStatus, utcnow
from . import attempts, pace, quiet_hours, reminders
from .base import (
    Channel,
    OutgoingMessage,
    PermanentError,
    SlowDown,
    SubscriptionGone,
    TransientError,
)
from .recorder import OutcomeRecorder, places
from .render import Alert, Renderer

log = logging.getLogger("shopify_app.worker")
notifications = attempts.notifications
# an alert, its attempt number, its message (None: no contact, or it could not be rendered), and
# on a paced channel its send slot
Prepared = tuple[Alert, int, OutgoingMessage | None, datetime | None]


class Sender:
    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        channels: Mapping[str, Channel],
        renderer: Renderer,
        *,
        name: str,
        lease: timedelta,
    ):
        self.settings = settings
        self.engine = engine
        self.channels = channels
        self.renderer = renderer
        self.name = name
        self.lease = lease
        # Per channel: a slow SMS provider must not hold up email, and no more requests wait in
        # the HTTP client's pool than it has connections.
        self._in_flight = {
            name: asyncio.Semaphore(settings.SEND_CONCURRENCY) for name in self.channels
        }
        self._async_engine: AsyncEngine | None = None  # PostgreSQL: made on first use
        # channel -> when (time.monotonic) the provider's "slow down" ends, as this worker heard it;
        # other workers learn it from channel_pace when the outcome is recorded
        self._paused: dict[str, float] = {}
        self._shop_turn = 0  # the last shop served: the next claim starts after it
        self._ahead: asyncio.Task[list[Prepared]] | None = None  # the next batch (send_batch)
        self._paced = {  # channel -> its send rate (pace.py)
            name: rate for name in channels if (rate := pace.rate_of(settings, name)) is not None
        }

    def _paused_for(self, channel: str) -> float | None:
        """Seconds the channel stays paused, or None."""
        left = self._paused.get(channel, 0.0) - time.monotonic()
        return left if left > 0 else None

    async def send_batch(self, stop: asyncio.Event | None = None, *, ahead: bool = False) -> int:
        """Claim, send and record one batch. Once `stop` is set no further send starts; the sends
        under way finish and are recorded, and the rest stay claimed for `release`.

        With `ahead` (the worker's send loop) the next batch is claimed and rendered while this one
        is sent: claiming, loading and rendering 500 alerts took a third of each round, with
        nothing sent meanwhile. That batch is held under this worker's lease like the one being
        sent; `settle` waits for it before `release` gives it back. Paced channels are not claimed
        ahead: their slots would be reserved while this batch is still being sent, and a batch
        that ran late would find them past and send them all at once, over the rate."""
        claimed, self._ahead = self._ahead, None
        if claimed is None:
            prepared = await to_thread.run_sync(self._claim_and_render)
        else:  # a paced channel is claimed when its turn comes (below), never ahead
            prepared = await claimed
            if self._paced:
                prepared += await to_thread.run_sync(partial(self._claim_and_render, unpaced=False))
        if not prepared:
            return 0
        stopping = stop or asyncio.Event()
        if ahead and not stopping.is_set():
            self._ahead = asyncio.create_task(
                to_thread.run_sync(partial(self._claim_and_render, paced=False)), name="claim-ahead"
            )
        recorder = OutcomeRecorder(
            self._record_async, places(self.settings.SEND_CONCURRENCY, len(self.channels))
        )
        heartbeat = asyncio.create_task(self._keep_lease(), name="lease-heartbeat")

        async def send_and_record(
            alert: Alert, attempt: int, message: OutgoingMessage | None, slot: datetime | None
        ) -> None:
            if slot is not None:  # the channel's pace (pace.py): wait for this message's turn
                await _sleep_until(slot, stopping)
            if stopping.is_set():
                return
            await recorder.acquire()
            outcome = await self._send(alert, attempt, message, stopping)
            if outcome is None:
                recorder.give_back()
            else:
                metrics.record_send(alert.channel, outcome.outcome)
                recorder.add(outcome)

        # Per channel, SEND_CONCURRENCY tasks take the messages in turn (a paced channel's by its
        # slots). A task per message, most of them waiting on the channel's semaphore, cost a
        # quarter of the worker's CPU per message (bench/fanout.py: SMS ~640 -> ~440 µs).
        queues: dict[str, collections.deque[Prepared]] = {}
        for item in sorted(prepared, key=lambda item: item[3] or _NO_SLOT):
            queues.setdefault(item[0].channel, collections.deque()).append(item)

        async def consume(queue: collections.deque[Prepared]) -> None:
            while queue and not stopping.is_set():
                await send_and_record(*queue.popleft())

        try:
            await asyncio.gather(
                *(
                    consume(queue)
                    for queue in queues.values()
                    for _ in range(min(len(queue), self.settings.SEND_CONCURRENCY))
                )
            )
        finally:
            heartbeat.cancel()
            await recorder.close()
        return len(prepared)

    # -- the lease --------------------------------------------------------------------------

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
            session.execute(
                update(notifications)
                .where(
                    notifications.c.locked_by == self.name,
                    notifications.c.status == NotificationStatus.sending.value,
                )
                .values(locked_until=utcnow() + self.lease)
            )

    async def settle(self) -> None:
        """Wait for a batch being claimed ahead (its rows are then given back by `release`)."""
        claimed, self._ahead = self._ahead, None
        if claimed is not None:
            try:
                await claimed
            except Exception:
                log.exception("claiming ahead failed", extra={"worker": self.name})

    def release(self) -> None:
        """Give back what this worker holds (on shutdown) so others need not wait for the lease."""
        with session_scope(self.engine) as session:
            session.execute(
                update(notifications)
                .where(
                    notifications.c.locked_by == self.name,
                    notifications.c.status == NotificationStatus.sending.value,
                )
                .values(
                    status=NotificationStatus.pending.value,
                    locked_until=None,
                    attempts=notifications.c.attempts - 1,
                )
            )

    # -- claiming, rendering, sending -------------------------------------------------------

    def _claim_and_render(self, unpaced: bool = True, paced: bool = True) -> list[Prepared]:
        """Claim a batch of the channels not paused (the unpaced ones, the paced ones or both),
        load and render it."""
        slots: dict[int, datetime] = {}
        ids: list[int] = []
        with session_scope(self.engine) as session:
            now = utcnow()
            paused = pace.paused(session, list(self.channels), now)
            open_ = [c for c in sorted(self.channels) if c not in paused]
            batch = self.settings.WORKER_BATCH_SIZE

            def to_send(claimed: list[attempts.Claimed]) -> list[int]:
                """Less what waits for quiet hours to end and the reminders no longer due."""
                kept = reminders.drop_stale(
                    session, quiet_hours.hold(session, self.name, claimed, now)
                )
                return [c.id for c in kept]

            if unpaced:
                claimed, self._shop_turn = attempts.claim_in_turn(
                    session,
                    self.name,
                    [c for c in open_ if c not in self._paced],
                    limit=batch,
                    lease=self.lease,
                    after_shop=self._shop_turn,
                )
                ids = to_send(claimed)
            for channel in open_ if paced else ():
                rate = self._paced.get(channel)
                if rate is None:
                    continue
                pace.take_turn(session, channel, now)  # claim and reserve in one turn
                claimed, _ = attempts.claim_in_turn(
                    session,
                    self.name,
                    [channel],
                    limit=pace.claim_limit(rate, batch),
                    lease=self.lease,
                )
                mine = to_send(claimed)  # before taking slots
                if mine:
                    slots.update(
                        zip(mine, pace.reserve(session, channel, len(mine), rate, now), strict=True)
                    )
                    ids.extend(mine)
        if not ids:
            return []
        with session_scope(self.engine) as session:
            alerts = attempts.load_alerts(session, ids)
        prepared: list[Prepared] = []
        for alert, attempt in alerts:
            slot = slots.get(alert.notification_id)
            try:
                message = self.renderer.render(alert) if alert.to else None
            except Exception:
                log.exception("render failed", extra={"notification": alert.notification_id})
                message = None
            prepared.append((alert, attempt, message, slot))
        return prepared

    async def _send(
        self,
        alert: Alert,
        attempt: int,
        message: OutgoingMessage | None,
        stopping: asyncio.Event,
    ) -> attempts.Outcome | None:
        """The outcome; None when the worker began stopping before this send could start."""
        base: dict[str, Any] = {
            "notification_id": alert.notification_id,
            "intent_id": alert.intent_id,
            "attempt": attempt,
            "channel": alert.channel,
        }
        if (pause := self._paused_for(alert.channel)) is not None:
            return attempts.Outcome(**base, outcome="deferred", retry_after=pause)
        if message is None:
            return attempts.Outcome(
                **base,
                outcome="failed",
                error="no contact for this channel, or the message could not be rendered",
            )
        try:
            async with self._in_flight[alert.channel]:
                if stopping.is_set():
                    return None
                if (pause := self._paused_for(alert.channel)) is not None:
                    return attempts.Outcome(**base, outcome="deferred", retry_after=pause)
                with metrics.send_timer(alert.channel):
                    provider_id = await self.channels[alert.channel].send(message)
        except SlowDown as exc:
            pause = pace.pause_seconds(exc.retry_after)
            self._paused[alert.channel] = max(
                self._paused.get(alert.channel, 0.0), time.monotonic() + pause
            )
            metrics.record_rate_limit_pause(alert.channel)
            log.warning(
                "provider asked to slow down; channel paused",
                extra={"channel": alert.channel, "seconds": pause, "worker": self.name},
            )
            return attempts.Outcome(
                **base, outcome="throttled", error=str(exc) or "slow down", retry_after=pause
            )
        except SubscriptionGone as exc:
            return attempts.Outcome(
                **base,
                outcome="failed",
                error=str(exc) or "subscription gone",
                subscription_gone=True,
            )
        except PermanentError as exc:
            return attempts.Outcome(**base, outcome="failed", error=str(exc) or type(exc).__name__)
        except TransientError as exc:
            return attempts.Outcome(
                **base,
                outcome="retry",
                error=str(exc) or type(exc).__name__,
                retry_after=getattr(exc, "retry_after", None),
            )
        except Exception as exc:
            log.exception("send failed unexpectedly", extra={"notification": alert.notification_id})
            return attempts.Outcome(**base, outcome="retry", error=f"{type(exc).__name__}: {exc}")
        return attempts.Outcome(**base, outcome="sent", provider_id=provider_id)

    # -- recording --------------------------------------------------------------------------

    async def _record_async(self, outcomes: list[attempts.Outcome]) -> None:
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
            self._async_engine, lambda connection: attempts.record(connection, self.name, outcomes)
        )
        self._log_sent(outcomes)

    def _record(self, outcomes: list[attempts.Outcome]) -> None:
        with session_scope(self.engine) as session:
            attempts.record(session, self.name, outcomes)
        self._log_sent(outcomes)

    def _log_sent(self, outcomes: list[attempts.Outcome]) -> None:
        sent = sum(1 for o in outcomes if o.outcome == "sent")
        log.info(
            "sent", extra={"worker": self.name, "sent": sent, "not_sent": len(outcomes) - sent}
        )

    async def close(self) -> None:
        await self.settle()
        if self._async_engine is not None:
            await self._async_engine.dispose()
            self._async_engine = None


_NO_SLOT = datetime.min.replace(tzinfo=UTC)  # an unpaced message: its place in the claim order


async def _sleep_until(when: datetime, stop: asyncio.Event) -> None:
    """Until `when` (wall clock: slots are shared between processes), or until `stop`."""
    wait = (when - utcnow()).total_seconds()
    if wait > 0:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=wait)
