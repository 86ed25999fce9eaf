"""Turning what a shopper typed into a contact we can use: an email, an E.164 phone, a push
subscription. Each returns the normal form, or raises ContactError with a readable reason."""

import base64
import binascii
import ipaddress
import json
import re
from collections.abc import Set as AbstractSet
from urllib.parse import urlsplit

import orjson
import phonenumbers
from email_validator import EmailNotValidError, validate_email

from .schemas import PushSubscriptionIn


class ContactError(ValueError):
    pass


class NotAscii(ContactError):
    """An address whose local part (before the @) is outside ASCII."""


def normalize_email(value: str | None, field: str = "customer.email") -> str:
    """The one form of an address that is stored, compared and sent: all ASCII, lower-cased, an
    internationalised domain in its IDNA 2008 punycode (`ann@bücher.example` is
    `ann@xn--bcher-kva.example`), as email-validator gives it. A local part outside ASCII
    (`jürgen@…`) needs SMTPUTF8 from every server on the way, which we do not rely on: refused
    (NotAscii). Shoppers' and the shop's addresses (reply_to) alike."""
    if not value or not value.strip():
        raise ContactError(f"{field} is required for the email channel")
    try:
        result = validate_email(value.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise ContactError(f"{field} is not a valid email address: {exc}") from None
    if result.ascii_email is None:
        raise NotAscii(
            f"{field}: letters outside ASCII before the @ (like ü) cannot be sent to; the part after "
            "the @ may have them"
        )
    return result.ascii_email.lower()


def email_forms(value: str | None) -> frozenset[str]:
    """Every form an address may be stored in, to find a person's rows (redaction, data requests,
    conversions, filters), never to store one: `normalize_email`'s, and the one kept before it
    (the domain in Unicode, a local part outside ASCII accepted). Empty if it is no address."""
    if not value or not value.strip():
        return frozenset()
    try:
        result = validate_email(value.strip(), check_deliverability=False)
    except EmailNotValidError:
        return frozenset()
    return frozenset(f.lower() for f in (result.ascii_email, result.normalized) if f)


def normalize_phone(
    value: str | None, country_code: str | None = None, country: str | None = None
) -> str:
    """E.164 from a number given with its country code and no '+' (STOQ), or in national form.
    A number without '+' and with the shopper's `country` is read as that country's first: the
    block's "(201) 555-0123" with US is a US number, not +20 (Egypt) 1555 0123."""
    if not value or not value.strip():
        raise ContactError("customer.phone is required for the sms channel")
    raw = value.strip()
    digits = "".join(ch for ch in raw if ch.isdigit())
    code = "".join(ch for ch in (country_code or "") if ch.isdigit())
    candidates: list[tuple[str, str | None]] = [("+" + digits, None)]
    if code and not digits.startswith(code):
        candidates.append(("+" + code + digits.lstrip("0"), None))
    if country:
        national = (raw, country.upper())
        if raw.startswith(("+", "00")):
            candidates.append(national)
        else:
            candidates.insert(0, national)
    for text, region in candidates:
        try:
            number = phonenumbers.parse(text, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    raise ContactError("customer.phone is not a valid phone number (give it with its country code)")


def _b64url_len(value: str) -> int:
    try:
        return len(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))
    except (binascii.Error, ValueError):
        return -1


def public_address(address: str) -> bool:
    """An IP address on the public internet: not private, loopback, link-local, multicast,
    reserved or unspecified (an IPv4-mapped IPv6 address is judged as its IPv4 address)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def _public_name(host: str) -> bool:
    """A host that may be on the public internet: a public IP address, or a dotted DNS name that
    is not local by its form (`localhost`, `.local`, `.internal`...). What it resolves to is
    checked when it is called (`public_address`)."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        labels = host.rstrip(".").split(".")
        return len(labels) > 1 and labels[-1] not in LOCAL_SUFFIXES
    return public_address(host)


LOCAL_SUFFIXES = frozenset({"localhost", "local", "internal", "lan", "home", "arpa", "test"})


def endpoint_allowed(
    endpoint: str, allowlist: frozenset[str], *, any_public_host: bool = False
) -> bool:
    """https (port 443) to a listed host (or a subdomain of one), or with `any_public_host` to
    any public one (`_public_name`: the merchant's own webhook URL); plain http only to a listed
    loopback (development and tests). Never a URL with a user or password."""
    parts = urlsplit(endpoint)
    host = (parts.hostname or "").lower()
    try:
        port = parts.port
    except ValueError:
        return False
    if not host or parts.username or parts.password:
        return False
    listed = host in allowlist or any(host.endswith("." + allowed) for allowed in allowlist)
    if not listed and not (any_public_host and _public_name(host)):
        return False
    if parts.scheme == "https":
        return port in (None, 443)
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    return parts.scheme == "http" and loopback and host in allowlist


def parse_push_subscription(value: str | dict | None, allowlist: frozenset[str]) -> str:
    """The subscription as compact JSON `{"endpoint", "keys": {"p256dh", "auth"}}`."""
    if value is None or value == "":
        raise ContactError("customer.push is required for the push channel")
    if isinstance(value, str):
        try:
            value = orjson.loads(
                value
            )  # refuses nesting past 1,024 levels (json.loads recursed until it crashed)
        except orjson.JSONDecodeError:
            raise ContactError(
                "customer.push is not a push subscription (PushSubscription JSON)"
            ) from None
    try:
        sub = PushSubscriptionIn.model_validate(value)
    except ValueError:
        raise ContactError("customer.push must have endpoint and keys.p256dh, keys.auth") from None
    if not endpoint_allowed(sub.endpoint, allowlist):
        raise ContactError("customer.push endpoint is not a known push service")
    if _b64url_len(sub.keys.p256dh) != 65 or _b64url_len(sub.keys.auth) != 16:
        raise ContactError(
            "customer.push keys are not a P-256 public key and a 16-byte auth secret"
        )
    return json.dumps(
        {"endpoint": sub.endpoint, "keys": {"p256dh": sub.keys.p256dh, "auth": sub.keys.auth}},
        separators=(",", ":"),
    )


_LANGUAGE_TAG = re.compile(r"([A-Za-z]{2,3})(?:[-_][A-Za-z0-9]{1,8})*")


def normalize_locale(value: str | None, known: AbstractSet[str]) -> str | None:
    """The language of a BCP 47 tag (`fr-CA` → `fr`) when the app has messages in it; else None,
    which means the default. Never an error: a shopper's browser language is a hint."""
    if not value:
        return None
    match = _LANGUAGE_TAG.fullmatch(value.strip())
    if match is None:
        return None
    language = match.group(1).lower()
    return language if language in known else None


def shown_contact(channel: str, email: str | None, phone: str | None) -> str | None:
    """The contact a signup shows (the admin's lists, the APIs' intents): its email, its phone, or
    the word "push" (a subscription is no address to show)."""
    return {"email": email, "sms": phone, "push": "push"}.get(channel)


def sending_address(
    channel: str, email: str | None, phone: str | None, push_subscription: str | None
) -> str | None:
    """Where a signup's messages go: its email, its phone, or its push subscription (JSON)."""
    return {"email": email, "sms": phone, "push": push_subscription}.get(channel)
