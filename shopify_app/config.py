"""The one Settings class: environment variables, also read from `.env`."""

import re
from functools import cached_property
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_PUSH_HOSTS = (
    "fcm.googleapis.com",
    "android.googleapis.com",
    "updates.push.services.mozilla.com",
    "push.services.mozilla.com",
    "web.push.apple.com",
    "wns2-par02p.notify.windows.com",
    "notify.windows.com",
)

# Values that only the development environment may run with.
DEV_API_KEY = "dev-api-key"
DEV_API_SECRET = "dev-api-secret-not-for-production"
DEV_SECRET_KEY = "dev-secret-key-not-for-production-0123456789"
PLACEHOLDERS = {
    "",
    DEV_API_KEY,
    DEV_API_SECRET,
    DEV_SECRET_KEY,
    "changeme",
    "change-me",
    "secret",
    "placeholder",
    "xxx",
    "todo",
    "your-secret",
    "your-api-secret",
    "your-secret-key",
}
PLACEHOLDER_MARKERS = (
    "changeme",
    "change-me",
    "change_me",
    "placeholder",
    "not-for-production",
    "your-",
    "replace-",
)


def looks_like_placeholder(value: str) -> bool:
    lowered = value.strip().lower()
    return lowered in PLACEHOLDERS or any(marker in lowered for marker in PLACEHOLDER_MARKERS)


MIN_SECRET_KEY_LENGTH = 32


RATE = re.compile(r"[1-9][0-9]{0,8}/(second|minute|hour)")


