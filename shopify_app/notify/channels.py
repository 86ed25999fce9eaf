"""The channels this deployment can use: which can send (`sendable_channels`, the one rule), and
building them for the worker. A channel without credentials is absent: the storefront does not
offer it, and notifications already written for it wait in the outbox until it is configured. In
development, a channel without credentials writes files to `outbox/` instead (.eml, .sms.txt,
.push.json), so all three work out of the box; with credentials it sends for real."""

import logging
from pathlib import Path

from ..config import ConfigError, Settings
from ..http_client import SendingClient
from ..models import Channel as ChannelName
from .base import Channel
from .email import DEV_SENDER, FileMailer, SmtpMailer
from .push import FilePush, WebPush, development_public_key
from .sms import FileSms, TwilioSms

log = logging.getLogger(__name__)
DEV_OUTBOX = Path("outbox")
CHANNELS = tuple(name.value for name in ChannelName)  # email, sms, push


# What each channel needs to reach a real provider, by setting name.
REQUIRED_SETTINGS: dict[str, tuple[str, ...]] = {
    "email": ("SMTP_HOST", "MAIL_FROM"),
    "sms": ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_FROM_NUMBER"),
    "push": ("VAPID_PRIVATE_KEY", "VAPID_PUBLIC_KEY", "VAPID_SUBJECT"),
}


def missing_settings(settings: Settings) -> dict[str, list[str]]:
    """Per channel, the settings it still needs to reach its provider (empty: it can)."""
    return {
        channel: [name for name in names if not getattr(settings, name)]
        for channel, names in REQUIRED_SETTINGS.items()
    }


def _configured(settings: Settings) -> dict[str, bool]:
    """Which channels have what they need to send for real."""
    return {channel: not missing for channel, missing in missing_settings(settings).items()}


def sendable_channels(settings: Settings) -> frozenset[str]:
    """The channels this deployment can send, from its settings: the one answer for the theme
    block's config (what it offers), the admin's settings (what it shows) and the worker (what it
    builds). A channel can send when none of its REQUIRED_SETTINGS is missing; in development
    each can send without them (to files in outbox/)."""
    configured = _configured(settings)
    return frozenset(c for c in CHANNELS if configured[c] or settings.is_development)


def vapid_public_key(settings: Settings) -> str | None:
    """The key the block subscribes a browser with: VAPID_PUBLIC_KEY when push is configured, in
    development without it a development key (its pushes go to files), else none."""
    if _configured(settings)["push"]:
        return settings.VAPID_PUBLIC_KEY
    return development_public_key(settings.SECRET_KEY) if settings.is_development else None


def build_channels(settings: Settings) -> dict[str, Channel]:
    """Each channel that can send (`sendable_channels`); each owns its connections (SMTP pool,
    HTTP clients): close them with `aclose`."""
    channels: dict[str, Channel] = {}
    sendable, configured = sendable_channels(settings), _configured(settings)
    try:
        if "email" in sendable and settings.SMTP_HOST and settings.MAIL_FROM:
            channels["email"] = SmtpMailer(
                settings.SMTP_HOST,
                settings.SMTP_PORT,
                sender=settings.MAIL_FROM,
                username=settings.SMTP_USERNAME,
                password=settings.SMTP_PASSWORD,
                starttls=settings.SMTP_STARTTLS,
                pool_size=settings.SEND_CONCURRENCY,
            )
        elif "email" in sendable:  # development
            channels["email"] = FileMailer(DEV_OUTBOX, sender=settings.MAIL_FROM or DEV_SENDER)
        if "sms" in sendable and configured["sms"]:
            assert settings.TWILIO_ACCOUNT_SID and settings.TWILIO_AUTH_TOKEN
            assert settings.TWILIO_FROM_NUMBER
            channels["sms"] = TwilioSms(
                SendingClient(settings.SEND_CONCURRENCY),
                owns_http=True,
                base_url=settings.TWILIO_API_BASE_URL,
                account_sid=settings.TWILIO_ACCOUNT_SID,
                auth_token=settings.TWILIO_AUTH_TOKEN,
                sender=settings.TWILIO_FROM_NUMBER,
            )
        elif "sms" in sendable:  # development
            channels["sms"] = FileSms(DEV_OUTBOX)
        if "push" in sendable and configured["push"]:
            assert settings.VAPID_PRIVATE_KEY and settings.VAPID_SUBJECT
            channels["push"] = WebPush(
                SendingClient(settings.SEND_CONCURRENCY),
                owns_http=True,
                private_key=settings.VAPID_PRIVATE_KEY,
                public_key=settings.VAPID_PUBLIC_KEY,
                subject=settings.VAPID_SUBJECT,
                allowlist=settings.push_allowlist,
            )
        elif "push" in sendable:  # development
            channels["push"] = FilePush(DEV_OUTBOX, allowlist=settings.push_allowlist)
    except ValueError as exc:  # a malformed MAIL_FROM or VAPID key pair: refuse to start, say which
        raise ConfigError(str(exc)) from None
    log.info(
        "channels enabled: %s",
        ", ".join(sorted(channels)) or "none",
        extra={"enabled": sorted(channels)},
    )
    return channels
