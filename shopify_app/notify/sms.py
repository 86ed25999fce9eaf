"""SMS through Twilio's Messages API (form-encoded POST, basic auth). Twilio's error codes say
whether a number can never be reached (don't retry) or the failure is passing."""

import httpx

from .base import OutgoingMessage, PermanentError, TransientError

TIMEOUT = 15.0


class TwilioSms:
    name = "sms"

    def __init__(self, http: httpx.AsyncClient, *, base_url: str, account_sid: str, auth_token: str, sender: str):
        self.http = http
        self.url = f"{base_url.rstrip('/')}/2010-04-01/Accounts/{account_sid}/Messages.json"
        self.auth = (account_sid, auth_token)
        self.sender = sender

    async def send(self, message: OutgoingMessage) -> str | None:
        try:
            response = await self.http.post(
                self.url, data={"To": message.to, "From": self.sender, "Body": message.text}, auth=self.auth,
                timeout=TIMEOUT,
            )
        except httpx.HTTPError as exc:
            raise TransientError(f"Twilio unreachable: {type(exc).__name__}") from None
        if response.status_code in (200, 201):
            return _json(response).get("sid")
        body = _json(response)
        detail = f"Twilio {response.status_code} {body.get('code', '')}: {str(body.get('message', ''))[:200]}"
        if response.status_code == 429:
            raise TransientError(detail, retry_after=_seconds(response.headers.get("retry-after")))
        if response.status_code >= 500 or response.status_code in (401, 403):
            # 401/403: our credentials, not the shopper's number; retry once they are fixed.
            raise TransientError(detail)
        raise PermanentError(detail)

    async def aclose(self) -> None:
        pass


def _json(response: httpx.Response) -> dict:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _seconds(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None
