"""The admin's delivery log: every message written (alerts and opt-in requests), with the restock
that caused an alert ("why was this sent"); listed in pages and exported as CSV."""

import math
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Select, func, select

from ..contacts import shown_contact
from ..inventory import location_names
from ..models import Intent, Notification, RestockEvent
from ..notify.channels import CHANNELS
from ..notify.manual import MANUAL_TRIGGER
from ..notify.quiet_hours import REASON as QUIET_REASON
from .listings import choice, iso_time, paging, product_public, with_cached_variant

intents, notifications, events = Intent.__table__, Notification.__table__, RestockEvent.__table__
NOTIFICATION_STATUSES = ("pending", "held", "sending", "sent", "failed", "cancelled")


DELIVERY_COLUMNS = [
    notifications.c.id,
    notifications.c.kind,
    notifications.c.channel,
    notifications.c.status,
    notifications.c.attempts,
    notifications.c.last_error,
    notifications.c.sent_at,
    notifications.c.created_at,
    notifications.c.intent_id,
    intents.c.email,
    intents.c.phone,
    intents.c.shopify_variant_id,
    intents.c.shopify_product_id,
    notifications.c.restock_event_id,
    notifications.c.resend,
    notifications.c.reminder_stage,
    events.c.stock_before,
    events.c.stock_after,
    events.c.policy,
    events.c.trigger,
    events.c.batch_number,
    events.c.chosen,
    events.c.waiting,
    events.c.batch_size,
    events.c.location_ids,
    events.c.received_at.label("event_received_at"),
    events.c.created_at.label("event_at"),
]


def delivery_filters(shop_id: int, query) -> list:
    where = [notifications.c.shop_id == shop_id]
    if status := choice(query, "status", NOTIFICATION_STATUSES):
        where.append(notifications.c.status == status)
    if channel := choice(query, "channel", CHANNELS):
        where.append(notifications.c.channel == channel)
    if kind := choice(query, "kind", ("alert", "optin", "reminder")):
        where.append(notifications.c.kind == kind)
    return where


def delivery_select(shop_id: int, where: list, limit: int, offset: int = 0) -> Select[Any]:
    """The messages matching `where`, newest first, `limit` of them from `offset`, each with its
    signup, its restock and its cached variant (joined after the cut: one lookup per row shown)."""
    cut = (
        select(*DELIVERY_COLUMNS)
        .select_from(
            notifications.join(intents, intents.c.id == notifications.c.intent_id).outerjoin(
                events, events.c.id == notifications.c.restock_event_id
            )
        )
        .where(*where)
        .order_by(notifications.c.id.desc())
        .limit(limit)
        .offset(offset)
        .subquery()
    )
    return with_cached_variant(cut, shop_id).order_by(cut.c.id.desc())


def _units(n: int) -> str:
    return f"{n} unit" if n == 1 else f"{n} units"


def _signups(n: int) -> str:
    return f"{n} signup" if n == 1 else f"{n} signups"


def location_list(r: Any) -> list[int]:
    return [int(i) for i in (r.location_ids or "").split(",") if i.isdigit()]


def _at(ids: list[int], names: Mapping[int, str]) -> str:
    """ " at Main warehouse", " at Main warehouse and Shop floor", " at Main warehouse and 2 other
    locations", " at 3 locations" (names not known yet), or nothing."""
    known = [names[i] for i in ids if i in names]
    if not known:
        return f" at {len(ids)} locations" if len(ids) > 1 else ""
    if len(ids) == 1:
        return f" at {known[0]}"
    if len(ids) == 2 and len(known) == 2:
        return f" at {known[0]} and {known[1]}"
    others = len(ids) - 1
    return f" at {known[0]} and {others} other location{'s' if others > 1 else ''}"


def batches_planned(r: Any) -> int | None:
    """How many batches the restock takes as it stood when this one was decided."""
    if r.waiting is None or not r.batch_size:
        return None
    return r.batch_number - 1 + max(1, math.ceil(r.waiting / r.batch_size))


