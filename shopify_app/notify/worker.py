"""The worker: three loops side by side. The periodic loop runs the periodic tasks that are due
(`tasks.PERIODIC`); the job loop applies recorded inventory levels (they enqueue jobs) and runs
the due jobs through their registered handlers (`tasks.HANDLERS`), several at once; the send loop
sends batches of due notifications (`sender.py`). Apart, so that a task or a job waiting on the
Admin API (Shopify slow or down, its retries backing off) never holds up a restock's decision or
alerts already decided. The worker does not know what a
job does. Any number of workers can run against PostgreSQL; rows are claimed with SKIP LOCKED and
a lease."""

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta

import httpx
from anyio import to_thread
from sqlalchemy import select
from sqlalchemy.engine import Engine

from .. import inventory_deliveries, jobs, shop_tokens, tasks
from ..config import Settings
from ..db import session_scope
from ..job_context import JobContext, ShopRow
from ..models import Shop
from ..shops import INSTALLED
from . import attempts
from .base import Channel
from .render import Renderer
from .sender import Sender

log = logging.getLogger("shopify_app.worker")
shops = Shop.__table__
JOBS_PER_ROUND = 20
JOB_CONCURRENCY = 8  # jobs of one round run side by side, at most this many at once


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
        self.channels = dict(channels)
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.lease = timedelta(seconds=settings.WORKER_LEASE_SECONDS)
        self.context = JobContext(
            settings=settings,
            engine=engine,
            http=http,
            channels=self.channels,
            renderer=renderer or Renderer(settings),
            worker=self.name,
        )
        self.sender = Sender(
            settings,
            engine,
            self.channels,
            self.context.renderer,
            name=self.name,
            lease=self.lease,
        )
        self._next_run = {task.name: 0.0 for task in tasks.PERIODIC}
        self._stop: asyncio.Event | None = None  # set by `run`
        self._running_jobs: set[asyncio.Task[None]] = set()  # the job loop's jobs under way
        # set when a job of this worker has finished (a restock decided writes its alerts): the
        # send loop's pause ends at once instead of after WORKER_POLL_INTERVAL
        self._sends_due = asyncio.Event()

    # -- the loop ---------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Until `stop` is set. Then nothing new is started: no claim, no job, no send; what is in
        flight finishes and is recorded, and what was claimed but not started is given back."""
        self._stop = stop
        log.info("worker started", extra={"worker": self.name, "channels": sorted(self.channels)})
        await asyncio.gather(
            self._loop("periodic", self.periodic_round, stop),
            self._loop("jobs", self.job_round, stop),
            self._loop("sends", self.send_round, stop, wake=self._sends_due),
        )
        if self._running_jobs:  # started before the stop: they finish and are written down
            await asyncio.gather(*self._running_jobs)
        await self.sender.settle()  # a batch claimed ahead: `release` gives it back
        log.info("worker stopped", extra={"worker": self.name})

    async def _loop(
        self,
        name: str,
        round_: Callable[[], Awaitable[int]],
        stop: asyncio.Event,
        *,
        wake: asyncio.Event | None = None,
    ):
        """Rounds until `stop`; after a round with nothing to do, a pause (WORKER_POLL_INTERVAL)
        that `wake`, set during the round or the pause, cuts short."""
        while not stop.is_set():
            if wake is not None:
                wake.clear()  # set from here on: the next pause ends at once
            try:
                done = await round_() if not stop.is_set() else 0
            except Exception:
                log.exception("worker round failed", extra={"worker": self.name, "loop": name})
                done = 0
            if not done:
                await _pause(self.settings.WORKER_POLL_INTERVAL, stop, wake)

    async def periodic_round(self) -> int:
        await self.run_periodic()
        return 0  # then a pause: the tasks' own intervals are far longer

    async def job_round(self) -> int:
        """Recorded webhooks applied, then as many due jobs claimed as there is room for beside
        those still running (JOB_CONCURRENCY), each started at once: a job at a slow Admin API
        keeps its place without keeping the next restock waiting."""
        if self._stopping:
            return 0
        self._running_jobs = {t for t in self._running_jobs if not t.done()}
        applied = await to_thread.run_sync(inventory_deliveries.apply_recorded, self.engine)
        room = JOB_CONCURRENCY - len(self._running_jobs)
        claimed = await to_thread.run_sync(self._claim_jobs, room) if room > 0 else []
        for job in claimed:
            self._running_jobs.add(asyncio.create_task(self._run_and_settle(job)))
        return applied + len(claimed)

    async def send_round(self) -> int:
        return await self.sender.send_batch(self._stop, ahead=True)

    async def run_periodic(self) -> None:
        """The periodic tasks that are due (each is due once when the worker starts)."""
        loop = asyncio.get_running_loop()
        for task in tasks.PERIODIC:
            if self._stopping:
                return
            every = task.every(self.settings)
            if every > 0 and loop.time() >= self._next_run[task.name]:
                self._next_run[task.name] = loop.time() + every
                await to_thread.run_sync(task.run, self.context)

    async def tick(self) -> int:
        """One round of each loop, one after the other (tests, demo): how much was done."""
        jobs_done = await self.run_jobs()
        if self._stopping:
            return jobs_done
        return jobs_done + await self.sender.send_batch(self._stop)

    @property
    def _stopping(self) -> bool:
        return self._stop is not None and self._stop.is_set()

    async def drain(self, rounds: int = 1000) -> None:
        """Work until nothing is due (tests, demo)."""
        try:
            for _ in range(rounds):
                if not await self.tick():
                    return
        finally:
            await self.close()

    def release(self) -> None:
        """Give back what this worker holds (on shutdown) so others need not wait for the lease."""
        self.sender.release()

    async def close(self) -> None:
        await self.sender.close()

    # -- jobs -------------------------------------------------------------------------------

    async def run_jobs(self) -> int:
        """One round of jobs to the end (tests, demo): recorded webhooks first (they enqueue
        jobs), then the due jobs, JOB_CONCURRENCY at a time."""
        applied = await to_thread.run_sync(inventory_deliveries.apply_recorded, self.engine)
        claimed = await to_thread.run_sync(self._claim_jobs, JOBS_PER_ROUND)
        limit = asyncio.Semaphore(JOB_CONCURRENCY)
        given_back: list[int] = []

        async def one(job: jobs.ClaimedJob) -> None:
            async with limit:
                if self._stopping:
                    given_back.append(job.id)
                    return
                await self._run_and_settle(job)

        await asyncio.gather(*(one(job) for job in claimed))
        if given_back:
            await to_thread.run_sync(self.context.in_session, jobs.release, self.name, given_back)
            log.info("jobs given back", extra={"jobs": len(given_back), "worker": self.name})
        return applied + len(claimed) - len(given_back)

    async def _run_and_settle(self, job: jobs.ClaimedJob) -> None:
        """Run the job and write down how it went: done, waiting for a token, or failed (retried
        with backoff)."""
        try:
            ran = await self.run_job(job)
            if ran:
                await to_thread.run_sync(self.context.in_session, jobs.finish, job.id)
                self._sends_due.set()  # it may have written alerts: the send loop looks now
                log.info("job", extra={"job": job.kind, "key": job.key, "worker": self.name})
        except shop_tokens.ReconnectNeeded:
            # resumed when the shop has a token again
            await to_thread.run_sync(self.context.in_session, jobs.wait_for_token, job)
        except Exception as exc:
            retry_in = getattr(exc, "retry_after", None) or attempts.backoff(job.attempts)
            await to_thread.run_sync(self._fail_job, job, f"{type(exc).__name__}: {exc}", retry_in)
            log.warning(
                "job failed", extra={"job": job.kind, "key": job.key, "error": str(exc)[:300]}
            )

    async def run_job(self, job: jobs.ClaimedJob) -> bool:
        """Run the job's handler; False for a kind without one (then failed for good, logged)."""
        handler = tasks.handler_for(job.kind)
        if handler is None:
            await to_thread.run_sync(self.context.in_session, jobs.fail_unknown, job)
            log.error(
                "unknown job kind; job failed",
                extra={"job": job.kind, "key": job.key, "worker": self.name},
            )
            return False
        shop = await to_thread.run_sync(self._shop, job.shop_id)
        if shop is not None:  # else uninstalled or erased: nothing to do
            await handler(self.context, shop, job)
        return True

    def _claim_jobs(self, limit: int) -> list[jobs.ClaimedJob]:
        with session_scope(self.engine) as session:
            return jobs.claim(session, self.name, limit=limit, lease=self.lease)

    def _fail_job(self, job: jobs.ClaimedJob, error: str, retry_in: float) -> None:
        with session_scope(self.engine) as session:
            jobs.fail(session, job, error, retry_in=timedelta(seconds=retry_in))

    def _shop(self, shop_id: int | None) -> ShopRow | None:
        if shop_id is None:
            return None
        with session_scope(self.engine) as session:
            return (
                session.execute(select(shops).where(shops.c.id == shop_id, INSTALLED))
                .mappings()
                .first()
            )


async def _pause(seconds: float, *events: asyncio.Event | None) -> None:
    """Until one of the events is set, or `seconds` have passed."""
    waits = [asyncio.ensure_future(e.wait()) for e in events if e is not None]
    try:
        await asyncio.wait(waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waits:
            w.cancel()
