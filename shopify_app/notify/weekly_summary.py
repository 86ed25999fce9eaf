"""The weekly summary email to the merchant (shop setting `weekly_summary`, off by default): the last
whole week's signups, alerts sent, orders from alerts, their revenue and conversion rate, beside the
week before, and the products most wanted now.

- Weeks run Monday to Sunday in UTC, the dashboard's days. A week is summarised once it closed
  kept_days.SETTLE ago (Monday 01:00 UTC): nothing dated in it can still be committing.
- Once per shop per week: the periodic task moves `shop.weekly_summary_week` to that Monday in the
  same statement that picks the shop, and queues the job in the same transaction, so two workers
  never queue the same week twice. A shop that turns the setting on gets the last whole week's
  summary at the next check (within WEEKLY_SUMMARY_CHECK_SECONDS), then one every Monday.
- The figures are the dashboard's own (admin/kept_days.py, the most wanted list of
  admin/listings.py); the email goes the way every merchant email goes (merchant.py). It names no
  shopper."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from anyio import to_thread
from sqlalchemy import Engine, func, or_, select, update
from sqlalchemy.orm import Session

from .. import jobs
from ..admin import kept_days, listings
from ..admin.day_counts import Day
from ..config import Settings
from ..job_context import JobContext, ShopRow
from ..jobs import ClaimedJob
from ..models import Intent, JobKind, Shop
from ..money import format_money
from ..shops import INSTALLED
from .base import OutgoingMessage
from .merchant import MerchantContact, admin_link, email_merchant, merchant_message

intents, shops = Intent.__table__, Shop.__table__
WEEK = timedelta(days=7)
MOST_WANTED = 5


def last_week(now: datetime) -> date:
    """The Monday of the last whole week (Monday to Sunday, UTC) that closed SETTLE ago."""
    settled = (now - kept_days.SETTLE).astimezone(UTC).date()
    return settled - timedelta(days=settled.weekday()) - WEEK


def queue_due(session: Session, now: datetime) -> int:
    """A summary job for every installed shop with the setting on whose last whole week has not been
    queued yet; how many were queued."""
    week = last_week(now)
    due = (
        session.execute(
            update(shops)
            .where(
                shops.c.weekly_summary.is_(True),
                INSTALLED,
                or_(shops.c.weekly_summary_week.is_(None), shops.c.weekly_summary_week < week),
            )
            .values(weekly_summary_week=week)
            .returning(shops.c.id)
        )
        .scalars()
        .all()
    )
    jobs.enqueue_many(
        session,
        JobKind.weekly_summary,
        [(f"{shop_id}:{week.isoformat()}", shop_id, {"week": week.isoformat()}) for shop_id in due],
    )
    return len(due)


# -- The figures -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Wanted:
    name: str
    pending: int


@dataclass(frozen=True)
class Summary:
    week: date  # its Monday
    this: Day
    before: Day  # the week before
    notified: int  # signups alerted in the week (the dashboard's conversion rate divides by it)
    currency: str | None
    wanted: Sequence[Wanted]
    waiting: int  # signups waiting now, every product

    @property
    def conversion_rate(self) -> float:
        return self.this.conversions / self.notified if self.notified else 0.0


def _total(days: list[Day]) -> Day:
    total = Day()
    for day in days:
        total.add(day)
    return total


def read(engine: Engine, shop: ShopRow, week: date) -> Summary:
    start = datetime.combine(week, time(), UTC)
    with engine.connect() as connection:
        days = kept_days.read(connection, shop_id=shop["id"], start=start - WEEK, days=14)
        notified = connection.execute(
            select(func.count()).where(
                intents.c.shop_id == shop["id"],
                intents.c.notified_at >= start,
                intents.c.notified_at < start + WEEK,
            )
        ).scalar_one()
        demand = listings.list_demand(connection, shop["id"], {"per_page": str(MOST_WANTED)})
    this, before = _total(days[7:]), _total(days[:7])
    known = this.currencies
    currency = shop["currency"] or (min(known, key=lambda c: (-known[c], c)) if known else None)
    wanted = [
        Wanted(
            listings.product_name(v["product_title"], v["variant_title"], v["shopify_variant_id"]),
            v["pending"],
        )
        for v in demand["variants"]
    ]
    return Summary(week, this, before, notified, currency, wanted, demand["pending"])


# -- The email -------------------------------------------------------------------------------------
def week_span(monday: date) -> str:
    """'23–29 November 2026', '30 November – 6 December 2026', '28 December 2026 – 3 January 2027'."""
    sunday = monday + timedelta(days=6)
    if monday.year != sunday.year:
        return f"{monday.day} {monday:%B %Y} – {sunday.day} {sunday:%B %Y}"
    if monday.month != sunday.month:
        return f"{monday.day} {monday:%B} – {sunday.day} {sunday:%B %Y}"
    return f"{monday.day}–{sunday.day} {sunday:%B %Y}"


def _count(n: int, one: str, many: str) -> str:
    return f"{n:,} {one if n == 1 else many}"


def _money(amount: Decimal, currency: str | None) -> str:
    return format_money(amount, currency) or "0.00"


def rows(summary: Summary) -> list[dict[str, Any]]:
    """The table: each figure this week and the week before."""
    this, before = summary.this, summary.before
    return [
        {"label": "Signups", "this": f"{this.signups:,}", "before": f"{before.signups:,}"},
        {"label": "Alerts sent", "this": f"{this.alerts:,}", "before": f"{before.alerts:,}"},
        {
            "label": "Orders from alerts",
            "this": f"{this.conversions:,}",
            "before": f"{before.conversions:,}",
        },
        {
            "label": "Revenue from alerts",
            "this": _money(this.revenue, summary.currency),
            "before": _money(before.revenue, summary.currency),
        },
    ]


def summary_email(
    settings: Settings, shop_domain: str, contact: MerchantContact, summary: Summary
) -> OutgoingMessage:
    span = week_span(summary.week)
    this = summary.this
    subject = (
        f"Your week of back-in-stock alerts ({span}): {_count(this.signups, 'signup', 'signups')}, "
        f"{_money(this.revenue, summary.currency)} from alerts"
    )
    return merchant_message(
        contact.email or "",
        subject,
        "merchant_weekly",
        f"weekly-summary-{summary.week.isoformat()}",
        shop_name=contact.name or shop_domain,
        span=span,
        rows=rows(summary),
        rate=f"{summary.conversion_rate:.1%}",
        orders=_count(this.conversions, "order", "orders"),
        notified=_count(summary.notified, "signup", "signups"),
        quiet=not (this.signups or this.alerts or this.conversions),
        wanted=summary.wanted,
        waiting=_count(summary.waiting, "shopper is", "shoppers are"),
        dashboard=admin_link(settings, shop_domain, "dashboard"),
        demand=admin_link(settings, shop_domain, "demand"),
        settings_link=admin_link(settings, shop_domain, "settings"),
    )


# -- The job ---------------------------------------------------------------------------------------
async def send(ctx: JobContext, shop: ShopRow, job: ClaimedJob) -> None:
    """Email the merchant the summary of the week in the job (its Monday, `week`)."""
    if not shop["weekly_summary"]:
        return  # turned off since it was queued
    week = date.fromisoformat(str(job.payload["week"]))
    summary = await to_thread.run_sync(read, ctx.engine, shop, week)
    await email_merchant(
        ctx, shop, lambda contact: summary_email(ctx.settings, shop["domain"], contact, summary)
    )
