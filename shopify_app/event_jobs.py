"""The worker's side of events out (events_out.py): `deliver` sends one event delivery to its
target, the merchant's webhook (webhooks_out.py) or Shopify Flow (flow.py), and writes down how it
went; a network error, a 5xx or throttling fails the job, which the worker retries after 30 s,
2 min, 8 min, 32 min, then hourly (MAX_JOB_ATTEMPTS in all, about 3.7 hours; then the delivery
is failed for good). `signup_event` writes the
`signup.created` event of a signup filed by PostgreSQL's one-statement path (first_signup.py),
which can only queue a job for it."""

import json
from functools import partial

from anyio import to_thread
from sqlalchemy import select

from . import events_out, flow, webhooks_out
from .job_context import JobContext, ShopRow
from .jobs import MAX_JOB_ATTEMPTS, ClaimedJob
from .models import EventDeliveryStatus, EventTarget, Intent

intents = Intent.__table__


RETRY_FIRST, RETRY_MOST = 30.0, 3600.0  # seconds: 30 s, 2 min, 8 min, 32 min, then hourly


class DeliveryFailed(Exception):
    """Not delivered this time: the job is retried after `retry_after` seconds (the worker reads
    it), growing fourfold, so a receiver down for a few hours still gets its events."""

    def __init__(self, message: str, attempt: int):
        super().__init__(message)
        self.retry_after = min(RETRY_MOST, RETRY_FIRST * 4 ** max(0, attempt - 1))


async def deliver(ctx: JobContext, shop: ShopRow, job: ClaimedJob) -> None:
    event_id, target = job.key.rsplit(":", 1)
    found = await to_thread.run_sync(
        ctx.in_session, events_out.pending, shop["id"], event_id, target
    )
    if found is None:
        return  # delivered (or given up on) already
    code: int | None = None
    if target == EventTarget.webhook.value:
        if not shop["webhook_url"]:
            answer = webhooks_out.Answer(False, False, None, "webhook URL removed")
        else:
            answer = await webhooks_out.post(
                ctx.http,
                shop["webhook_url"],
                shop["webhook_secret_encrypted"],
                ctx.settings.secret_keys,
                ctx.settings.webhook_local_hosts,
                body=found.body,
                topic=found.topic,
                event_id=found.event_id,
                shop=shop["domain"],
            )
        delivered, retry, code, error = (
            answer.delivered,
            answer.retry,
            answer.status_code,
            answer.error,
        )
    else:
        sent = json.loads(found.body)
        fired = await flow.fire(ctx.api(shop), sent["handle"], sent["payload"])
        delivered, retry, error = fired.delivered, fired.retry, fired.error
    last = job.attempts >= MAX_JOB_ATTEMPTS
    status = (
        EventDeliveryStatus.delivered
        if delivered
        else EventDeliveryStatus.pending
        if retry and not last
        else EventDeliveryStatus.failed
    )
    settle = partial(events_out.settle, status=status, status_code=code, error=error)
    await to_thread.run_sync(ctx.in_session, settle, found.id)
    if status == EventDeliveryStatus.pending:
        raise DeliveryFailed(error or "not delivered", job.attempts)


def _signup_event(session, shop_id: int, intent_id: int) -> int:
    row = (
        session.execute(
            select(intents).where(intents.c.id == intent_id, intents.c.shop_id == shop_id)
        )
        .mappings()
        .first()
    )
    if row is None:
        return 0  # removed meanwhile (a redaction): nothing to tell
    event = events_out.signup_event(shop_id, row)
    return events_out.emit(session, events_out.SIGNUP_CREATED, [event])


async def signup_event(ctx: JobContext, shop: ShopRow, job: ClaimedJob) -> None:
    await to_thread.run_sync(
        ctx.in_session, _signup_event, shop["id"], int(job.payload["intent_id"])
    )
