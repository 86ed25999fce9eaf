"""`customers/data_request` (issue 10 section 2): what we hold on one customer of a shop, for that
shop's merchant alone to download and pass on.

The webhook files the request and its job in one transaction (`file`); the worker assembles the
customer's data as JSON (`assemble`): the customer rows, their signups (addresses, product,
status, times, marketing consent and where it was given), every message (channel, the address it
went to, status, attempts, when), the double opt-in confirmations, and the orders attributed to
their alerts. The merchant is then emailed that it is ready (`notify/merchant.py`) and downloads
it from the admin. A `customers/redact` of the same customer deletes these rows
(`privacy.redact_customer`).
"""

import json
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Connection, and_, insert, or_, select, update
from sqlalchemy.orm import Session

from . import jobs
from .contacts import email_forms, sending_address
from .models import (
    Conversion,
    Customer,
    DataRequest,
    DataRequestStatus,
    Intent,
    JobKind,
    Notification,
    NotificationKind,
    Shop,
    utcnow,
)

requests, customers, intents = DataRequest.__table__, Customer.__table__, Intent.__table__
notifications, conversions, shops = Notification.__table__, Conversion.__table__, Shop.__table__
Executor = Session | Connection
FORMAT = "back-in-stock-alerts/data-request/v1"


def file(
    session: Session,
    shop_id: int,
    *,
    shopify_request_id: int | None,
    email: str | None,
    phone: str | None,
    shopify_customer_id: str | None,
) -> int:
    """Record the request and the job that assembles it; its id."""
    now = utcnow()
    request_id = session.execute(
        insert(requests)
        .values(
            shop_id=shop_id,
            shopify_request_id=shopify_request_id,
            email=email,
            phone=phone,
            shopify_customer_id=shopify_customer_id,
            status=DataRequestStatus.pending.value,
            requested_at=now,
        )
        .returning(requests.c.id)
    ).scalar_one()
    jobs.enqueue(
        session,
        JobKind.data_request,
        str(request_id),
        shop_id=shop_id,
        payload={"data_request_id": request_id},
    )
    return request_id


def iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def _who(shop_id: int, email: str | None, phone: str | None, shopify_customer_id: str | None):
    """The customer rows and the signups that are this customer's: the same match as a redaction."""
    emails = sorted(email_forms(email))  # the stored form, and what older versions stored
    by_customer = [
        c
        for c in (
            customers.c.email.in_(emails) if emails else None,
            customers.c.phone == phone if phone else None,
            customers.c.shopify_customer_id == shopify_customer_id if shopify_customer_id else None,
        )
        if c is not None
    ]
    if not by_customer:
        return None, None
    customer_ids = select(customers.c.id).where(customers.c.shop_id == shop_id, or_(*by_customer))
    by_contact = [
        c
        for c in (
            intents.c.email.in_(emails) if emails else None,
            intents.c.phone == phone if phone else None,
        )
        if c is not None
    ]
    signups = and_(
        intents.c.shop_id == shop_id,
        or_(intents.c.customer_id.in_(customer_ids.scalar_subquery()), *by_contact),
    )
    return and_(customers.c.shop_id == shop_id, or_(*by_customer)), signups


def _push_service(subscription: str | None) -> str | None:
    """Where a push subscription points (the browser's push service), never its keys: they are a
    capability to message the browser, not something to hand around."""
    try:
        endpoint = json.loads(subscription or "null").get("endpoint")
        return urlsplit(endpoint).hostname if isinstance(endpoint, str) else None
    except (ValueError, AttributeError):
        return None


def _address(channel: str, email: str | None, phone: str | None, push: str | None) -> str | None:
    """Where a message went: its sending address, a push subscription told by its service."""
    if channel != "push":
        return sending_address(channel, email, phone, push)
    service = _push_service(push)
    return f"web push via {service}" if service else None


