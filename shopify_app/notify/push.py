"""Web push: the payload encrypted for the browser's keys (RFC 8291 aes128gcm, pywebpush),
signed with our VAPID key (RFC 8292, py-vapid) and POSTed through the worker's SendingClient. The
endpoint is re-checked against PUSH_ENDPOINT_ALLOWLIST before every request (SSRF): a stored
subscription may predate a change of the list. In development without VAPID settings, messages
are written to .push.json files instead (`FilePush`), and the block subscribes with a development
key (`development_public_key`)."""

import hashlib
import json
import logging
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from py_vapid import Vapid02, VapidException
from py_vapid.utils import b64urlencode
from pywebpush import WebPusher

from ..contacts import endpoint_allowed
from ..http_client import SENDING_ERRORS, SendingClient, sending_timeout
from .base import (
    OutgoingMessage,
    PermanentError,
    SlowDown,
    SubscriptionGone,
    TransientError,
    retry_after_seconds,
    write_outbox_file,
)

log = logging.getLogger(__name__)
TIMEOUT = sending_timeout(15.0, connect=5.0)
JWT_LIFETIME = 3600.0  # RFC 8292 allows up to 24 h; an hour is accepted by every push service
JWT_REUSE = 600.0  # one signature per push service origin every 10 minutes
MAX_BODY = 4096  # RFC 8030 §7.2: services need not accept more


def audience(endpoint: str) -> str:
    """The endpoint's origin, without a default port, as the VAPID `aud` claim."""
    parts = urlsplit(endpoint)
    try:
        port_number = parts.port
    except ValueError:
        raise PermanentError("push endpoint has an invalid port") from None
    port = (
        f":{port_number}"
        if port_number and port_number != {"https": 443, "http": 80}.get(parts.scheme)
        else ""
    )
    return f"{parts.scheme}://{parts.hostname}{port}"


class WebPush:
    name = "push"

    def __init__(
        self,
        http: SendingClient,
        *,
        private_key: str,
        subject: str,
        allowlist: frozenset[str],
        public_key: str | None = None,
        ttl: int = 24 * 3600,
        urgency: str = "normal",
        owns_http: bool = False,
    ):
        self.http, self.owns_http = http, owns_http
        self.vapid = _vapid(private_key, public_key, subject)
        self.subject, self.allowlist, self.ttl, self.urgency = subject, allowlist, ttl, urgency
        self._signed: dict[str, tuple[str, float]] = {}  # audience -> (Authorization, signed at)

    def _authorization(self, endpoint: str) -> str:
        aud = audience(endpoint)
        now = time.time()
        cached = self._signed.get(aud)
        if cached and now - cached[1] < JWT_REUSE:
            return cached[0]
        header = self.vapid.sign({"aud": aud, "exp": int(now + JWT_LIFETIME), "sub": self.subject})[
            "Authorization"
        ]
        self._signed[aud] = (header, now)
        return header

    async def send(self, message: OutgoingMessage) -> str | None:
        subscription = _subscription(message.to)
        endpoint = subscription["endpoint"]
        if not endpoint_allowed(endpoint, self.allowlist):
            raise PermanentError("push endpoint is not in PUSH_ENDPOINT_ALLOWLIST")
        try:
            data = json.dumps(_payload(message), separators=(",", ":"), ensure_ascii=False).encode()
        except (TypeError, ValueError):
            raise PermanentError("push payload is not JSON") from None
        try:
            body = WebPusher(subscription).encode(data, "aes128gcm")["body"]
        except Exception as exc:
            raise PermanentError(
                f"cannot encrypt for this subscription: {type(exc).__name__}"
            ) from None
        if len(body) > MAX_BODY:
            raise PermanentError(
                f"push payload too large: {len(body)} bytes encrypted, at most {MAX_BODY}"
            )
        headers = {
            "TTL": str(self.ttl),
            "Urgency": self.urgency,
            "Content-Encoding": "aes128gcm",
            "Content-Type": "application/octet-stream",
            "Authorization": self._authorization(endpoint),
        }
        try:
            response = await self.http.post(endpoint, body=body, headers=headers, timeout=TIMEOUT)
        except SENDING_ERRORS as exc:
            raise TransientError(f"push service unreachable: {type(exc).__name__}") from None
        status = response.status
        if status in (200, 201, 202):
            return response.headers.get("location")
        detail = f"push service answered {status}: {response.text[:200]}".rstrip(": ")
        if status in (404, 410):
            raise SubscriptionGone(detail)
        if status == 429:
            raise SlowDown(
                detail, retry_after=retry_after_seconds(response.headers.get("retry-after"))
            )
        if status >= 500:
            raise TransientError(
                detail, retry_after=retry_after_seconds(response.headers.get("retry-after"))
            )
        raise PermanentError(detail)

    async def aclose(self) -> None:
        if self.owns_http:
            await self.http.aclose()