class ConfigError(Exception):
    """A setting that stops start-up; the message is one line naming the setting."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", extra="ignore", case_sensitive=True, populate_by_name=True
    )

    SHOPIFY_API_KEY: str = ""
    SHOPIFY_API_SECRET: str = Field(default="", repr=False)
    # `shopify app dev` (Shopify CLI) starts the app with SCOPES and SHOPIFY_APP_URL: both are taken.
    SHOPIFY_SCOPES: str = Field(
        default="read_products,read_inventory,read_locations,read_markets,read_orders,read_shipping,write_app_proxy",
        validation_alias=AliasChoices("SHOPIFY_SCOPES", "SCOPES"),
    )
    SHOPIFY_API_VERSION: str = "2026-10"
    SHOPIFY_ADMIN_BASE_URL: str = "https://{shop}"
    APP_URL: str = Field(
        default="http://127.0.0.1:8000", validation_alias=AliasChoices("APP_URL", "SHOPIFY_APP_URL")
    )
    APP_ENV: Literal["production", "development"] = "production"
    DATABASE_URL: str = "sqlite:///./data/shopify_app.sqlite3"
    SECRET_KEY: str = Field(default="", repr=False)
    # Previous SECRET_KEYs, comma-separated, after a rotation: they still decrypt stored tokens and
    # verify links signed before it (`shopify-app rotate-keys` re-encrypts the tokens).
    SECRET_KEY_FALLBACKS: str = Field(default="", repr=False)
    # PostgreSQL connections per process (docs/deploy.md sizes them against max_connections):
    # the pool of sync connections (threads: requests, the worker's rounds) and its overflow, and
    # the async pool (the signup and webhook intake). Opened as needed, up to these.
    DATABASE_POOL_SIZE: int = Field(default=40, ge=1)
    DATABASE_MAX_OVERFLOW: int = Field(default=10, ge=0)
    DATABASE_ASYNC_POOL_SIZE: int = Field(default=20, ge=1)
    WORKER_IN_PROCESS: bool = True
    LOG_LEVEL: str = "INFO"

    SMTP_HOST: str | None = None
    SMTP_PORT: int = 587
    SMTP_USERNAME: str | None = None
    SMTP_PASSWORD: str | None = Field(default=None, repr=False)
    SMTP_STARTTLS: bool = True
    MAIL_FROM: str | None = None

    TWILIO_ACCOUNT_SID: str | None = None
    TWILIO_AUTH_TOKEN: str | None = Field(default=None, repr=False)
    TWILIO_FROM_NUMBER: str | None = None
    TWILIO_API_BASE_URL: str = "https://api.twilio.com"

    VAPID_PRIVATE_KEY: str | None = Field(default=None, repr=False)
    VAPID_PUBLIC_KEY: str | None = None
    VAPID_SUBJECT: str | None = None
    PUSH_ENDPOINT_ALLOWLIST: str = ",".join(DEFAULT_PUSH_HOSTS)
    # Hosts a merchant's webhook_url may name besides public https ones: loopback over plain http
    # (development and tests). Empty: public https hosts only.
    WEBHOOK_LOCAL_HOSTS: str = ""

    # Seconds an OAuth state nonce stays usable.
    OAUTH_STATE_TTL: int = 600
    # Seconds allowed between an app-proxy / admin timestamp and now.
    SIGNATURE_MAX_AGE: int = 90
    # Seconds for each call to Shopify (connect, read, write, pool).
    SHOPIFY_HTTP_TIMEOUT: float = 10.0
    # Expiring offline tokens (shop_tokens.py): an access token is refreshed when it has less than
    # this many seconds left (at most a quarter of its life), before the call that needs it. The
    # worker's upkeep (every TOKEN_UPKEEP_INTERVAL_SECONDS, 0 = never) migrates non-expiring tokens
    # and renews refresh tokens close to their end.
    SHOPIFY_TOKEN_REFRESH_MARGIN: float = Field(default=300.0, ge=0)
    TOKEN_UPKEEP_INTERVAL_SECONDS: float = Field(default=3600.0, ge=0)
    # Largest accepted request body on the public API, in bytes.
    MAX_BODY_BYTES: int = 64 * 1024
    # The notification worker: rows claimed per round, seconds a claim holds, idle poll, and how
    # often stock is re-read through the API for variants with pending signups (0 = never).
    WORKER_BATCH_SIZE: int = 500
    # A claim's lease is short and renewed while its worker sends (a heartbeat), so a dead
    # worker's rows are taken over within about this many seconds.
    WORKER_LEASE_SECONDS: float = Field(default=20.0, ge=1.0)
    WORKER_POLL_INTERVAL: float = 0.5
    # Messages in flight at once per channel in each worker: SMTP connections kept open, HTTP
    # requests to Twilio and to push services. More queued requests than connections make httpx's
    # pool slow, so the worker waits on this limit before calling a channel.
    SEND_CONCURRENCY: int = Field(default=32, ge=1, le=512)
    # Messages per second each provider account takes (a Twilio long code ~1, toll-free 3, short
    # code 100; SES starts at 14): held across every worker process (notify/pace.py). Unset: as
    # fast as the workers go.
    EMAIL_SEND_RATE: float | None = Field(default=None, gt=0, le=100_000)
    SMS_SEND_RATE: float | None = Field(default=None, gt=0, le=100_000)
    PUSH_SEND_RATE: float | None = Field(default=None, gt=0, le=100_000)
    RECONCILE_INTERVAL_SECONDS: float = 900.0
    # How often the worker looks for variants whose waiting list reached a shop's
    # high_demand_threshold, to email the merchant (0 = never).
    DEMAND_CHECK_INTERVAL_SECONDS: float = Field(default=60.0, ge=0)
    REMINDER_INTERVAL_SECONDS: float = Field(default=600.0, ge=0)
    # How often the worker queues the shop-profile read (markets, locations, name) again for shops
    # read a day ago or more (shop_profile.queue_stale); 0 = only after an install.
    SHOP_PROFILE_REFRESH_INTERVAL_SECONDS: float = Field(default=3600.0, ge=0)

    # Abuse limits on signups (public API and app proxy), `N/second|minute|hour`: per client
    # address, and per shop and contact address. Counters live in the database, or in Redis.
    SIGNUP_RATE_LIMIT: str = "60/minute"
    SIGNUP_CONTACT_LIMIT: str = "20/hour"
    # The merchant API (`/api/v1/external/...`): points per shop; a GET costs 1, a write 2.
    MERCHANT_API_RATE_LIMIT: str = "360/minute"
    REDIS_URL: str | None = None
    # Addresses (or CIDR networks, or *) of our own reverse proxies, whose X-Forwarded-For is believed.
    FORWARDED_ALLOW_IPS: str = "127.0.0.1"
    # Contact details of signups notified or unsubscribed longer ago than this are purged (the
    # figures stay); the worker checks hourly.
    RETENTION_DAYS: int = Field(default=365, ge=1)
    # Seconds a double opt-in confirmation link works (7 days).
    OPTIN_TOKEN_TTL: int = Field(default=7 * 24 * 3600, ge=60)
    # An order of the alerted variant by the alerted shopper within this many days after the
    # alert was sent is a conversion (webhooks/orders_create.py).
    CONVERSION_WINDOW_DAYS: int = Field(default=7, ge=1, le=365)
    # The Bearer token `GET /metrics` (Prometheus) requires; unset, the route answers 404.
    METRICS_TOKEN: str | None = Field(default=None, repr=False)

    @field_validator("SIGNUP_RATE_LIMIT", "SIGNUP_CONTACT_LIMIT", "MERCHANT_API_RATE_LIMIT")
    @classmethod
    def _rate(cls, value: str) -> str:
        if not RATE.fullmatch(value.strip()):
            raise ValueError("must be N/second, N/minute or N/hour, e.g. 60/minute")
        return value.strip()

    @field_validator("APP_URL")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @property
    def is_development(self) -> bool:
        return self.APP_ENV == "development"

    @property
    def secret_keys(self) -> tuple[str, ...]:
        """The key ring: SECRET_KEY first (it encrypts and signs), then the fallbacks."""
        return (
            self.SECRET_KEY,
            *(k.strip() for k in self.SECRET_KEY_FALLBACKS.split(",") if k.strip()),
        )

    @property
    def scopes(self) -> list[str]:
        return [s.strip() for s in self.SHOPIFY_SCOPES.split(",") if s.strip()]

    @property
    def app_is_https(self) -> bool:
        return urlsplit(self.APP_URL).scheme == "https"

    @cached_property
    def push_allowlist(self) -> frozenset[str]:
        return frozenset(
            h.strip().lower() for h in self.PUSH_ENDPOINT_ALLOWLIST.split(",") if h.strip()
        )

    @cached_property
    def webhook_local_hosts(self) -> frozenset[str]:
        return frozenset(
            h.strip().lower() for h in self.WEBHOOK_LOCAL_HOSTS.split(",") if h.strip()
        )

    def admin_url(self, shop: str, path: str) -> str:
        """`path` (starting with /admin/...) on the shop, through SHOPIFY_ADMIN_BASE_URL."""
        return self.SHOPIFY_ADMIN_BASE_URL.replace("{shop}", shop).rstrip("/") + path

    def check(self) -> "Settings":
        """Refuse to start with missing or placeholder secrets outside development."""
        if self.is_development:
            if "RECONCILE_INTERVAL_SECONDS" not in self.model_fields_set:
                self.RECONCILE_INTERVAL_SECONDS = (
                    0  # the local demo shop has no real Shopify to re-read
                )
            if "TOKEN_UPKEEP_INTERVAL_SECONDS" not in self.model_fields_set:
                self.TOKEN_UPKEEP_INTERVAL_SECONDS = 0  # nor a token endpoint
            if "SHOP_PROFILE_REFRESH_INTERVAL_SECONDS" not in self.model_fields_set:
                self.SHOP_PROFILE_REFRESH_INTERVAL_SECONDS = 0  # nor markets to read again
            if not self.SHOPIFY_API_KEY:
                self.SHOPIFY_API_KEY = DEV_API_KEY
            if not self.SHOPIFY_API_SECRET:
                self.SHOPIFY_API_SECRET = DEV_API_SECRET
            if not self.SECRET_KEY:
                self.SECRET_KEY = DEV_SECRET_KEY
        for name in ("SHOPIFY_API_KEY", "SHOPIFY_API_SECRET", "SECRET_KEY"):
            value = getattr(self, name)
            if not value:
                raise ConfigError(f"{name} is not set: set it in the environment or .env")
            if not self.is_development and looks_like_placeholder(value):
                raise ConfigError(
                    f"{name} holds a placeholder value: set the real one (APP_ENV=production)"
                )
        if len(self.SECRET_KEY) < MIN_SECRET_KEY_LENGTH:
            raise ConfigError(
                f"SECRET_KEY must be at least {MIN_SECRET_KEY_LENGTH} characters long"
            )
        if any(len(k) < MIN_SECRET_KEY_LENGTH for k in self.secret_keys[1:]):
            raise ConfigError(
                f"each of SECRET_KEY_FALLBACKS must be at least {MIN_SECRET_KEY_LENGTH} characters long"
            )
        if "{shop}" not in self.SHOPIFY_ADMIN_BASE_URL:
            raise ConfigError("SHOPIFY_ADMIN_BASE_URL must contain {shop}, e.g. https://{shop}")
        if self.DATABASE_URL.startswith("sqlite:///") and ":memory:" not in self.DATABASE_URL:
            Path(self.DATABASE_URL.removeprefix("sqlite:///")).parent.mkdir(
                parents=True, exist_ok=True
            )
        return self


def load_settings(**overrides) -> Settings:
    return Settings(**overrides).check()