def assemble(session: Executor, request) -> dict[str, Any]:
    """The customer's data in this shop, as the JSON document the merchant downloads."""
    shop_domain = session.execute(
        select(shops.c.domain).where(shops.c.id == request.shop_id)
    ).scalar_one()
    customer_match, signup_match = _who(
        request.shop_id, request.email, request.phone, request.shopify_customer_id
    )
    document: dict[str, Any] = {
        "format": FORMAT,
        "shop": shop_domain,
        "data_request": {
            "id": request.id,
            "shopify_data_request_id": request.shopify_request_id,
            "requested_at": iso(request.requested_at),
            "assembled_at": iso(utcnow()),
        },
        "customer_as_requested": {
            "email": request.email,
            "phone": request.phone,
            "shopify_customer_id": request.shopify_customer_id,
        },
        "customers": [],
        "signups": [],
        "messages": [],
        "optin_confirmations": [],
        "attributed_orders": [],
    }
    if customer_match is None:
        return document
    found = select(customers).where(customer_match).order_by(customers.c.created_at, customers.c.id)
    for c in session.execute(found).mappings():
        document["customers"].append(
            {
                "id": c["id"],
                "email": c["email"],
                "phone": c["phone"],
                "name": c["name"],
                "locale": c["locale"],
                "country": c["country"],
                "shopify_customer_id": c["shopify_customer_id"],
                "accepts_marketing": c["accepts_marketing"],
                "unsubscribed_at": iso(c["unsubscribed_at"]),
                "created_at": iso(c["created_at"]),
                "updated_at": iso(c["updated_at"]),
            }
        )
    contacts: dict[int, tuple[str, str | None, str | None, str | None]] = {}
    for s in session.execute(select(intents).where(signup_match).order_by(intents.c.id)).mappings():
        contacts[s["id"]] = (s["channel"], s["email"], s["phone"], s["push_subscription"])
        document["signups"].append(
            {
                "id": s["id"],
                "channel": s["channel"],
                "email": s["email"],
                "phone": s["phone"],
                "push_service": _push_service(s["push_subscription"]),
                "shopify_product_id": s["shopify_product_id"],
                "shopify_variant_id": s["shopify_variant_id"],
                "shopify_market_id": s["shopify_market_id"],
                "product_title": s["product_title"],
                "variant_title": s["variant_title"],
                "sku": s["sku"],
                "quantity": s["quantity"],
                "status": s["status"],
                "source": s["source"],
                "consent": {
                    "accepts_marketing": s["accepts_marketing"],
                    "consent_at": iso(s["consent_at"]),
                    "source": s["source"],
                },
                "optin_confirmed": s["optin_confirmed"],
                "created_at": iso(s["created_at"]),
                "notified_at": iso(s["notified_at"]),
                "unsubscribed_at": iso(s["unsubscribed_at"]),
                "updated_at": iso(s["updated_at"]),
            }
        )
    if contacts:
        rows = (
            session.execute(
                select(notifications)
                .where(notifications.c.intent_id.in_(sorted(contacts)))
                .order_by(notifications.c.id)
            )
            .mappings()
            .all()
        )
        for n in rows:
            _channel, email, phone, push = contacts[n["intent_id"]]
            message = {
                "id": n["id"],
                "signup_id": n["intent_id"],
                "kind": n["kind"],
                "channel": n["channel"],
                "address": _address(n["channel"], email, phone, push),
                "status": n["status"],
                "attempts": n["attempts"],
                "sent_at": iso(n["sent_at"]),
                "created_at": iso(n["created_at"]),
            }
            document["messages"].append(message)
            if n["kind"] == NotificationKind.optin.value:
                signup = next(s for s in document["signups"] if s["id"] == n["intent_id"])
                document["optin_confirmations"].append(
                    {
                        "signup_id": n["intent_id"],
                        "sent_to": message["address"],
                        "channel": n["channel"],
                        "status": n["status"],
                        "sent_at": message["sent_at"],
                        "confirmed": signup["optin_confirmed"],
                    }
                )
        alerted = [n["id"] for n in rows]
        if alerted:
            for o in session.execute(
                select(conversions)
                .where(conversions.c.notification_id.in_(alerted))
                .order_by(conversions.c.id)
            ).mappings():
                document["attributed_orders"].append(
                    {
                        "order_id": o["order_id"],
                        "line_item_id": o["line_item_id"],
                        "message_id": o["notification_id"],
                        "shopify_variant_id": o["shopify_variant_id"],
                        "quantity": o["quantity"],
                        "amount": str(o["amount"]),
                        "currency": o["currency"],
                        "ordered_at": iso(o["ordered_at"]),
                    }
                )
    return document


def load(session: Executor, request_id: int):
    return session.execute(select(requests).where(requests.c.id == request_id)).first()


def make_ready(session: Session, request_id: int) -> bool:
    """Assemble a pending request and mark it ready (under its row lock); False if it is gone.
    A request already ready is left as it is (a retried job)."""
    request = session.execute(
        select(requests).where(requests.c.id == request_id).with_for_update()
    ).first()
    if request is None:
        return False
    if request.status != DataRequestStatus.ready.value:
        document = assemble(session, request)
        session.execute(
            update(requests)
            .where(requests.c.id == request_id)
            .values(
                status=DataRequestStatus.ready.value,
                payload=json.dumps(document, ensure_ascii=False, indent=2),
                ready_at=utcnow(),
            )
        )
    return True


def mark_notified(session: Session, request_id: int) -> None:
    session.execute(
        update(requests).where(requests.c.id == request_id).values(merchant_notified_at=utcnow())
    )