def _alerted(r: Any, batched: bool) -> str:
    if r.waiting is None:  # decided before the totals were kept
        if batched:
            return (
                _signups(r.chosen) + " alerted"
                if r.trigger == "batch"
                else f"batch {r.batch_number}, {_signups(r.chosen)} alerted"
            )
        return f"everyone waiting alerted ({_signups(r.chosen)})"
    if r.chosen >= r.waiting:
        share = "the 1 waiting alerted" if r.waiting == 1 else f"all {r.waiting} waiting alerted"
    else:
        share = f"{r.chosen} of {r.waiting} waiting alerted"
    if batched:
        return f"batch {r.batch_number} of {batches_planned(r)}, {share}"
    return share


def why_sentence(r: Any, names: Mapping[int, str] | None = None) -> str:
    """Why a message was written, in the merchant's words, from its stored record: the restock
    event's stock, where it is (`names`: the shop's location names), trigger, batch, how many were
    waiting and the policy it was decided under (restock.Policy.describe, notify/manual.py)."""
    if r.kind == "reminder":
        return f"Reminder {r.reminder_stage}: still in stock and not bought since the alert" + (
            f" ({r.last_error})" if r.status == "cancelled" and r.last_error else ""
        )
    if r.restock_event_id is None:
        return "The shopper was asked to confirm their signup (double opt-in)"
    policy = r.policy or ""
    if r.trigger == MANUAL_TRIGGER:
        door = "through the merchant API" if "merchant API" in policy else "from the admin"
        stock = f", with {_units(r.stock_before)} in stock" if r.stock_before is not None else ""
        return f"Sent by hand {door}{stock}"
    stock = _units(r.stock_after) + _at(location_list(r), names or {})
    if r.trigger == "batch":
        opening = f"Still in stock ({stock})"
        if r.waiting is None:
            opening += f": batch {r.batch_number}"
    elif r.trigger == "reconcile":
        opening = f"Back in stock with {stock}, found by the app's regular stock check"
    elif r.trigger == "published":
        opening = f"Published to the Online Store with {stock}"
    else:
        opening = f"Restocked to {stock}"
    sentence = f"{opening}: {_alerted(r, policy.startswith('batches'))}" if r.chosen else opening
    if "skip over quantity" in policy:
        sentence += "; signups wanting more than the stock were skipped"
    if "held for manual" in policy:
        sentence += "; held for you to send" if r.status == "held" else "; held, then sent by you"
    elif (cap := re.search(r"SMS cap (\d+)", policy)) and r.channel == "sms" and r.status == "held":
        sentence += f"; held by your cap of {cap[1]} SMS per restock, for you to send"
    if getattr(r, "resend", False):
        sentence += "; a second alert: the first did not lead to a purchase"
    return sentence


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return round(max(0.0, (end - start).total_seconds()), 3)


def latency(r: Any) -> dict[str, Any] | None:
    """How long the alert took: from the webhook reaching the app to the restock's decision, and
    to the message going out (None: not caused by a webhook, or from before this was kept)."""
    received = getattr(r, "event_received_at", None)
    if received is None:
        return None
    return {
        "received_at": iso_time(received),
        "decided_after_seconds": _seconds(received, r.event_at),
        "sent_after_seconds": _seconds(received, r.sent_at),
    }


def latency_text(timing: dict[str, Any] | None) -> str | None:
    if timing is None:
        return None
    decided = f"decided after {_duration(timing['decided_after_seconds'])}"
    if timing["sent_after_seconds"] is None:
        return f"Stock news reached the app at {timing['received_at'][11:19]} UTC; {decided}"
    return f"Sent {_duration(timing['sent_after_seconds'])} after the stock news reached the app ({decided})"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


