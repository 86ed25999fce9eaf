"""Outbound webhooks to the merchant's own system: the `webhook_url` setting's rule (https to a
public host, SSRF-safe by the same check as push endpoints: `contacts.endpoint_allowed`), the
per-shop signing secret (made when the URL is first set or on a rotate, stored encrypted, shown
once), and one delivery: the event's JSON POSTed with its signature, the answer judged.

Signature: `X-Back-In-Stock-Hmac-Sha256` is the base64 HMAC-SHA256 of the raw body with the shop's
secret, as Shopify signs its own webhooks (docs/events.md shows how to check it)."""

import base64
import hashlib
import hmac
import ipaddress
import secrets
import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import anyio
import httpx

from .contacts import endpoint_allowed, public_address
from .crypto import Keys, decrypt_token, encrypt_token

SIGNATURE_HEADER = "X-Back-In-Stock-Hmac-Sha256"
TIMEOUT = httpx.Timeout(10.0, connect=5.0)
MAX_URL = 2048
SECRET_PREFIX = "bisw_"


class BadUrl(ValueError):
    pass


def check_url(value: Any, local_hosts: frozenset[str]) -> str | None:
    """The webhook URL as stored (None: off); BadUrl says why one is refused."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str):
        raise BadUrl("must be a web address starting with https:// or null")
    value = value.strip()
    if len(value) > MAX_URL or any(c.isspace() or ord(c) < 32 for c in value):
        raise BadUrl(f"must be a web address of at most {MAX_URL} characters, without spaces")
    if urlsplit(value).scheme != "https" and not endpoint_allowed(value, local_hosts):
        raise BadUrl("must start with https://")
    if not endpoint_allowed(value, local_hosts, any_public_host=True):
        raise BadUrl(
            "must be https (port 443) to a public host: not a private, local or loopback "
            "address, and without a user name or password"
        )
    return value


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def store_secret(keys: Keys, secret: str) -> str:
    return encrypt_token(keys, secret)


def sign(secret: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


@dataclass(frozen=True)
class Answer:
    delivered: bool
    retry: bool  # not delivered, and worth another try (network, 408, 429, 5xx)
    status_code: int | None
    error: str | None


async def _resolves_publicly(url: str, local_hosts: frozenset[str]) -> bool:
    """Every address the URL's host resolves to is public (a listed local host is taken as it
    is): a public name pointed at a private address is refused when it is called."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if host in local_hosts:
        return True
    try:
        ipaddress.ip_address(host)
        return public_address(host)
    except ValueError:
        pass
    try:
        found = await anyio.getaddrinfo(host, parts.port or 443, type=socket.SOCK_STREAM)
    except OSError:
        return False
    return bool(found) and all(public_address(str(info[4][0])) for info in found)


async def post(
    http: httpx.AsyncClient,
    url: str,
    encrypted_secret: str | None,
    keys: Keys,
    local_hosts: frozenset[str],
    *,
    body: str,
    topic: str,
    event_id: str,
    shop: str,
) -> Answer:
    """POST one event to the merchant's URL, signed; the URL is checked again first (the rule, or
    what its name resolves to, may have changed since it was saved)."""
    try:
        check_url(url, local_hosts)
    except BadUrl:
        return Answer(False, False, None, "webhook URL is no longer allowed")
    secret = decrypt_token(keys, encrypted_secret) if encrypted_secret else None
    if secret is None:
        return Answer(False, False, None, "no signing secret: rotate it in the settings")
    if not await _resolves_publicly(url, local_hosts):
        return Answer(False, True, None, "host does not resolve to a public address")
    raw = body.encode()
    headers = {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: sign(secret, raw),
        "X-Back-In-Stock-Topic": topic,
        "X-Back-In-Stock-Event-Id": event_id,
        "X-Back-In-Stock-Shop-Domain": shop,
        "User-Agent": "back-in-stock-alerts-webhooks/1",
    }
    try:
        response = await http.post(
            url, content=raw, headers=headers, timeout=TIMEOUT, follow_redirects=False
        )
    except httpx.HTTPError as exc:
        return Answer(False, True, None, f"network: {type(exc).__name__}")
    code = response.status_code
    if 200 <= code < 300:
        return Answer(True, False, code, None)
    retry = code >= 500 or code in (408, 429)
    return Answer(False, retry, code, f"HTTP {code}")
