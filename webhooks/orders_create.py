"""`orders/create`: attribute the order's lines to the alerts that led to them (conversions, see
shopify_app/conversions.py), for the dashboard's conversions and recovered revenue.

Fields are coerced (shopify_app/coerce.py) before anything is matched or stored: the order and
line ids 1..2**63-1, the time ISO 8601 with a zone (else the delivery's X-Shopify-Triggered-At),
quantities whole and positive, prices finite, the currency three letters; the order's own email
and phone and its customer's are normalised like a signup's. A line without a usable id, variant,
quantity or price is left out, an order without an id or a time is not attributed, and what was
unusable is logged by field name, never by value."""

import logging
import re
from datetime import timedelta
from decimal import Decimal
from functools import partial
from typing import Any

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response

from shopify_app import coerce, conversions
from shopify_app.contacts import email_forms
from shopify_app.shops import find_installed

from .customers_redact import customer_contacts
from .receive import Delivery, endpoint

TOPIC = "orders/create"
log = logging.getLogger(__name__)

CURRENCY = re.compile(r"[A-Z]{3}")
CENTS = Decimal("0.0001")  # the conversion amount's scale (Numeric(18, 4))
MAX_AMOUNT = Decimal(10) ** 14  # what Numeric(18, 4) holds


def _line(raw: Any) -> conversions.Line | None:
    if not isinstance(raw, dict):
        return None
    line_id, variant_id = coerce.shopify_id(raw.get("id")), coerce.shopify_id(raw.get("variant_id"))
    quantity, price = coerce.int32(raw.get("quantity")), coerce.price(raw.get("price"))
    # A quantity past 32 bits would be stored clamped, and the amount with it: the line is left out.
    if (
        line_id is None
        or variant_id is None
        or price is None
        or quantity is None
        or quantity != raw.get("quantity")
    ):
        return None
    try:
        amount = Decimal(price) * quantity
        if (
            quantity < 1 or not 0 <= amount < MAX_AMOUNT
        ):  # before quantize(), which refuses over 28 digits
            return None
        amount = amount.quantize(CENTS)
    except ArithmeticError:  # decimal's Overflow and InvalidOperation: "1E+999999999"
        return None
    return conversions.Line(id=line_id, variant_id=variant_id, quantity=quantity, amount=amount)


def order_of(payload: Any, delivery: Delivery) -> conversions.Order | None:
    """The order as attribution needs it; None when it has no usable id or time."""
    if not isinstance(payload, dict):
        return None
    unusable = []
    order_id = coerce.shopify_id(payload.get("id"))
    created_at = coerce.timestamp(payload.get("created_at"))
    if created_at is None:
        if payload.get("created_at") is not None:
            unusable.append("created_at")
        created_at = delivery.triggered_at
    raw_lines = payload.get("line_items")
    raw_lines = raw_lines if isinstance(raw_lines, list) else []
    lines = tuple(line for line in map(_line, raw_lines) if line is not None)
    # A custom item or a tip has no variant: nothing to attribute, and nothing wrong with it.
    if len(lines) != sum(
        not (isinstance(raw, dict) and raw.get("variant_id") is None) for raw in raw_lines
    ):
        unusable.append("line_items[]")
    currency = payload.get("currency")
    currency = currency if isinstance(currency, str) and CURRENCY.fullmatch(currency) else None
    if currency is None and payload.get("currency") not in (None, ""):
        unusable.append("currency")
    customer = payload.get("customer")
    customer = customer if isinstance(customer, dict) else {}
    # The shopper: the order's own email and phone (a guest checkout has only these), and its customer's.
    buyer = customer_contacts(
        {"email": payload.get("email"), "phone": payload.get("phone")}, delivery
    )
    account = customer_contacts(customer, delivery)
    if order_id is None:
        unusable.append("id")
    if created_at is None:
        unusable.append("created_at")
    if unusable:
        log.warning(
            "order fields unusable",
            extra={
                "topic": TOPIC,
                "webhook_id": delivery.webhook_id,
                "fields": sorted(set(unusable)),
            },
        )
    if order_id is None or created_at is None:
        return None
    return conversions.Order(
        id=order_id,
        created_at=created_at,
        currency=currency,
        lines=lines,
        emails=email_forms(buyer[0]) | email_forms(account[0]),
        phones=frozenset(p for p in (buyer[1], account[1]) if p is not None),
        customer_ids=frozenset(i for i in (account[2],) if i is not None),
    )


def apply(session: Session, delivery: Delivery, *, window: timedelta) -> None:
    shop = find_installed(session, delivery.shop)
    if shop is None:
        return
    order = order_of(delivery.payload, delivery)
    if order is None or not order.lines:
        return
    added = conversions.attribute(session, shop.id, order, window)
    if added:
        log.info(
            "order converted alerts",
            extra={"webhook_id": delivery.webhook_id, "conversions": added},
        )


async def handle(request: Request) -> Response:
    # The window is a setting, and `endpoint` hands its apply only the session and the delivery.
    window = timedelta(days=request.app.state.settings.CONVERSION_WINDOW_DAYS)
    return await endpoint(TOPIC, partial(apply, window=window))(request)