class FilePush:
    """Development only: each message becomes a .push.json file holding the subscription's
    endpoint and the payload the service worker would show. Nothing is sent or encrypted."""

    name = "push"

    def __init__(self, directory: Path, *, allowlist: frozenset[str]):
        self.directory, self.allowlist = Path(directory), allowlist

    async def send(self, message: OutgoingMessage) -> str:
        endpoint = _subscription(message.to)["endpoint"]
        if not endpoint_allowed(endpoint, self.allowlist):
            raise PermanentError("push endpoint is not in PUSH_ENDPOINT_ALLOWLIST")
        document = {"endpoint": endpoint, "payload": _payload(message)}
        try:
            text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
        except (TypeError, ValueError):
            raise PermanentError("push payload is not JSON") from None
        path = await write_outbox_file(self.directory, message.reference, ".push.json", text)
        log.info("push written to %s (development, no VAPID settings)", path)
        return str(path)

    async def aclose(self) -> None:
        pass


def development_public_key(seed: str) -> str:
    """A VAPID public key for development, the same on every start for the same SECRET_KEY, so the
    block can subscribe a browser without VAPID settings (FilePush never signs with its private
    half)."""
    order = int("FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551", 16)
    scalar = int.from_bytes(hashlib.sha256(f"development vapid key:{seed}".encode()).digest())
    key = ec.derive_private_key(scalar % (order - 1) + 1, ec.SECP256R1())
    return b64urlencode(
        key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    )


def _payload(message: OutgoingMessage) -> dict[str, Any]:
    """What the service worker shows: the rendered payload (title, body, url, image), else the text."""
    return (
        dict(message.push_payload) if message.push_payload is not None else {"body": message.text}
    )


def _subscription(value: str) -> Mapping:
    try:
        subscription = json.loads(value)
        keys = subscription["keys"]
        if isinstance(subscription["endpoint"], str) and keys["p256dh"] and keys["auth"]:
            return subscription
    except (ValueError, KeyError, TypeError):
        pass
    raise PermanentError("stored push subscription is not {endpoint, keys: {p256dh, auth}} JSON")


def _vapid(private_key: str, public_key: str | None, subject: str) -> Vapid02:
    """The signing key, checked once at start-up rather than failing on every send."""
    try:
        vapid = Vapid02.from_raw(private_key.strip().encode())
    except ValueError:
        raise ValueError("VAPID_PRIVATE_KEY is not a base64url raw P-256 private key") from None
    point = vapid.public_key.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    if public_key and b64urlencode(point) != public_key.strip().rstrip("="):
        raise ValueError("VAPID_PUBLIC_KEY is not the public key of VAPID_PRIVATE_KEY")
    try:
        vapid.sign({"aud": "https://push.example", "sub": subject})
    except VapidException:
        raise ValueError("VAPID_SUBJECT must be a mailto: address or an https: URL") from None
    return vapid
