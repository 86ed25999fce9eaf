"""A signup's own contacts: the request's email, phone and push subscription, normalised, and the
address its channel uses (what makes two signups the same signup: `contact_key`)."""

import hashlib
from dataclasses import dataclass

import orjson

from .contacts import ContactError, normalize_email, normalize_phone, parse_push_subscription
from .models import Channel
from .schemas import IntentRequest


@dataclass
class Contacts:
    """The request's own contacts, normalised; `address` is the one the signup's channel uses."""

    email: str | None = None
    phone: str | None = None
    push: str | None = None
    push_endpoint: str | None = None
    address: str = ""


def contact_key(channel: str, address: str) -> str:
    """What makes two signups the same signup: their channel and address (fixed length, indexable)."""
    return hashlib.sha256(f"{channel}:{address}".encode()).hexdigest()


def read_contacts(request: IntentRequest, push_allowlist: frozenset[str]) -> Contacts:
    """The channel's contact must be valid (ContactError); others are kept only when valid."""
    cust, channel = request.customer, request.intent.channel
    found = Contacts()
    checks = {
        Channel.email: ("email", lambda: normalize_email(cust.email)),
        Channel.sms: (
            "phone",
            lambda: normalize_phone(cust.phone, cust.country_code, cust.country),
        ),
        Channel.push: ("push", lambda: parse_push_subscription(cust.push, push_allowlist)),
    }
    for name, (attr, check) in checks.items():
        given = getattr(cust, attr)
        if name != channel and not given:
            continue
        try:
            setattr(found, attr, check())
        except ContactError:
            if name == channel:
                raise
    if found.push:
        found.push_endpoint = orjson.loads(found.push)["endpoint"]
    addresses: dict[str, str | None] = {
        Channel.email: found.email,
        Channel.sms: found.phone,
        Channel.push: found.push_endpoint,
    }
    address = addresses[channel]
    assert address is not None  # the channel's contact was checked (ContactError otherwise)
    found.address = address
    return found


def contacts_of(request: IntentRequest, push_allowlist: frozenset[str]) -> Contacts | None:
    """The request's contacts, read once by the route (the abuse limits key on the address) and
    handed to `file_signup`; None if the channel's contact is not valid (the service says why)."""
    try:
        return read_contacts(request, push_allowlist)
    except ContactError:
        return None
