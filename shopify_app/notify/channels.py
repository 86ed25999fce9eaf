"""The channels this deployment can use: a channel without credentials is absent, and its
notifications wait in the outbox until it is configured."""

import logging
from pathlib import Path

from ..config import ConfigError, Settings
from ..http_client import SendingClient
from .base import Channel
from .email import DEV_SENDER, FileMailer, SmtpMailer
from .push import WebPush
from .sms import TwilioSms

log = logging.getLogger(__name__)
DEV_OUTBOX = Path("outbox")


def build_channels(settings: Settings) -> dict[str, Channel]:
    """Each channel owns its connections (SMTP pool, HTTP clients); close them with `aclose`."""
    channels: dict[str, Channel] = {}
    try:
        if settings.SMTP_HOST and settings.MAIL_FROM:
            channels["email"] = SmtpMailer(
                settings.SMTP_HOST, settings.SMTP_PORT, sender=settings.MAIL_FROM, username=settings.SMTP_USERNAME,
                password=settings.SMTP_PASSWORD, starttls=settings.SMTP_STARTTLS,
                pool_size=settings.SEND_CONCURRENCY,
            )
        elif settings.is_development:
            channels["email"] = FileMailer(DEV_OUTBOX, sender=settings.MAIL_FROM or DEV_SENDER)
        if settings.TWILIO_ACCOUNT_SID and settings.TWILIO_AUTH_TOKEN and settings.TWILIO_FROM_NUMBER:
            channels["sms"] = TwilioSms(
                SendingClient(settings, settings.SEND_CONCURRENCY), owns_http=True,
                base_url=settings.TWILIO_API_BASE_URL, account_sid=settings.TWILIO_ACCOUNT_SID,
                auth_token=settings.TWILIO_AUTH_TOKEN, sender=settings.TWILIO_FROM_NUMBER,
            )
        if settings.VAPID_PRIVATE_KEY and settings.VAPID_PUBLIC_KEY and settings.VAPID_SUBJECT:
            channels["push"] = WebPush(
                SendingClient(settings, settings.SEND_CONCURRENCY), owns_http=True,
                private_key=settings.VAPID_PRIVATE_KEY, public_key=settings.VAPID_PUBLIC_KEY,
                subject=settings.VAPID_SUBJECT, allowlist=settings.push_allowlist,
            )
    except ValueError as exc:  # a malformed MAIL_FROM or VAPID key pair: refuse to start, say which
        raise ConfigError(str(exc)) from None
    log.info("channels enabled: %s", ", ".join(sorted(channels)) or "none", extra={"enabled": sorted(channels)})
    return channels
