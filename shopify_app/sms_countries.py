"""The shop's SMS countries (`sms_countries`, issue 18 item 6): which countries' phone numbers may
sign up for SMS alerts, to cap what SMS costs. The setting's check, and the one rule every signup
path applies (`refusal`, in `intents.create`); the block learns the list from the app proxy's
`/config` and offers only those countries."""

from collections.abc import Sequence
from typing import Any

import phonenumbers

# phonenumbers' regions (ISO 3166 alpha-2, plus XK): the countries a number can be told to be from
REGIONS = frozenset(phonenumbers.SUPPORTED_REGIONS)


def parse_setting(value: Any) -> list[str] | None:
    """The setting as stored: a sorted list of distinct upper-case codes, or None (every country).
    ValueError, in the merchant's words, for anything else."""
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(c, str) for c in value):
        raise ValueError('must be a list of country codes like ["US", "CA"], or null for all')
    codes = sorted({c.strip().upper() for c in value})
    if not codes:
        raise ValueError(
            "must name at least one country, or be null for all (channels.sms turns SMS off)"
        )
    unknown = [c for c in codes if c not in REGIONS]
    if unknown:
        shown = ", ".join(c[:8] for c in unknown[:5])
        raise ValueError(f"unknown country codes (ISO 3166 alpha-2, like US): {shown}")
    return codes


def region_of(phone: str) -> str | None:
    """The country of an E.164 number, or None if phonenumbers cannot tell."""
    try:
        return phonenumbers.region_code_for_number(phonenumbers.parse(phone, None))
    except phonenumbers.NumberParseException:
        return None


def refusal(phone: str, allowed: Sequence[str] | None) -> str | None:
    """Why an SMS signup for `phone` is not taken (the API's error), or None when it is."""
    if allowed is None:
        return None
    region = region_of(phone)
    if region in allowed:
        return None
    return (
        f"customer.phone: SMS alerts are not available for numbers from {region or 'there'}; "
        f"this shop sends them to numbers from {', '.join(allowed)}"
    )
