"""Web push: the payload encrypted for the browser's keys (RFC 8291 aes128gcm, pywebpush) and
signed with our VAPID key (RFC 8292, py-vapid), POSTed with the shared async client. Endpoints are
re-checked against PUSH_ENDPOINT_ALLOWLIST before every request: nothing else is ever contacted."""

import json
import time
from urllib.parse import urlsplit

import httpx
from py_vapid import Vapid02
from pywebpush import WebPusher

from ..contacts import endpoint_allowed
from .base import OutgoingMessage, PermanentError, SubscriptionGone, TransientError

TIMEOUT = 15.0
TTL_SECONDS = 24 * 3600
JWT_LIFETIME = 12 * 3600


class WebPush:
    name = "push"

    def __init__(self, http: httpx.AsyncClient, *, private_key: str, subject: str, allowlist: frozenset[str]):
        self.http = http
        self.vapid = Vapid02.from_raw(private_key.encode())
        self.subject = subject
        self.allowlist = allowlist
        self._signed: dict[str, tuple[str, float]] = {}

    def _authorization(self, endpoint: str) -> str:
        """The VAPID header for the endpoint's origin, signed once per origin and reused until near expiry."""
        parts = urlsplit(endpoint)
        audience = f"{parts.scheme}://{parts.netloc}"
        cached = self._signed.get(audience)
        now = time.time()
        if cached and cached[1] - now > 3600:
            return cached[0]
        expires = int(now + JWT_LIFETIME)
        header = self.vapid.sign({"aud": audience, "exp": expires, "sub": self.subject})["Authorization"]
        self._signed[audience] = (header, expires)
        return header

    async def send(self, message: OutgoingMessage) -> str | None:
        try:
            subscription = json.loads(message.to)
            endpoint = subscription["endpoint"]
        except (ValueError, KeyError, TypeError):
            raise PermanentError("stored push subscription is not valid JSON") from None
        if not endpoint_allowed(endpoint, self.allowlist):
            raise PermanentError("push endpoint is not in PUSH_ENDPOINT_ALLOWLIST")
        payload = json.dumps(dict(message.push_payload or {"body": message.text}), separators=(",", ":")).encode()
        try:
            body = WebPusher(subscription).encode(payload, "aes128gcm")["body"]
        except Exception as exc:  # noqa: BLE001  (bad keys in a stored subscription)
            raise PermanentError(f"cannot encrypt for this subscription: {exc}") from None
        headers = {
            "TTL": str(TTL_SECONDS),
            "Urgency": "normal",
            "Content-Encoding": "aes128gcm",
            "Content-Type": "application/octet-stream",
            "Authorization": self._authorization(endpoint),
        }
        try:
            response = await self.http.post(endpoint, content=body, headers=headers, timeout=TIMEOUT)
        except httpx.HTTPError as exc:
            raise TransientError(f"push service unreachable: {type(exc).__name__}") from None
        status = response.status_code
        if status in (200, 201, 202):
            return response.headers.get("location")
        if status in (404, 410):
            raise SubscriptionGone(f"push service answered {status}: subscription gone")
        if status == 429 or status >= 500:
            retry = response.headers.get("retry-after")
            raise TransientError(f"push service answered {status}", retry_after=float(retry) if retry and retry.isdigit() else None)
        raise PermanentError(f"push service answered {status}: {response.text[:200]}")

    async def aclose(self) -> None:
        pass
