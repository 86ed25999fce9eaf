"""The worker's job round: every job kind has its registered handler, and a job of a kind with no
handler fails loudly (recorded failed with why, logged with its kind) instead of vanishing."""

import asyncio
import logging

import httpx
from sqlalchemy import select

from shopify_app import tasks
from shopify_app.db import session_scope
from shopify_app.models import Job, JobKind, JobStatus, utcnow
from shopify_app.notify.worker import Worker


def test_every_job_kind_has_a_registered_handler():
    assert set(tasks.HANDLERS) == set(JobKind)
    assert all(tasks.handler_for(kind.value) is tasks.HANDLERS[kind] for kind in JobKind)
    assert tasks.handler_for("no_such_kind") is None


def test_a_job_of_an_unknown_kind_is_recorded_failed_and_logged(engine, settings, caplog):
    now = utcnow()
    with session_scope(engine) as session:
        session.add(
            Job(
                kind="vanished",
                key="k1",
                status=JobStatus.pending.value,
                run_at=now,
                created_at=now,
                updated_at=now,
            )
        )
        session.add(
            Job(
                kind=JobKind.reconcile.value,
                key="no-shop",
                status=JobStatus.pending.value,
                run_at=now,
                created_at=now,
                updated_at=now,
            )
        )

    async def rounds() -> None:
        async with httpx.AsyncClient() as http:
            worker = Worker(settings, engine, http, {})
            await worker.drain()
            await worker.drain()  # a failed unknown job is not claimed again

    with caplog.at_level(logging.INFO, logger="shopify_app.worker"):
        asyncio.run(rounds())
    with session_scope(engine) as session:
        rows = {job.key: job for job in session.execute(select(Job).order_by(Job.id)).scalars()}
        unknown, known = rows["k1"], rows["no-shop"]
        assert unknown.status == JobStatus.failed.value and unknown.attempts == 1
        assert unknown.last_error == "unknown job kind 'vanished'"
        assert known.status == JobStatus.done.value  # a known kind without its shop: nothing to do
    failed = [r for r in caplog.records if r.getMessage() == "unknown job kind; job failed"]
    assert len(failed) == 1 and failed[0].levelno == logging.ERROR
    assert failed[0].job == "vanished" and failed[0].key == "k1"
