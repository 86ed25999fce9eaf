"""What the worker runs, in two tables: the handler of each job kind (`HANDLERS`), and the periodic
tasks (`PERIODIC`, each with how often). The worker only loops, claims and sends: it does not know
what a job does. A job of a kind missing here fails loudly (recorded failed, logged)."""

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

from . import (
    demand,
    event_jobs,
    housekeeping,
    privacy,
    restock_jobs,
    shop_profile,
    shop_tokens,
    variant_reads,
)
from .config import Settings
from .db import session_scope
from .job_context import JobContext, ShopRow
from .jobs import ClaimedJob
from .models import JobKind, utcnow
from .notify import merchant, reminders, weekly_summary
from .token_upkeep import needing_upkeep, renew

log = logging.getLogger("shopify_app.worker")
Handler = Callable[[JobContext, ShopRow, ClaimedJob], Awaitable[None]]
PURGE_INTERVAL_SECONDS = 3600
# How often the worker looks for shops whose weekly summary is due (each Monday from 01:00 UTC).
WEEKLY_SUMMARY_CHECK_SECONDS = 3600
# Token upkeep renews a refresh token this close to its end (a shop with no Admin API work for weeks).
REFRESH_TOKEN_UPKEEP = timedelta(days=14)

HANDLERS: dict[JobKind, Handler] = {
    JobKind.inventory: restock_jobs.inventory_changed,
    JobKind.batch: restock_jobs.next_batch,
    JobKind.reconcile: restock_jobs.reconcile,
    JobKind.demand_alert: merchant.demand_alert,
    JobKind.data_request: merchant.data_request,
    JobKind.test_alert: merchant.test_alert,
    JobKind.shop_profile: shop_profile.read_profile,
    JobKind.variant_read: variant_reads.read_variant,
    JobKind.signup_event: event_jobs.signup_event,
    JobKind.event_out: event_jobs.deliver,
    JobKind.weekly_summary: weekly_summary.send,
}


def handler_for(kind: str) -> Handler | None:
    """The handler registered for a job row's kind; None for a kind this code does not know."""
    try:
        return HANDLERS[JobKind(kind)]
    except (ValueError, KeyError):
        return None


# -- periodic tasks ---------------------------------------------------------------------------


def purge_expired(ctx: JobContext) -> int:
    """Old webhook deliveries and finished jobs go (housekeeping.py), and retention
    (RETENTION_DAYS) forgets the contacts of signups done with long ago."""
    with ctx.engine.begin() as connection:
        removed = housekeeping.purge(connection)
    if any(removed.values()):
        log.info("housekeeping", extra={"worker": ctx.worker, **removed})
    with session_scope(ctx.engine) as session:
        forgotten = privacy.purge_expired(session, ctx.settings.RETENTION_DAYS)
    if forgotten:
        log.info("retention purge", extra={"worker": ctx.worker, "signups": forgotten})
    return forgotten


def token_upkeep(ctx: JobContext) -> int:
    """Shops whose token should be renewed before any call needs it: non-expiring tokens are
    migrated (Shopify refuses them from 2027-01-01), refresh tokens near their end renewed."""
    renewed = 0
    for shop_id in needing_upkeep(ctx.engine, REFRESH_TOKEN_UPKEEP):
        try:
            renew(ctx.engine, ctx.settings, shop_id)
            renewed += 1
        except (shop_tokens.ReconnectNeeded, LookupError):
            pass  # logged where it was found
        except Exception as exc:
            log.warning(
                "token upkeep failed; retried next round",
                extra={"shop_id": shop_id, "error": type(exc).__name__},
            )
    return renewed


def write_reminders(ctx: JobContext) -> int:
    """Reminders after alerts (notify/reminders.py): the stages that are due, for every shop."""
    with session_scope(ctx.engine) as session:
        return reminders.schedule(session)


def check_demand(ctx: JobContext) -> int:
    """High-demand alerts (demand.py): variants whose waiting list reached their shop's threshold."""
    with session_scope(ctx.engine) as session:
        return demand.raise_alerts(session)


def refresh_shop_profiles(ctx: JobContext) -> int:
    """The shop-profile job again for shops whose profile was read a day ago (shop_profile.py):
    markets, delivery profiles and locations changed in Shopify since."""
    with session_scope(ctx.engine) as session:
        return shop_profile.queue_stale(session, utcnow())


def queue_weekly_summaries(ctx: JobContext) -> int:
    """Weekly summary emails (notify/weekly_summary.py): one job per shop for its last whole week."""
    with session_scope(ctx.engine) as session:
        return weekly_summary.queue_due(session, utcnow())


@dataclass(frozen=True)
class Periodic:
    name: str
    every: Callable[[Settings], float]  # seconds between runs; 0 or less: never
    run: Callable[[JobContext], object]  # blocking: the worker runs it in a thread


# In this order on each round where they are due; each runs once when the worker starts.
PERIODIC: tuple[Periodic, ...] = (
    Periodic("reconcile", lambda s: s.RECONCILE_INTERVAL_SECONDS, restock_jobs.schedule_reconcile),
    Periodic("purge", lambda s: PURGE_INTERVAL_SECONDS, purge_expired),
    Periodic("token upkeep", lambda s: s.TOKEN_UPKEEP_INTERVAL_SECONDS, token_upkeep),
    Periodic("demand check", lambda s: s.DEMAND_CHECK_INTERVAL_SECONDS, check_demand),
    Periodic("reminders", lambda s: s.REMINDER_INTERVAL_SECONDS, write_reminders),
    Periodic("weekly summary", lambda s: WEEKLY_SUMMARY_CHECK_SECONDS, queue_weekly_summaries),
    Periodic(
        "shop profiles", lambda s: s.SHOP_PROFILE_REFRESH_INTERVAL_SECONDS, refresh_shop_profiles
    ),
)
