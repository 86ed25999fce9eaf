"""What a worker has sent, written down as it happens: outcomes are recorded in small groups as
the sends complete (every `INTERVAL` seconds, or sooner once `GROUP` are waiting), not after the
whole claimed batch. A worker killed mid-batch has then sent at most what was in flight plus one
group without a record: the only messages a successor can send twice."""

import asyncio
from collections.abc import Awaitable, Callable

from . import outbox

INTERVAL = 0.1
GROUP = 64


class OutcomeRecorder:
    def __init__(self, record: Callable[[list[outbox.Outcome]], Awaitable[None]]) -> None:
        self._record = record            # one group at a time
        self._waiting: list[outbox.Outcome] = []
        self._ready = asyncio.Event()
        self._closed = False
        self._task = asyncio.create_task(self._run(), name="outcome-recorder")

    def add(self, outcome: outbox.Outcome) -> None:
        self._waiting.append(outcome)
        if len(self._waiting) >= GROUP:
            self._ready.set()

    async def close(self) -> None:
        """Record what is left; raises what recording raised."""
        self._closed = True
        self._ready.set()
        await self._task

    async def _run(self) -> None:
        while True:
            try:
                await asyncio.wait_for(self._ready.wait(), INTERVAL)
            except asyncio.TimeoutError:
                pass
            self._ready.clear()
            group, self._waiting = self._waiting, []
            if group:
                await self._record(group)
            if self._closed and not self._waiting:
                return
