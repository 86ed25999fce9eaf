"""What every channel takes and what it may raise."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class OutgoingMessage:
    channel: str                 # "email" | "sms" | "push"
    to: str                      # email address | E.164 phone | push subscription JSON
    subject: str | None = None   # email
    text: str = ""               # email plain part / SMS body / push body fallback
    html: str | None = None      # email html part
    headers: Mapping[str, str] = field(default_factory=dict)   # extra email headers
    push_payload: Mapping[str, Any] | None = None              # push JSON: title, body, url, image
    reference: str | None = None  # our notification id, for logs and Message-ID


class SendError(Exception):
    retry_after: float | None = None

    def __init__(self, message: str = "", retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class TransientError(SendError):
    """Try again later: connection refused, SMTP 4xx, HTTP 429 or 5xx."""


class PermanentError(SendError):
    """Never retry: a bad address or number, a refused recipient."""


class SubscriptionGone(PermanentError):
    """The push service answered 404/410: the subscription must be deleted."""


class Channel(Protocol):
    name: str

    async def send(self, message: OutgoingMessage) -> str | None: ...

    async def aclose(self) -> None: ...
