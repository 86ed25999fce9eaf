"""The worker's sending round: claim due notifications (SKIP LOCKED, with a lease kept fresh while
they are sent), render them, send each through its channel, and write every outcome down
(`attempts.record`, batched by `recorder.py`)."""

import asyncio
import logging
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from anyio import to_thread
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncEngine

from .. import metrics
from ..config import Settings
from ..db import make_async_engine, run_async, session_scope
from ..models import NotificationStatus, utcnow
from . import attempts
from .base import Channel, OutgoingMessage, PermanentError, SubscriptionGone, TransientError
from .recorder import OutcomeRecorder, places
from .render import Alert, Renderer

log = logging.getLogger("shopify_app.worker")
notifications = attempts.notifications
Prepared = tuple[Alert, int, OutgoingMessage | None]


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
        # httpx's pool than it has connections (its queue grows costly past that).
        self._in_flight = {
            name: asyncio.Semaphore(settings.SEND_CONCURRENCY) for name in self.channels
        }
        self._async_engine: AsyncEngine | None = None  # PostgreSQL: made on first use

    async def send_batch(self, stop: asyncio.Event | None = None) -> int:
        """Claim, send and record one batch. Once `stop` is set no further send starts; the sends
        under way finish and are recorded, and the rest stay claimed for `release`."""
        prepared = await to_thread.run_sync(self._claim_and_render)
        if not prepared:
            return 0
        stopping = stop or asyncio.Event()
        recorder = OutcomeRecorder(
            self._record_async, places(self.settings.SEND_CONCURRENCY, len(self.channels))
        )
        heartbeat = asyncio.create_task(self._keep_lease(), name="lease-heartbeat")

        async def send_and_record(
            alert: Alert, attempt: int, message: OutgoingMessage | None
        ) -> None:
            if stopping.is_set():
                return
            await recorder.acquire()
            outcome = await self._send(alert, attempt, message, stopping)
            if outcome is None:
                recorder.give_back()
            else:
                metrics.record_send(alert.channel, outcome.outcome)
                recorder.add(outcome)

        try:
            await asyncio.gather(*(send_and_record(*item) for item in prepared))
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

    def _claim_and_render(self) -> list[Prepared]:
        with session_scope(self.engine) as session:
            ids = attempts.claim(
                session,
                self.name,
                sorted(self.channels),
                limit=self.settings.WORKER_BATCH_SIZE,
                lease=self.lease,
            )
        if not ids:
            return []
        with session_scope(self.engine) as session:
            alerts = attempts.load_alerts(session, ids)
        prepared: list[Prepared] = []
        for alert, attempt in alerts:
            try:
                prepared.append((alert, attempt, self.renderer.render(alert) if alert.to else None))
            except Exception:
                log.exception("render failed", extra={"notification": alert.notification_id})
                prepared.append((alert, attempt, None))
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
        }
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
                with metrics.send_timer(alert.channel):
                    provider_id = await self.channels[alert.channel].send(message)
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
        if self._async_engine is not None:
            await self._async_engine.dispose()
            self._async_engine = None