# What went wrong, in the merchant's words, from the error the channel recorded (notify/email.py,
# sms.py, push.py, sender.py). The recorded text itself stays in `last_error`, for support.
_ERRORS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), sentence)
    for pattern, sentence in (
        (  # not an error: notify/quiet_hours.py's reason for an SMS held until they end
            "^" + re.escape(QUIET_REASON) + r" (\d\d:\d\d)",
            r"Waiting for quiet hours to end at \1 shopper's time",
        ),
        (
            r"^SMTP (421|451)\b",
            "The mail server asked the app to send more slowly; it will try again",
        ),
        (r"^SMTP 5\d\d", "The shopper's mail server refused this address"),
        (r"^SMTP 4\d\d", "The mail server could not take it for now; the app will try again"),
        (r"^SMTP\b", "The app could not reach its mail server; it will try again"),
        (r"cannot receive SMS", "This phone number cannot receive text messages"),
        (r"^Twilio 429", "Twilio asked the app to send more slowly; it will try again"),
        (r"^Twilio (401|403)", "Twilio refused the app's account details (check the SMS settings)"),
        (
            r"^Twilio 5\d\d|^Twilio unreachable",
            "Twilio could not be reached; the app will try again",
        ),
        (r"^Twilio", "Twilio refused this message"),
        (
            r"answered (404|410)|subscription gone",
            "The shopper's browser no longer takes notifications from your store",
        ),
        (
            r"answered 429",
            "The browser's push service asked the app to slow down; it will try again",
        ),
        (
            r"push service (answered 5\d\d|unreachable)",
            "The browser's push service could not be reached; the app will try again",
        ),
        (r"^push ", "The browser's push service refused this notification"),
        (
            r"^no contact",
            "The shopper's contact details are no longer on file (erased at their request?)",
        ),
    )
)


def error_sentence(error: str | None, status: str) -> str | None:
    if not error:
        return None
    for pattern, sentence in _ERRORS:
        if found := pattern.search(error):
            return found.expand(sentence)
    return "Sending failed; the app will try again" if status == "pending" else "Sending failed"


def delivery_public(r: Any, names: Mapping[int, str] | None = None) -> dict[str, Any]:
    """One message as the admin API and pages show it; `names`: the shop's location names."""
    timing = latency(r) if r.kind == "alert" else None
    why = None
    if r.restock_event_id is not None:
        why = {
            "restock_event_id": r.restock_event_id,
            "stock_before": r.stock_before,
            "stock_after": r.stock_after,
            "policy": r.policy,
            "trigger": r.trigger,
            "waiting": r.waiting,
            "batch_number": r.batch_number,
            "batches": batches_planned(r),
            "locations": [{"id": i, "name": (names or {}).get(i)} for i in location_list(r)],
            "at": iso_time(r.event_at),
        }
    out = {
        "id": r.id,
        "kind": r.kind,
        "channel": r.channel,
        "status": r.status,
        "attempts": r.attempts,
        "last_error": r.last_error,
        "error_text": error_sentence(r.last_error, r.status),
        "sent_at": iso_time(r.sent_at),
        "created_at": iso_time(r.created_at),
        "intent_id": r.intent_id,
        "contact": shown_contact(r.channel, r.email, r.phone),
        "shopify_variant_id": r.shopify_variant_id,
        "product_title": r.product_title,
        "variant_title": r.variant_title,
        "sku": r.sku,
        "cached_product_id": r.cached_product_id,
        "why": why,
        "why_text": why_sentence(r, names),
        "latency": timing,
        "latency_text": latency_text(timing),
    }
    product_public(out, r.shopify_product_id)
    return out


def list_deliveries(connection: Connection, shop_id: int, query) -> dict[str, Any]:
    where, page = delivery_filters(shop_id, query), paging(query)
    total = connection.execute(
        select(func.count()).select_from(notifications).where(*where)
    ).scalar_one()
    rows = connection.execute(delivery_select(shop_id, where, page.per_page, page.offset)).all()
    names = location_names(connection, shop_id)
    return {"deliveries": [delivery_public(r, names) for r in rows], "meta": page.meta(total)}
