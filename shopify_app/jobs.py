"""Durable jobs: written in the same transaction as what caused them, claimed by any worker.

Claiming uses `FOR UPDATE SKIP LOCKED` on PostgreSQL (the pattern of Solid Queue, River,
Procrastinate), so several workers never take the same job; SQLite runs one process. A claimed job
carries a lease: if its worker dies, the job is claimed again once the lease has passed.
"""

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, or_, select, update
from sqlalchemy.orm import Session

from .db import dialect_insert, insert_ignoring_conflicts
from .models import JOB_TO_RUN, Job, JobKind, JobStatus, utcnow

jobs = Job.__table__
MAX_JOB_ATTEMPTS = 8


@dataclass(frozen=True)
class ClaimedJob:
    id: int
    kind: str
    key: str
    shop_id: int | None
    payload: dict[str, Any]
    attempts: int


def job_row(
    kind: JobKind,
    key: str,
    shop_id: int | None,
    payload: dict[str, Any] | None,
    run_at: datetime | None,
    now: datetime,
) -> dict[str, Any]:
    return {
        "kind": kind.value,
        "key": key,
        "shop_id": shop_id,
        "payload": json.dumps(payload or {}),
        "status": JobStatus.pending.value,
        "run_at": run_at or now,
        "attempts": 0,
        "created_at": now,
        "updated_at": now,
    }


def enqueue(
    session: Session | Connection,
    kind: JobKind,
    key: str,
    *,
    shop_id: int | None = None,
    payload: dict[str, Any] | None = None,
    run_at: datetime | None = None,
) -> None:
    """Add a job unless the same (kind, key) is already pending: repeated causes coalesce."""
    session.execute(
        insert_ignoring_conflicts(
            session, jobs, job_row(kind, key, shop_id, payload, run_at, utcnow())
        )
    )


def enqueue_many(
    session: Session | Connection,
    kind: JobKind,
    entries: list[tuple[str, int | None, dict[str, Any]]],
) -> None:
    """`enqueue` for many (key, shop_id, payload) at once, in one multi-row statement."""
    if not entries:
        return
    now = utcnow()
    rows = [job_row(kind, key, shop_id, payload, None, now) for key, shop_id, payload in entries]
    session.execute(dialect_insert(session, jobs).on_conflict_do_nothing(), rows)


def claim(
    session: Session, worker: str, *, limit: int, lease: timedelta, now: datetime | None = None
) -> list[ClaimedJob]:
    now = now or utcnow()
    due = (
        select(jobs.c.id)
        .where(
            or_(
                and_(jobs.c.status == JobStatus.pending.value, jobs.c.run_at <= now),
                and_(jobs.c.status == JobStatus.running.value, jobs.c.locked_until < now),
            )
        )
        .order_by(jobs.c.run_at, jobs.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    rows = session.execute(
        update(jobs)
        .where(jobs.c.id.in_(due.scalar_subquery()))
        .values(
            status=JobStatus.running.value,
            locked_by=worker,
            locked_until=now + lease,
            attempts=jobs.c.attempts + 1,
            updated_at=now,
        )
        .returning(
            jobs.c.id, jobs.c.kind, jobs.c.key, jobs.c.shop_id, jobs.c.payload, jobs.c.attempts
        )
    ).all()
    return [
        ClaimedJob(
            id=r.id,
            kind=r.kind,
            key=r.key,
            shop_id=r.shop_id,
            payload=json.loads(r.payload),
            attempts=r.attempts,
        )
        for r in sorted(rows, key=lambda r: r.id)
    ]


def finish(session: Session, job_id: int) -> None:
    session.execute(
        update(jobs)
        .where(jobs.c.id == job_id)
        .values(status=JobStatus.done.value, locked_until=None, updated_at=utcnow())
    )


def release(session: Session, worker: str, job_ids: list[int]) -> None:
    """Give back jobs claimed but not started (the worker is stopping): due again at once, their
    attempt not counted."""
    if not job_ids:
        return
    session.execute(
        update(jobs)
        .where(
            jobs.c.id.in_(job_ids),
            jobs.c.locked_by == worker,
            jobs.c.status == JobStatus.running.value,
        )
        .values(
            status=JobStatus.pending.value,
            locked_until=None,
            attempts=jobs.c.attempts - 1,
            updated_at=utcnow(),
        )
    )


def wait_for_token(session: Session, job: ClaimedJob) -> None:
    """The job needs the shop's Admin API while the shop must reconnect: it waits, its attempt not
    counted, until a new token is stored (`resume_waiting`). One waits per key."""
    now = utcnow()
    twin = session.execute(
        select(jobs.c.id).where(
            jobs.c.kind == job.kind,
            jobs.c.key == job.key,
            jobs.c.id != job.id,
            jobs.c.status.in_(JOB_TO_RUN),
        )
    ).first()
    if twin is not None:
        finish(session, job.id)
        return
    session.execute(
        update(jobs)
        .where(jobs.c.id == job.id)
        .values(
            status=JobStatus.waiting.value,
            attempts=jobs.c.attempts - 1,
            locked_until=None,
            updated_at=now,
            last_error="waiting for the shop to reconnect (Shopify refused its token)",
        )
    )


def fail(session: Session, job: ClaimedJob, error: str, *, retry_in: timedelta) -> None:
    """Retry later, or give up after MAX_JOB_ATTEMPTS (the row stays, with its error)."""
    now = utcnow()
    give_up = job.attempts >= MAX_JOB_ATTEMPTS
    sibling = session.execute(
        select(jobs.c.id).where(
            jobs.c.kind == job.kind, jobs.c.key == job.key, jobs.c.status == JobStatus.pending.value
        )
    ).first()
    if sibling is not None and not give_up:
        finish(session, job.id)  # a newer pending job for the same key will do the work
        return
    session.execute(
        update(jobs)
        .where(jobs.c.id == job.id)
        .values(
            status=JobStatus.failed.value if give_up else JobStatus.pending.value,
            run_at=now + retry_in,
            locked_until=None,
            last_error=error[:2000],
            updated_at=now,
        )
    )


def fail_unknown(session: Session, job: ClaimedJob) -> None:
    """A job of a kind no handler is registered for (`tasks.HANDLERS`): failed for good, not
    retried (no later attempt would know it either)."""
    session.execute(
        update(jobs)
        .where(jobs.c.id == job.id)
        .values(
            status=JobStatus.failed.value,
            locked_until=None,
            last_error=f"unknown job kind {job.kind!r}"[:2000],
            updated_at=utcnow(),
        )
    )


def resume_waiting(connection: Connection, shop_id: int) -> int:
    """The shop has a token again: its jobs that waited for one are due now (one per kind and key;
    a pending twin already does the work of the others)."""
    now = utcnow()
    waiting = connection.execute(
        select(jobs.c.id, jobs.c.kind, jobs.c.key)
        .where(jobs.c.shop_id == shop_id, jobs.c.status == JobStatus.waiting.value)
        .order_by(jobs.c.id)
    ).all()
    pending = {
        (r.kind, r.key)
        for r in connection.execute(
            select(jobs.c.kind, jobs.c.key).where(
                jobs.c.shop_id == shop_id, jobs.c.status == JobStatus.pending.value
            )
        )
    }
    for job in waiting:
        twin = (job.kind, job.key) in pending
        pending.add((job.kind, job.key))
        connection.execute(
            update(jobs)
            .where(jobs.c.id == job.id)
            .values(
                status=JobStatus.done.value if twin else JobStatus.pending.value,
                run_at=now,
                updated_at=now,
            )
        )
    return len(waiting)
