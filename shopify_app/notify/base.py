"""What every channel takes and what it may raise."""

import re
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, Protocol

from anyio import to_thread

_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]")


@dataclass(frozen=True)
class OutgoingMessage:
    channel: str  # "email" | "sms" | "push"
    to: str  # email address | E.164 phone | push subscription JSON {"endpoint","keys":{"p256dh","auth"}}
    subject: str | None = None  # email
    text: str = ""  # email plain part / SMS body / push body fallback
    html: str | None = None  # email html part
    headers: Mapping[str, str] = field(
        default_factory=dict
    )  # extra email headers (List-Unsubscribe, List-Unsubscribe-Post)
    push_payload: Mapping[str, Any] | None = None  # push JSON: title, body, url, image
    reference: str | None = None  # our notification id, for logs / Message-ID / idempotency
    sender_name: str | None = (
        None  # email: the From display name (the shop's setting); the address stays MAIL_FROM's
    )


class SendError(Exception):
    retry_after: float | None = None

    def __init__(self, message: str = "", retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class TransientError(SendError):
    """Try again later: connection refused, SMTP 4xx, HTTP 429 or 5xx."""


class SlowDown(TransientError):
    """The provider asks us to send slower (HTTP 429, SMTP 421/451): the channel pauses for
    `retry_after` (notify/pace.py) and the message's attempt is not counted."""


class PermanentError(SendError):
    """Never retry: a bad address or number, a refused recipient."""


class SubscriptionGone(PermanentError):
    """The push service answered 404/410: the subscription must be deleted."""


class Channel(Protocol):
    name: str

    async def send(self, message: OutgoingMessage) -> str | None: ...

    async def aclose(self) -> None: ...


def retry_after_seconds(value: str | None) -> float | None:
    """An HTTP Retry-After header (delay in seconds, or a date) as seconds from now."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError, IndexError):
        return None


def outbox_file_name(reference: str | None, suffix: str) -> str:
    """A development outbox file's name: when it was written, then the notification's reference
    (made safe for a file name; random without one), then `suffix` (".eml", ".sms.txt", …)."""
    safe = _UNSAFE_NAME.sub("", reference or "") or secrets.token_hex(6)
    return f"{time.strftime('%Y%m%d-%H%M%S')}-{safe}{suffix}"


def _write_outbox_file(directory: Path, name: str, text: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


async def write_outbox_file(directory: Path, reference: str | None, suffix: str, text: str) -> Path:
    """Write a development message to the outbox (in a thread: file I/O off the event loop)."""
    return await to_thread.run_sync(
        _write_outbox_file, directory, outbox_file_name(reference, suffix), text
    )
