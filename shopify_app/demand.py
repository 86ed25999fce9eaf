"""High demand (issue 9): when a variant's waiting list (its pending signups) reaches the shop's
`high_demand_threshold`, the merchant is emailed, once per variant until it is restocked.

Nothing of this runs on the signup path (signups come at hundreds a second): the worker looks
every DEMAND_CHECK_INTERVAL_SECONDS (`raise_alerts`). A variant over the threshold with no
`demand_alert` row gets one, and a job that emails the merchant (`notify/merchant.py`), and the
"High demand reached" event for Shopify Flow (events_out.py), in one transaction; the row's primary key makes that happen once however many workers look. A restock
of the variant deletes the row (`reset`), so a later surge alerts again. A variant that is in
stock now is not alerted on: its waiting list is being served (batches), it is not a surge.
"""

import logging
from dataclasses import dataclass

from sqlalchemy import delete, func, literal, select, update
from sqlalchemy.orm import Session

from . import events_out, jobs
from .db import insert_ignoring_conflicts
from .models import DemandAlert, Intent, IntentStatus, JobKind, Shop, Variant, utcnow
from .shops import INSTALLED

log = logging.getLogger(__name__)
alerts, intents, shops, variants = (
    DemandAlert.__table__,
    Intent.__table__,
    Shop.__table__,
    Variant.__table__,
)


@dataclass(frozen=True)
class Demand:
    """What the merchant's email says about one variant."""

    shopify_variant_id: int
    shopify_product_id: int | None
    product_title: str | None
    variant_title: str | None
    sku: str | None
    pending: int

    @property
    def title(self) -> str:
        name = self.product_title or f"Variant {self.shopify_variant_id}"
        return f"{name} ({self.variant_title})" if self.variant_title else name


def _over_threshold(shop_id: int, threshold: int, min_restock_quantity: int):
    """(variant id, pending) of the shop's variants whose pending signups reach `threshold`, not
    alerted yet, and not in stock now. One grouped pass over the (shop, variant, status) index."""
    waiting = (
        select(intents.c.shopify_variant_id.label("vid"), func.count().label("pending"))
        .where(intents.c.shop_id == shop_id, intents.c.status == IntentStatus.pending.value)
        .group_by(intents.c.shopify_variant_id)
        .having(func.count() >= threshold)
        .subquery()
    )
    in_stock = (
        select(literal(1))
        .where(
            variants.c.shop_id == shop_id,
            variants.c.shopify_variant_id == waiting.c.vid,
            variants.c.sellable >= max(1, min_restock_quantity),
        )
        .exists()
    )
    alerted = (
        select(literal(1))
        .where(alerts.c.shop_id == shop_id, alerts.c.shopify_variant_id == waiting.c.vid)
        .exists()
    )
    return (
        select(waiting.c.vid, waiting.c.pending).where(~in_stock, ~alerted).order_by(waiting.c.vid)
    )


def raise_alerts(session: Session) -> int:
    """For every installed shop with a threshold: a demand_alert row and an email job for each
    variant that newly reached it. How many were raised."""
    raised = 0
    with_threshold = session.execute(
        select(shops.c.id, shops.c.high_demand_threshold, shops.c.min_restock_quantity).where(
            shops.c.high_demand_threshold.is_not(None), INSTALLED
        )
    ).all()
    now = utcnow()
    for shop in with_threshold:
        threshold = max(1, shop.high_demand_threshold)
        over = _over_threshold(shop.id, threshold, shop.min_restock_quantity)
        for variant_id, pending in session.execute(over).all():
            row = {
                "shop_id": shop.id,
                "shopify_variant_id": variant_id,
                "pending": pending,
                "sent_at": None,
                "created_at": now,
            }
            fresh = session.execute(
                insert_ignoring_conflicts(session, alerts, row).returning(alerts.c.shop_id)
            ).first()
            if fresh is None:
                continue  # another worker raised it first
            jobs.enqueue(
                session,
                JobKind.demand_alert,
                f"{shop.id}:{variant_id}",
                shop_id=shop.id,
                payload={"variant_id": variant_id},
            )
            _high_demand_event(session, shop.id, variant_id, pending, threshold)
            raised += 1
            log.info(
                "high demand",
                extra={
                    "shop_id": shop.id,
                    "variant": variant_id,
                    "pending": pending,
                    "threshold": threshold,
                },
            )
    return raised


def _high_demand_event(
    session: Session, shop_id: int, variant_id: int, pending: int, threshold: int
) -> None:
    """ "High demand reached" for Shopify Flow (events_out.py), with the alert's row."""
    known = session.execute(
        select(
            func.max(intents.c.shopify_product_id),
            func.max(intents.c.product_title),
            func.max(intents.c.variant_title),
        ).where(intents.c.shop_id == shop_id, intents.c.shopify_variant_id == variant_id)
    ).one()
    event = events_out.demand_event(
        shop_id, variant_id, known[0], (known[1], known[2]), pending, threshold
    )
    events_out.emit(session, events_out.HIGH_DEMAND, [event])


def reset(session: Session, shop_id: int, variant_id: int) -> None:
    """The variant was restocked: a later surge of signups alerts the merchant again."""
    session.execute(
        delete(alerts).where(alerts.c.shop_id == shop_id, alerts.c.shopify_variant_id == variant_id)
    )


def to_send(session: Session, shop_id: int, variant_id: int) -> Demand | None:
    """The variant's demand for the merchant's email, or None when there is nothing to send: the
    alert is gone (restocked meanwhile) or already sent."""
    alert = session.execute(
        select(alerts.c.pending).where(
            alerts.c.shop_id == shop_id,
            alerts.c.shopify_variant_id == variant_id,
            alerts.c.sent_at.is_(None),
        )
    ).first()
    if alert is None:
        return None
    signups = session.execute(
        select(
            func.count().label("pending"),
            func.max(intents.c.shopify_product_id).label("pid"),
            func.max(intents.c.product_title).label("ptitle"),
            func.max(intents.c.variant_title).label("vtitle"),
        ).where(
            intents.c.shop_id == shop_id,
            intents.c.shopify_variant_id == variant_id,
            intents.c.status == IntentStatus.pending.value,
        )
    ).one()
    cached = session.execute(
        select(
            variants.c.shopify_product_id,
            variants.c.product_title,
            variants.c.variant_title,
            variants.c.sku,
        ).where(variants.c.shop_id == shop_id, variants.c.shopify_variant_id == variant_id)
    ).first()
    return Demand(
        shopify_variant_id=variant_id,
        shopify_product_id=(cached.shopify_product_id if cached else None) or signups.pid,
        product_title=(cached.product_title if cached else None) or signups.ptitle,
        variant_title=(cached.variant_title if cached else None) or signups.vtitle,
        sku=cached.sku if cached else None,
        pending=signups.pending or alert.pending,
    )


def mark_sent(session: Session, shop_id: int, variant_id: int) -> None:
    session.execute(
        update(alerts)
        .where(alerts.c.shop_id == shop_id, alerts.c.shopify_variant_id == variant_id)
        .values(sent_at=utcnow())
    )
