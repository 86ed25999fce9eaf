"""SMS through Twilio's Messages API: a form-encoded POST with basic auth through the worker's
SendingClient. Twilio's answer says whether the number can never be reached (do not retry) or
the failure will pass. In development without Twilio settings, messages are written to
.sms.txt files instead (`FileSms`)."""

import base64
import logging
from pathlib import Path
from urllib.parse import quote_plus

from ..http_client import SENDING_ERRORS, Reply, SendingClient, sending_timeout
from ..logs import redact
from .base import (
    OutgoingMessage,
    PermanentError,
    SlowDown,
    TransientError,
    retry_after_seconds,
    write_outbox_file,
)

log = logging.getLogger(__name__)
TIMEOUT = sending_timeout(15.0, connect=5.0)

# https://www.twilio.com/docs/api/errors: the number is invalid, unreachable, not mobile,
# in a region we may not send to, or has replied STOP.
BAD_NUMBER_CODES = frozenset(
    {21211, 21214, 21217, 21407, 21408, 21610, 21612, 21614, 30003, 30004, 30005, 30006}
)


class TwilioSms:
    name = "sms"

    def __init__(
        self,
        http: SendingClient,
        *,
        base_url: str,
        account_sid: str,
        auth_token: str,
        sender: str,
        owns_http: bool = False,
    ):
        self.http, self.owns_http = http, owns_http
        self.url = f"{base_url.rstrip('/')}/2010-04-01/Accounts/{account_sid}/Messages.json"
        credentials = base64.b64encode(f"{account_sid}:{auth_token}".encode()).decode()
        # the same for every message: made once
        self.headers = {
            "Authorization": f"Basic {credentials}",
            "Content-Type": "application/x-www-form-urlencoded",
        }
        self.sender = sender
        self._from = f"&From={quote_plus(sender)}&Body="

    def form(self, message: OutgoingMessage) -> bytes:
        """To, From and Body, form-encoded as urlencode would (only To and Body change)."""
        return f"To={quote_plus(message.to)}{self._from}{quote_plus(message.text)}".encode()

    async def send(self, message: OutgoingMessage) -> str | None:
        try:
            response = await self.http.post(
                self.url, body=self.form(message), headers=self.headers, timeout=TIMEOUT
            )
        except SENDING_ERRORS as exc:
            raise TransientError(f"Twilio unreachable: {type(exc).__name__}") from None
        body = _json(response)
        status = response.status
        if status in (200, 201) and body.get("sid"):
            return str(body["sid"])
        code = body.get("code")
        # Twilio's messages quote the number: keep only its first and last digits.
        detail = (
            f"Twilio {status} {code or ''}: {redact(str(body.get('message', ''))[:200])}".rstrip(
                ": "
            )
        )
        log.warning(
            "twilio refused a message",
            extra={"status": status, "code": code, "reference": message.reference},
        )
        if status == 429:
            raise SlowDown(
                detail, retry_after=retry_after_seconds(response.headers.get("retry-after"))
            )
        if status >= 500 or status < 400:
            raise TransientError(detail)
        if code in BAD_NUMBER_CODES:
            raise PermanentError(f"{detail} (the number cannot receive SMS)")
        if status in (401, 403):
            # Our account or credentials, not the shopper's number: worth retrying once fixed.
            raise TransientError(detail)
        raise PermanentError(detail)

    async def aclose(self) -> None:
        if self.owns_http:
            await self.http.aclose()


class FileSms:
    """Development only: each message becomes a .sms.txt file, `To:` then the body, as the phone
    would show it. Nothing is sent."""

    name = "sms"

    def __init__(self, directory: Path):
        self.directory = Path(directory)

    async def send(self, message: OutgoingMessage) -> str:
        to = message.to.strip()
        if not to.startswith("+") or not to[1:].isdigit():
            raise PermanentError("not an E.164 phone number")
        text = f"To: {to}\n\n{message.text}\n"
        path = await write_outbox_file(self.directory, message.reference, ".sms.txt", text)
        log.info("sms written to %s (development, no Twilio settings)", path)
        return str(path)

    async def aclose(self) -> None:
        pass


def _json(response: Reply) -> dict:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
