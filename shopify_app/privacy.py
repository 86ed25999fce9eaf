"""Forgetting people (PLATFORM.md section 3): a customer's redaction, a shop's, and the retention
purge. A shopper's signups stay as anonymous rows, so the shop's figures (signups, alerts,
conversions) stay right while nothing identifies the person any more."""

from datetime import timedelta

from sqlalchemy import Connection, delete, or_, select, update
from sqlalchemy.orm import Session

from .contacts import email_forms
from .db import rowcount
from .models import (
    NOTIFICATION_UNSENT,
    Customer,
    DataRequest,
    Intent,
    IntentStatus,
    Notification,
    NotificationStatus,
    OAuthState,
    SendAttempt,
    Shop,
    WebhookDelivery,
    utcnow,
)

customers, intents = Customer.__table__, Intent.__table__
notifications, attempts = Notification.__table__, SendAttempt.__table__
Executor = Session | Connection


def forget_signups(session: Executor, which) -> int:
    """Strip every contact from the signups `which` selects (a WHERE clause on intent): no address,
    push subscription or contact key; product and dates stay. What was still waiting is cancelled,
    and provider errors (which can quote an address) go too. Returns how many signups."""
    now = utcnow()
    ids = select(intents.c.id).where(which).scalar_subquery()
    session.execute(
        update(notifications)
        .where(notifications.c.intent_id.in_(ids))
        .where(notifications.c.status.in_(NOTIFICATION_UNSENT))
        .values(status=NotificationStatus.cancelled.value, updated_at=now)
    )
    session.execute(
        update(notifications).where(notifications.c.intent_id.in_(ids)).values(last_error=None)
    )
    session.execute(
        update(attempts)
        .where(
            attempts.c.notification_id.in_(
                select(notifications.c.id)
                .where(notifications.c.intent_id.in_(ids))
                .scalar_subquery()
            )
        )
        .values(error=None)
    )
    session.execute(
        update(intents)
        .where(which, intents.c.status == IntentStatus.pending.value)
        .values(status=IntentStatus.cancelled.value)
    )
    return rowcount(
        session.execute(
            update(intents)
            .where(which)
            .values(
                email=None, phone=None, push_subscription=None, contact_key=None, updated_at=now
            )
        )
    )


def redact_customer(
    session: Executor, shop_id: int, *, email: str | None, phone: str | None, shopify_id: str | None
) -> int:
    """`customers/redact`: every signup made by that customer or with their email or phone, and
    the customer rows themselves (kept as empty rows, so the signups keep their owner), and their
    data requests (what was assembled for the merchant is theirs too)."""
    emails = sorted(email_forms(email))  # the stored form, and what older versions stored
    who = [
        c
        for c in (
            customers.c.email.in_(emails) if emails else None,
            customers.c.phone == phone if phone else None,
            customers.c.shopify_customer_id == shopify_id if shopify_id else None,
        )
        if c is not None
    ]
    if not who:
        return 0
    ids = select(customers.c.id).where(customers.c.shop_id == shop_id, or_(*who)).scalar_subquery()
    contact = [
        c
        for c in (
            intents.c.email.in_(emails) if emails else None,
            intents.c.phone == phone if phone else None,
        )
        if c is not None
    ]
    forgotten = forget_signups(
        session, (intents.c.shop_id == shop_id) & or_(intents.c.customer_id.in_(ids), *contact)
    )
    session.execute(
        update(customers)
        .where(customers.c.shop_id == shop_id, or_(*who))
        .values(
            email=None,
            phone=None,
            name=None,
            locale=None,
            country=None,
            shopify_customer_id=None,
            accepts_marketing=False,
            updated_at=utcnow(),
        )
    )
    requests = DataRequest.__table__
    asked = [
        c
        for c in (
            requests.c.email.in_(emails) if emails else None,
            requests.c.phone == phone if phone else None,
            requests.c.shopify_customer_id == shopify_id if shopify_id else None,
        )
        if c is not None
    ]
    session.execute(delete(requests).where(requests.c.shop_id == shop_id, or_(*asked)))
    return forgotten


def redact_shop(session: Executor, domain: str) -> None:
    """`shop/redact`: the shop and everything filed under it (every child table cascades from the
    shop row), its install states, and every webhook delivery it sent (this one too: a redelivery
    finds nothing left to erase)."""
    shop_id = session.execute(
        select(Shop.__table__.c.id).where(Shop.__table__.c.domain == domain)
    ).scalar_one_or_none()
    if shop_id is not None:
        session.execute(delete(Shop.__table__).where(Shop.__table__.c.id == shop_id))
    session.execute(delete(OAuthState.__table__).where(OAuthState.__table__.c.shop == domain))
    deliveries = WebhookDelivery.__table__
    session.execute(delete(deliveries).where(deliveries.c.shop_domain == domain))


def purge_expired(session: Executor, days: int) -> int:
    """Retention: contacts of signups notified or unsubscribed more than `days` ago are forgotten;
    the signups stay as figures."""
    before = utcnow() - timedelta(days=days)
    done = or_(intents.c.notified_at < before, intents.c.unsubscribed_at < before)
    return forget_signups(
        session,
        done
        & or_(
            intents.c.email.is_not(None),
            intents.c.phone.is_not(None),
            intents.c.push_subscription.is_not(None),
        ),
    )
