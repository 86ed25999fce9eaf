"""Turning a field of what Shopify sent (a webhook's JSON, an Admin API answer) into what our
columns can hold. A signature proves who sent a payload, not that each field has the type and
range we expect, and one field that the database refuses must not cost the whole delivery.

The rules: an id is a JSON integer (or a string of ASCII digits) in 1..2**63-1 (BigInteger);
a count for an Integer column is a JSON integer clamped to 32 bits; text is a JSON string with
NUL removed (PostgreSQL refuses it), lone surrogates replaced, cut to the column's length; a
time is ISO 8601 with a zone, between 2000 and a day from now, in UTC. Anything else is None,
which callers treat as absent. Nothing here raises.
"""

import math
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

ID_MAX = 2**63 - 1
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
FUTURE_SLACK = timedelta(days=1)

# ASCII only: str.isdigit() is true for '²' and '٣', which int() refuses or reads as digits.
_ID_DIGITS = re.compile(r"[0-9]{1,19}")


def shopify_id(value: Any) -> int | None:
    """A Shopify id: 1..2**63-1, from a JSON integer or a string of ASCII digits (GraphQL's
    legacyResourceId)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and _ID_DIGITS.fullmatch(value):
        number = int(value)
    else:
        return None
    return number if 1 <= number <= ID_MAX else None


def whole(value: str | None, low: int, high: int) -> int | None:
    """A whole number from a query string: ASCII digits (at most 19) within low..high; None for
    anything else (the caller says what it expected)."""
    if value is None or not _ID_DIGITS.fullmatch(value):
        return None
    number = int(value)
    return number if low <= number <= high else None


def int32(value: Any) -> int | None:
    """A JSON integer as a 32-bit Integer column holds it: clamped to -2**31..2**31-1."""
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return max(INT32_MIN, min(INT32_MAX, value))


def clamp32(value: int) -> int:
    return max(INT32_MIN, min(INT32_MAX, value))


def text(value: Any, max_length: int) -> str | None:
    """A JSON string without NUL, cut to `max_length` characters; None for anything else or ''."""
    if not isinstance(value, str):
        return None
    if not value.isascii():
        value = value.encode("utf-8", "replace").decode("utf-8")  # lone surrogates cannot be stored
    if "\x00" in value:
        value = value.replace("\x00", "")
    return value[:max_length] or None


def url(value: Any, max_length: int = 2048) -> str | None:
    """An http(s) URL no longer than `max_length` (a cut URL is a broken one: dropped instead)."""
    if (
        not isinstance(value, str)
        or len(value) > max_length
        or not value.startswith(("https://", "http://"))
    ):
        return None
    cleaned = text(value, max_length)
    return cleaned if cleaned == value else None


def price(value: Any, max_length: int = 32) -> str | None:
    """A finite decimal amount ("199.00", 199, 199.5) as a string of at most `max_length` characters."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        raw = value.strip()
    elif isinstance(value, int):
        if (
            abs(value) >= 10**max_length
        ):  # before str(): huge ints are slow to print, and refused past 4,300 digits
            return None
        raw = str(value)
    elif isinstance(value, float):
        if not math.isfinite(value):
            return None
        raw = repr(value)
    else:
        return None
    if not raw or len(raw) > max_length:
        return None
    try:
        amount = Decimal(raw)
    except (InvalidOperation, ValueError):
        return None
    shown = str(amount)
    return shown if amount.is_finite() and len(shown) <= max_length else None


def timestamp(value: Any, *, now: datetime | None = None) -> datetime | None:
    """An ISO 8601 time with its zone ("2020-09-03T08:44:10-04:00", "...Z"), in UTC, between 2000
    and a day from now. A time far in the future would make every real update look older."""
    if not isinstance(value, str) or len(value) > 64:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        if parsed.tzinfo is None or parsed.utcoffset() is None:
            return None
        utc = parsed.astimezone(UTC)  # OverflowError past year 9999 or before year 1
    except (ValueError, OverflowError):
        return None
    latest = (now or datetime.now(UTC)) + FUTURE_SLACK
    return utc if EARLIEST <= utc <= latest else None
