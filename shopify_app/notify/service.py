"""Running workers: inside `serve` (a task owned by the lifespan) or on their own
(`shopify-app worker`). Both stop cleanly: the round in flight finishes, what is held is released."""

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator

import httpx
from anyio import to_thread
from sqlalchemy.engine import Engine

from ..config import Settings
from ..db import make_engine
from ..http_client import http_client
from .worker import Worker

log = logging.getLogger("shopify_app.worker")
STOP_GRACE_SECONDS = 30.0


@contextlib.asynccontextmanager
async def running_worker(
    settings: Settings, engine: Engine, http: httpx.AsyncClient
) -> AsyncIterator[Worker]:
    from .channels import build_channels

    channels = build_channels(settings)
    worker = Worker(settings, engine, http, channels)
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop), name="notification-worker")
    try:
        yield worker
    finally:
        stop.set()
        try:
            await asyncio.wait_for(task, timeout=STOP_GRACE_SECONDS)
        except TimeoutError:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await to_thread.run_sync(worker.release)
        await worker.close()
        for channel in channels.values():
            with contextlib.suppress(Exception):
                await channel.aclose()


async def run_standalone(settings: Settings) -> None:
    """`shopify-app worker`: until SIGTERM or SIGINT."""
    engine = make_engine(
        settings.DATABASE_URL,
        pool_size=settings.DATABASE_POOL_SIZE,
        max_overflow=settings.DATABASE_MAX_OVERFLOW,
    )
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    try:
        async with http_client(settings) as http, running_worker(settings, engine, http):
            await stopping.wait()
            # Nothing new is claimed or started from here; sends under way finish and are
            # recorded, what was claimed but not started is given back (running_worker).
            log.info("worker stopping")
    finally:
        engine.dispose()
