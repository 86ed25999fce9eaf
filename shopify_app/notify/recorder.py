"""What a worker has sent, written down as it happens: outcomes are recorded in small groups as
the sends complete (every `INTERVAL` seconds, or sooner once `GROUP` are waiting), not after the
whole claimed batch. A send takes a place (`acquire`) before it starts and gives it back once its
outcome is recorded, and there are `limit` places: a worker killed at any moment has sent at most
`limit` messages without a record (the only ones a successor can send twice), however slowly the
database answers. A group the database refuses for a moment (a restart, a lost connection) is
recorded again until it goes in, for up to `RETRY_SECONDS`; meanwhile sending waits for places."""

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

from ..db import is_transient
from . import attempts

log = logging.getLogger("shopify_app.worker")
INTERVAL = 0.1
GROUP = 64
RETRY_SECONDS = 60.0


def places(send_concurrency: int, channels: int) -> int:
    """Sends in flight on every channel, one group being recorded and one filling meanwhile."""
    return send_concurrency * max(1, channels) + 2 * GROUP


class OutcomeRecorder:
    def __init__(
        self, record: Callable[[list[attempts.Outcome]], Awaitable[None]], limit: int | None = None
    ) -> None:
        self._record = record  # one group at a time
        self._waiting: list[attempts.Outcome] = []
        self._ready = asyncio.Event()
        self._closed = False
        self._limit = limit
        self._unrecorded = 0  # places taken: sending, sent, or being recorded
        self._room = asyncio.Event()
        self._failed = False
        self._task = asyncio.create_task(self._run(), name="outcome-recorder")

    async def acquire(self) -> None:
        """Before a send: wait while `limit` sends are unrecorded (a slow database slows sending
        rather than widening what a kill would re-send)."""
        while self._limit is not None and self._unrecorded >= self._limit and not self._failed:
            self._room.clear()
            await self._room.wait()
        self._unrecorded += 1

    def give_back(self) -> None:
        """A place taken for a send that did not happen (the worker is stopping)."""
        self._unrecorded -= 1
        self._room.set()

    def add(self, outcome: attempts.Outcome) -> None:
        self._waiting.append(outcome)
        if len(self._waiting) >= GROUP:
            self._ready.set()

    async def close(self) -> None:
        """Record what is left; raises what recording raised."""
        self._closed = True
        self._ready.set()
        await self._task

    async def _run(self) -> None:
        try:
            while True:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._ready.wait(), INTERVAL)
                self._ready.clear()
                group, self._waiting = self._waiting, []
                if group:
                    await self._record_until_stored(group)
                    self._unrecorded -= len(group)
                    self._room.set()
                if self._closed and not self._waiting:
                    return
        except BaseException:
            self._failed = True  # sends go on unbounded, as before places; close() raises this
            self._room.set()
            raise

    async def _record_until_stored(self, group: list[attempts.Outcome]) -> None:
        """Sent messages whose record is lost are sent again by whoever takes the rows over: a
        database that is back within RETRY_SECONDS loses no record."""
        give_up, wait = time.monotonic() + RETRY_SECONDS, 0.1
        while True:
            try:
                await self._record(group)
                return
            except Exception as exc:
                if not is_transient(exc) or time.monotonic() + wait > give_up:
                    raise
                log.warning(
                    "recording outcomes failed; trying again",
                    extra={"outcomes": len(group), "error": type(exc).__name__},
                )
            await asyncio.sleep(wait)
            wait = min(2.0, wait * 2)
