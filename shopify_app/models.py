"""SQLModel tables. Table-only columns (tokens, push keys) never reach a response: responses are
built from the *Public models in `schemas.py`."""

import uuid
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    SmallInteger,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy import (
    false as sa_false,
)
from sqlalchemy import (
    true as sa_true,
)
from sqlmodel import Field, SQLModel

# SQLite only auto-increments an `INTEGER PRIMARY KEY`.
BigId = BigInteger().with_variant(Integer(), "sqlite")


if TYPE_CHECKING:

    class TableModel(SQLModel):
        """What mypy knows of a `table=True` model: SQLModel's metaclass sets `__table__`, which
        SQLModel does not declare. At run time the tables derive from SQLModel itself."""

        __table__: ClassVar[Table]

else:
    TableModel = SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_uuid() -> str:
    return str(uuid.uuid4())


class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes on every backend (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect):
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def created_at_field() -> datetime:
    return Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class Channel(StrEnum):
    email = "email"
    sms = "sms"
    push = "push"


class IntentSource(StrEnum):
    api = "api"
    proxy = "proxy"
    merchant = "merchant"


class IntentStatus(StrEnum):
    pending = "pending"  # waiting for a restock (or for opt-in, see optin_confirmed)
    notified = "notified"  # an alert went out
    unsubscribed = "unsubscribed"
    cancelled = "cancelled"  # removed by the merchant or by a redaction


class JobKind(StrEnum):
    inventory = "inventory"  # an inventory item's stock changed: re-evaluate its variant
    batch = "batch"  # the next batch of a batched restock is due
    reconcile = "reconcile"  # re-read stock through the API for variants with pending signups
    demand_alert = (
        "demand_alert"  # email the merchant: a variant's waiting list reached high_demand_threshold
    )
    data_request = (
        "data_request"  # customers/data_request: assemble the customer's data, email the merchant
    )
    test_alert = "test_alert"  # the setup guide: a sample alert email to the merchant's own address
    shop_profile = "shop_profile"  # after install: the shop's name and currency from the Admin API
    variant_read = "variant_read"  # a first signup for an unseen variant: its titles from the API
    signup_event = "signup_event"  # a signup filed in PostgreSQL's one statement: its event, now
    event_out = "event_out"  # an event to the merchant's webhook or to Shopify Flow (events_out.py)
    weekly_summary = "weekly_summary"  # email the merchant last week's figures (payload: week)


class JobStatus(StrEnum):
    pending = "pending"
    running = "running"
    waiting = "waiting"  # needs the shop's Admin API while the shop must reconnect; resumed by a new token
    done = "done"
    failed = "failed"


# A job still to run: due (or due later), or waiting for its shop to reconnect.
JOB_TO_RUN = (JobStatus.pending.value, JobStatus.waiting.value)
# A job not finished yet that a worker will take or holds: due, or running.
JOB_UNFINISHED = (JobStatus.pending.value, JobStatus.running.value)


class NotificationStatus(StrEnum):
    pending = "pending"  # written, waiting to be sent (or for a retry, see next_attempt_at)
    sending = "sending"  # claimed by a worker until locked_until
    held = "held"  # written with a restock while the shop's automatic_sending is off: the merchant sends it
    sent = "sent"
    failed = "failed"  # gave up; last_error says why; re-sendable
    cancelled = "cancelled"


# An alert on its way: a worker will send it (pending) or is sending it (sending).
NOTIFICATION_ON_ITS_WAY = (NotificationStatus.pending.value, NotificationStatus.sending.value)
# Not sent and not claimed by a worker: due, or held for the merchant.
NOTIFICATION_NOT_CLAIMED = (NotificationStatus.pending.value, NotificationStatus.held.value)
# Not sent yet and still meant to be: on its way, or held for the merchant.
NOTIFICATION_UNSENT = (*NOTIFICATION_ON_ITS_WAY, NotificationStatus.held.value)


class DeliveryPolicy(StrEnum):
    all = "all"
    batches = "batches"


class Shop(TableModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    domain: str = Field(sa_type=String(255), unique=True, index=True)
    access_token_encrypted: str | None = Field(default=None, sa_type=Text)
    # Expiring offline tokens (shop_tokens.py): NULL expiry = a non-expiring token, to be migrated.
    access_token_expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    access_token_issued_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    refresh_token_encrypted: str | None = Field(default=None, sa_type=Text)
    refresh_token_expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    reconnect_needed_at: datetime | None = Field(
        default=None, sa_type=UTCDateTime
    )  # Shopify refused a refresh
    reconnect_logged_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    scopes: str = Field(default="", sa_type=Text)
    installed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    uninstalled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Alert policy (PLATFORM.md section 6)
    min_restock_quantity: int = Field(default=1)
    delivery_policy: str = Field(default=DeliveryPolicy.all.value, sa_type=String(16))
    batch_multiplier: float = Field(default=1.0)
    batch_interval_seconds: int = Field(default=3600)
    skip_over_quantity: bool = Field(default=False)
    double_optin: bool = Field(default=False)
    # Merchant settings (the admin's `/app/api/settings`)
    channel_email: bool = Field(default=True)
    channel_sms: bool = Field(default=True)
    channel_push: bool = Field(default=True)
    automatic_sending: bool = Field(
        default=True
    )  # off: restocks hold their alerts for the merchant
    high_demand_threshold: int | None = Field(default=None)
    sender_name: str | None = Field(default=None, sa_type=String(100))
    reply_to: str | None = Field(default=None, sa_type=String(320))
    currency: str | None = Field(default=None, sa_type=String(3))
    # The shop's name as Shopify has it (`shop { name }`, read after install): alerts name the shop.
    name: str | None = Field(default=None, sa_type=String(255))
    # The alert email's brand: a logo (https URL) above the message, an accent colour (#rrggbb).
    brand_logo_url: str | None = Field(default=None, sa_type=Text)
    brand_color: str | None = Field(default=None, sa_type=String(7))
    # SMS signups only for phone numbers of these countries (ISO 3166 alpha-2; None: every
    # country), and SMS alerts held during quiet hours in the shopper's own time
    # ("21:00-09:00", HH:MM-HH:MM; None: off): sms_countries.py, notify/quiet_hours.py.
    sms_countries: list[str] | None = Field(default=None, sa_type=JSON(none_as_null=True))
    sms_quiet_hours: str | None = Field(default=None, sa_type=String(11))
    # The dashboard's setup guide: when the block was first seen on the storefront (its config
    # fetched through the app proxy) and when the merchant last sent themselves a test alert.
    block_seen_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    test_alert_sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # The merchant API key (`X-Auth-Token`): only its SHA-256 is kept.
    api_key_hash: str | None = Field(default=None, sa_type=String(64), unique=True)
    api_key_created_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # The generation of the dashboard's kept days (stats_day): a write that changes a closed day's
    # figures adds one, and rows of an older generation are counted again (admin/kept_days.py).
    stats_epoch: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    # Which stock alerts (stock_scope.py): only an active product on the Online Store; only these
    # locations' stock (a JSON list of location ids; null: every location).
    published_only: bool = Field(default=True, sa_column_kwargs={"server_default": sa_true()})
    alert_locations: str | None = Field(default=None, sa_type=Text)
    # Second alerts: a shopper alerted before who did not buy is alerted again on the next restock.
    resend_on_restock: bool = Field(default=False, sa_column_kwargs={"server_default": sa_false()})
    # The SMS cost guard: a restock's SMS past this many are held for the merchant (None: no cap).
    sms_cap_per_restock: int | None = Field(default=None)
    # Reminders after an alert (notify/reminders.py): JSON, each stage's after_days and texts.
    reminders: str | None = Field(default=None, sa_type=Text)
    # The weekly summary email to the merchant (notify/weekly_summary.py), off by default, and the
    # Monday of the last week (Monday to Sunday, UTC) one was queued for: one per shop per week.
    weekly_summary: bool = Field(default=False, sa_column_kwargs={"server_default": sa_false()})
    weekly_summary_week: date | None = Field(default=None)
    # When the shop_profile job (name, currency, locations, markets) was last queued: after an
    # install, then again each day (shop_profile.queue_stale), so later changes in Shopify are seen.
    profile_queued_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Outbound webhooks (webhooks_out.py): the merchant's https URL, and the secret the app signs
    # each event with (encrypted; shown to the merchant once, when made).
    webhook_url: str | None = Field(default=None, sa_type=Text)
    webhook_secret_encrypted: str | None = Field(default=None, sa_type=Text)
    created_at: datetime = created_at_field()
    updated_at: datetime = created_at_field()

    @property
    def is_installed(self) -> bool:
        return self.uninstalled_at is None and self.access_token_encrypted is not None


class SettingsChange(TableModel, table=True):
    """Who changed which of a shop's settings, when: `changes` is JSON `{field: [before, after]}`."""

    __tablename__ = "settings_change"
    id: int | None = Field(
        default=None, sa_column=Column(BigId, primary_key=True, autoincrement=True)
    )
    shop_id: int = Field(foreign_key="shop.id", ondelete="CASCADE", index=True)
    changed_by: str | None = Field(default=None, sa_type=String(64))  # the session token's `sub`
    changes: str = Field(sa_type=Text)
    at: datetime = created_at_field()


class Customer(TableModel, table=True):
    __table_args__ = (
        Index("uq_customer_shop_email", "shop_id", "email", unique=True),
        Index("uq_customer_shop_phone", "shop_id", "phone", unique=True),
    )
    id: str = Field(default_factory=new_uuid, primary_key=True, sa_type=String(36))
    shop_id: int = Field(foreign_key="shop.id", ondelete="CASCADE")
    email: str | None = Field(default=None, sa_type=String(320))  # lower-cased
    phone: str | None = Field(default=None, sa_type=String(20))  # E.164
    name: str | None = Field(default=None, sa_type=String(255))
    locale: str | None = Field(default=None, sa_type=String(35))
    country: str | None = Field(default=None, sa_type=String(2))
    accepts_marketing: bool = Field(default=False)
    shopify_customer_id: str | None = Field(default=None, sa_type=String(64))
    unsubscribed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = created_at_field()
    updated_at: datetime = created_at_field()


class Intent(TableModel, table=True):
    __table_args__ = (
        # One pending intent per shop, variant, market, channel and address (the contact given in
        # the signup), enforced by the database: a repeat returns it, whoever's customer it is filed under.
        Index(
            "uq_intent_pending_contact",
            "shop_id",
            "shopify_variant_id",
            text("coalesce(shopify_market_id, 0)"),
            "channel",
            "contact_key",
            unique=True,
            sqlite_where=text("status = 'pending'"),
            postgresql_where=text("status = 'pending'"),
        ),
        # A push signup without a customer id finds its customer through the subscription's earlier signups.
        Index("ix_intent_contact", "shop_id", "contact_key"),
        # Restock decisions walk one variant's pending intents, oldest first.
        Index("ix_intent_restock", "shop_id", "shopify_variant_id", "status", "id"),
        # The dashboard's figures over a window (admin/stats.py).
        Index("ix_intent_shop_created", "shop_id", "created_at"),
        Index("ix_intent_shop_notified", "shop_id", "notified_at"),
        # "Waiting now" and the products in demand: index-only counts of pending signups (migration 0010).
        Index(
            "ix_intent_pending_variant",
            "shop_id",
            "status",
            "shopify_variant_id",
            "quantity",
            sqlite_where=text("status = 'pending'"),
            postgresql_where=text("status = 'pending'"),
        ),
    )
    id: int | None = Field(
        default=None, sa_column=Column(BigId, primary_key=True, autoincrement=True)
    )
    shop_id: int = Field(foreign_key="shop.id", ondelete="CASCADE")
    customer_id: str = Field(
        foreign_key="customer.id", ondelete="CASCADE", sa_type=String(36), index=True
    )
    channel: str = Field(sa_type=String(8))
    email: str | None = Field(default=None, sa_type=String(320))
    phone: str | None = Field(default=None, sa_type=String(20))
    push_subscription: str | None = Field(
        default=None, sa_type=Text
    )  # JSON; a capability, never returned
    contact_key: str | None = Field(
        default=None, sa_type=String(64)
    )  # signup_contacts.contact_key(channel, address)
    quantity: int = Field(default=1)
    source: str = Field(default=IntentSource.api.value, sa_type=String(16))
    status: str = Field(default=IntentStatus.pending.value, sa_type=String(16))
    shopify_variant_id: int = Field(sa_type=BigInteger)
    shopify_product_id: int = Field(sa_type=BigInteger)
    shopify_market_id: int | None = Field(default=None, sa_type=BigInteger)
    shopify_inventory_item_id: int | None = Field(default=None, sa_type=BigInteger)
    product_title: str | None = Field(default=None, sa_type=String(255))
    variant_title: str | None = Field(default=None, sa_type=String(255))
    variant_count: int | None = Field(default=None)
    vendor: str | None = Field(default=None, sa_type=String(255))
    sku: str | None = Field(default=None, sa_type=String(255))
    optin_confirmed: bool = Field(default=True)
    notified_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    resent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)  # alerted a second time
    unsubscribed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    blocked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    sent_notifications_count: int = Field(default=0)
    # Marketing consent as given in this signup (a JSON true), when, and through which door (source).
    accepts_marketing: bool = Field(default=False)
    consent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = created_at_field()
    updated_at: datetime = created_at_field()


class DeliveryState(StrEnum):
    applied = "applied"  # its topic's writes are stored (in the request, or by the worker)
    pending = (
        "pending"  # recorded with its payload; the worker applies it (inventory_levels/update)
    )
    skipped = "skipped"  # nothing to apply: unknown shop, or no usable item and location
    failed = "failed"  # could not be applied (logged); kept with its payload, never retried


class WebhookDelivery(TableModel, table=True):
    """Every webhook delivery we accepted; the unique keys make a re-delivery a no-op."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (
        # The worker's queue: only deliveries still to apply are in it.
        Index(
            "ix_webhook_delivery_pending",
            "id",
            sqlite_where=text("state = 'pending'"),
            postgresql_where=text("state = 'pending'"),
        ),
    )
    id: int | None = Field(
        default=None, sa_column=Column(BigId, primary_key=True, autoincrement=True)
    )
    shop_domain: str = Field(sa_type=String(255))
    topic: str = Field(sa_type=String(64))
    webhook_id: str = Field(sa_type=String(128), unique=True)
    event_id: str | None = Field(default=None, sa_type=String(128), unique=True)
    triggered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    received_at: datetime = created_at_field()
    state: str | None = Field(
        default=None, sa_type=String(16)
    )  # DeliveryState; None: recorded before 0004
    payload: str | None = Field(
        default=None, sa_type=Text
    )  # the raw body, while pending (or failed/skipped)


class OAuthState(TableModel, table=True):
    """An install in flight: the state nonce (hashed), usable once, until it expires."""

    __tablename__ = "oauth_state"
    nonce_hash: str = Field(primary_key=True, sa_type=String(64))
    shop: str = Field(sa_type=String(255))
    expires_at: datetime = Field(sa_type=UTCDateTime)


class Variant(TableModel, table=True):
    """The shop's variants as we last saw them (products/update, Admin API), and their stock."""

    __table_args__ = (
        UniqueConstraint("shop_id", "shopify_variant_id", name="uq_variant_shop_variant"),
        Index("ix_variant_item", "shop_id", "inventory_item_id"),
    )
    id: int | None = Field(
        default=None, sa_column=Column(BigId, primary_key=True, autoincrement=True)
    )
    shop_id: int = Field(foreign_key="shop.id", ondelete="CASCADE")
    shopify_variant_id: int = Field(sa_type=BigInteger)
    shopify_product_id: int = Field(sa_type=BigInteger)
    inventory_item_id: int | None = Field(default=None, sa_type=BigInteger)
    product_title: str | None = Field(default=None, sa_type=String(255))
    variant_title: str | None = Field(default=None, sa_type=String(255))
    sku: str | None = Field(default=None, sa_type=String(255))
    price: str | None = Field(default=None, sa_type=String(32))
    currency: str | None = Field(default=None, sa_type=String(3))
    handle: str | None = Field(default=None, sa_type=String(255))
    image_url: str | None = Field(default=None, sa_type=Text)
    inventory_quantity: int | None = Field(default=None)  # as products/update last reported it
    sellable: int | None = Field(default=None)  # sum of available over locations, as last decided
    levels_synced_at: datetime | None = Field(
        default=None, sa_type=UTCDateTime
    )  # all locations read from the API
    restocked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # The product is active and on the Online Store (products/update, the stock reads); None: not
    # known yet, which counts as published.
    published: bool | None = Field(default=None)
    # JSON: the stock each audience had when the app last decided on it (stock_scope.py).
    decided_stock: str | None = Field(default=None, sa_type=Text)
    updated_at: datetime = created_at_field()


class InventoryLevel(TableModel, table=True):
    """`available` at one location, with Shopify's updated_at so late deliveries never win."""

    __tablename__ = "inventory_level"
    shop_id: int = Field(foreign_key="shop.id", ondelete="CASCADE", primary_key=True)
    inventory_item_id: int = Field(sa_type=BigInteger, primary_key=True)
    location_id: int = Field(sa_type=BigInteger, primary_key=True)
    available: int | None = Field(default=None)
    updated_at: datetime = Field(sa_type=UTCDateTime)


class StatsDay(TableModel, table=True):
    """The dashboard's figures of one closed UTC day of a shop (admin/kept_days.py), valid while
    `epoch` is the shop's `stats_epoch`. Revenue in ten-thousandths (exact on SQLite too);
    `currencies` is JSON `{currency: conversions}` of the conversions whose currency is known."""

    __tablename__ = "stats_day"
    shop_id: int = Field(foreign_key="shop.id", ondelete="CASCADE", primary_key=True)
    day: date = Field(primary_key=True)
    epoch: int
    signups: int
    alerts: int
    conversions: int
    revenue_e4: int = Field(sa_type=BigInteger)
    currencies: str = Field(sa_type=Text)


class MarketLocation(TableModel, table=True):
    """A location that serves a market (it ships to one of the market's countries), as read from
    Shopify's markets and delivery profiles (stock_scope.py)."""

    __tablename__ = "market_location"
    shop_id: int = Field(foreign_key="shop.id", ondelete="CASCADE", primary_key=True)
    market_id: int = Field(sa_type=BigInteger, primary_key=True)
    location_id: int = Field(sa_type=BigInteger, primary_key=True)  # 0: no location serves it
    market_name: str | None = Field(default=None, sa_type=String(255))


class Location(TableModel, table=True):
    """The shop's locations by name, as the Admin API last named them with their stock."""

    shop_id: int = Field(foreign_key="shop.id", ondelete="CASCADE", primary_key=True)
    location_id: int = Field(sa_type=BigInteger, primary_key=True)
    name: str = Field(sa_type=String(255))
    updated_at: datetime = Field(sa_type=UTCDateTime)


class Job(TableModel, table=True):
    """Durable work for the workers. At most one pending job per (kind, key)."""

    __table_args__ = (
        Index(
            "uq_job_pending",
            "kind",
            "key",
            unique=True,
            sqlite_where=text("status = 'pending'"),
            postgresql_where=text("status = 'pending'"),
        ),
        Index("ix_job_due", "status", "run_at"),
    )
    id: int | None = Field(
        default=None, sa_column=Column(BigId, primary_key=True, autoincrement=True)
    )
    kind: str = Field(sa_type=String(16))
    key: str = Field(sa_type=String(128))
    shop_id: int | None = Field(default=None, foreign_key="shop.id", ondelete="CASCADE")
    payload: str = Field(default="{}", sa_type=Text)
    status: str = Field(default=JobStatus.pending.value, sa_type=String(16))
    run_at: datetime = created_at_field()
    attempts: int = Field(default=0)
    locked_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    locked_by: str | None = Field(default=None, sa_type=String(64))
    last_error: str | None = Field(default=None, sa_type=Text)
    created_at: datetime = created_at_field()
    updated_at: datetime = created_at_field()


class RestockEvent(TableModel, table=True):
    """One decision: stock went from before to after, so `chosen` signups were picked."""

    __tablename__ = "restock_event"
    id: int | None = Field(
        default=None, sa_column=Column(BigId, primary_key=True, autoincrement=True)
    )
    shop_id: int = Field(foreign_key="shop.id", ondelete="CASCADE", index=True)
    shopify_variant_id: int = Field(sa_type=BigInteger)
    stock_before: int | None = Field(default=None)
    stock_after: int = Field(default=0)
    policy: str = Field(sa_type=String(255))
    batch_number: int = Field(default=1)
    chosen: int = Field(default=0)
    trigger: str = Field(sa_type=String(16))  # webhook | reconcile | batch
    waiting: int | None = Field(default=None)  # signups waiting when it was decided
    batch_size: int | None = Field(default=None)  # the most one batch alerts (None: everyone)
    # the locations holding the stock, most first (comma-separated ids, at most LOCATIONS_KEPT)
    location_ids: str | None = Field(default=None, sa_type=String(255))
    # when the webhook behind it reached the app (None: found by reconciliation, a later batch, by
    # hand); created_at is when it was decided, each notification's sent_at when it went out
    received_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    sms_held: int | None = Field(default=None)  # SMS held by the shop's cap per restock
    created_at: datetime = created_at_field()


class NotificationKind(StrEnum):
    alert = "alert"  # the variant is back: written with the restock decision
    optin = "optin"  # "confirm your signup" (double opt-in): written with the signup
    reminder = "reminder"  # still in stock and not bought, days after the alert (reminders.py)


class Notification(TableModel, table=True):
    """The outbox: one row per message, written with what caused it (a restock decision, or a
    signup awaiting confirmation), sent after."""

    __table_args__ = (
        UniqueConstraint("intent_id", "restock_event_id", name="uq_notification_intent_event"),
        Index("ix_notification_due", "status", "next_attempt_at"),
        # the fair claim: the shops with messages waiting, and each one's oldest (attempts.claim)
        Index("ix_notification_pending_shop", "status", "shop_id", "id"),
        Index(
            "ix_notification_shop_kind_status_sent", "shop_id", "kind", "status", "sent_at"
        ),  # alerts sent per day
    )
    id: int | None = Field(
        default=None, sa_column=Column(BigId, primary_key=True, autoincrement=True)
    )
    shop_id: int = Field(foreign_key="shop.id", ondelete="CASCADE")
    intent_id: int = Field(sa_type=BigInteger, foreign_key="intent.id", ondelete="CASCADE")
    restock_event_id: int | None = Field(
        default=None,
        sa_type=BigInteger,
        foreign_key="restock_event.id",
        ondelete="CASCADE",
        index=True,
    )  # None for an opt-in confirmation
    kind: str = Field(default=NotificationKind.alert.value, sa_type=String(8))
    # A second alert to a shopper alerted before who did not buy (resend_on_restock)
    resend: bool = Field(default=False, sa_column_kwargs={"server_default": sa_false()})
    reminder_stage: int | None = Field(default=None, sa_type=SmallInteger)  # 1 or 2 (reminders)
    follows_id: int | None = Field(default=None, sa_type=BigInteger)  # a reminder's alert
    channel: str = Field(sa_type=String(8))
    status: str = Field(default=NotificationStatus.pending.value, sa_type=String(16))
    attempts: int = Field(default=0)
    next_attempt_at: datetime = created_at_field()
    locked_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    locked_by: str | None = Field(default=None, sa_type=String(64))
    provider_id: str | None = Field(default=None, sa_type=String(255))
    last_error: str | None = Field(default=None, sa_type=Text)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = created_at_field()
    updated_at: datetime = created_at_field()


class SendAttempt(TableModel, table=True):
    """Every attempt to send a notification, successful or not."""

    __tablename__ = "send_attempt"
    id: int | None = Field(
        default=None, sa_column=Column(BigId, primary_key=True, autoincrement=True)
    )
    notification_id: int = Field(
        sa_type=BigInteger, foreign_key="notification.id", ondelete="CASCADE", index=True
    )
    attempt: int
    outcome: str = Field(sa_type=String(16))  # sent | retry | failed | throttled
    provider_id: str | None = Field(default=None, sa_type=String(255))
    error: str | None = Field(default=None, sa_type=Text)
    worker: str | None = Field(default=None, sa_type=String(64))
    at: datetime = created_at_field()


class ChannelPace(TableModel, table=True):
    """A channel's send rate across every worker (notify/pace.py): the next free send slot, and
    how long the provider asked us to pause."""

    __tablename__ = "channel_pace"
    channel: str = Field(sa_type=String(16), primary_key=True)
    next_slot_at: datetime = Field(sa_type=UTCDateTime)
    paused_until: datetime | None = Field(default=None, sa_type=UTCDateTime)


class RateLimitCounter(TableModel, table=True):
    """A fixed window's count for one signup limit key (an HMAC: no address in clear)."""

    __tablename__ = "rate_limit_counter"
    key: str = Field(primary_key=True, sa_type=String(64))
    count: int = Field(default=0)
    expires_at: float = Field(index=True)  # epoch seconds: what `limits` reads and writes


class Conversion(TableModel, table=True):
    """An order line attributed to an alert: the alerted shopper bought the alerted variant within
    CONVERSION_WINDOW_DAYS after it was sent. One row per order line, so a redelivered
    `orders/create` counts once. Holds no contact: the shop's figures survive a redaction."""

    __table_args__ = (
        UniqueConstraint("shop_id", "order_id", "line_item_id", name="uq_conversion_line"),
        Index("ix_conversion_shop_ordered", "shop_id", "ordered_at"),
    )
    id: int | None = Field(
        default=None, sa_column=Column(BigId, primary_key=True, autoincrement=True)
    )
    shop_id: int = Field(foreign_key="shop.id", ondelete="CASCADE")
    notification_id: int | None = Field(
        default=None,
        sa_column=Column(
            BigInteger,
            ForeignKey("notification.id", ondelete="SET NULL"),
            nullable=True,
            index=True,
        ),
    )
    shopify_variant_id: int = Field(sa_type=BigInteger)
    order_id: int = Field(sa_type=BigInteger)
    line_item_id: int = Field(sa_type=BigInteger)
    quantity: int = Field(default=1)
    amount: str = Field(
        sa_type=Numeric(18, 4, asdecimal=False)
    )  # line price x quantity, in `currency`
    currency: str | None = Field(default=None, sa_type=String(3))
    ordered_at: datetime = Field(sa_type=UTCDateTime)
    created_at: datetime = created_at_field()


class DemandAlert(TableModel, table=True):
    """The merchant was told (emailed) that a variant's pending signups reached the shop's
    high_demand_threshold: once per variant until it is restocked (the restock deletes the row)."""

    __tablename__ = "demand_alert"
    shop_id: int = Field(foreign_key="shop.id", ondelete="CASCADE", primary_key=True)
    shopify_variant_id: int = Field(sa_type=BigInteger, primary_key=True)
    pending: int = Field(default=0)  # signups waiting when it was raised
    sent_at: datetime | None = Field(
        default=None, sa_type=UTCDateTime
    )  # None: the email is still queued
    created_at: datetime = created_at_field()


class DataRequestStatus(StrEnum):
    pending = "pending"  # received; the worker assembles it
    ready = "ready"  # `payload` holds the customer's data for the merchant to download


class DataRequest(TableModel, table=True):
    """`customers/data_request`: what we hold on one customer of a shop, assembled by the worker
    for the merchant (who alone may download it), who is emailed when it is ready. A later
    `customers/redact` of the same customer deletes it."""

    __tablename__ = "data_request"
    id: int | None = Field(
        default=None, sa_column=Column(BigId, primary_key=True, autoincrement=True)
    )
    shop_id: int = Field(foreign_key="shop.id", ondelete="CASCADE", index=True)
    shopify_request_id: int | None = Field(default=None, sa_type=BigInteger)
    email: str | None = Field(default=None, sa_type=String(320))
    phone: str | None = Field(default=None, sa_type=String(20))
    shopify_customer_id: str | None = Field(default=None, sa_type=String(64))
    status: str = Field(default=DataRequestStatus.pending.value, sa_type=String(16))
    payload: str | None = Field(default=None, sa_type=Text)  # JSON, once ready
    requested_at: datetime = created_at_field()
    ready_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    merchant_notified_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class FlowTrigger(TableModel, table=True):
    """Whether the shop has an enabled Shopify Flow workflow that starts with one of the app's
    triggers, as Flow's lifecycle callback last said (flow.py). `changed_at` is the callback's
    timestamp: an older callback arriving late changes nothing."""

    __tablename__ = "flow_trigger"
    shop_id: int = Field(foreign_key="shop.id", ondelete="CASCADE", primary_key=True)
    handle: str = Field(sa_type=String(64), primary_key=True)
    enabled: bool = Field(default=False)
    changed_at: datetime = Field(sa_type=UTCDateTime)


class EventTarget(StrEnum):
    webhook = "webhook"  # the merchant's webhook_url
    flow = "flow"  # Shopify Flow, through flowTriggerReceive


class EventDeliveryStatus(StrEnum):
    pending = "pending"  # a job will (re)try it
    delivered = "delivered"
    failed = "failed"  # gave up: refused (4xx, a userError) or out of attempts


class EventDelivery(TableModel, table=True):
    """One event for one target (events_out.py), written in the transaction of what it reports,
    and the merchant's delivery log. `body` is what is sent, kept only until it is delivered or
    given up on (it may hold a shopper's email or phone)."""

    __tablename__ = "event_delivery"
    __table_args__ = (
        UniqueConstraint("event_id", "target", name="uq_event_delivery_target"),
        Index("ix_event_delivery_shop", "shop_id", "id"),
    )
    id: int | None = Field(
        default=None, sa_column=Column(BigId, primary_key=True, autoincrement=True)
    )
    shop_id: int = Field(foreign_key="shop.id", ondelete="CASCADE")
    event_id: str = Field(sa_type=String(36))
    topic: str = Field(sa_type=String(32))
    target: str = Field(sa_type=String(8))
    body: str | None = Field(default=None, sa_type=Text)
    status: str = Field(default=EventDeliveryStatus.pending.value, sa_type=String(16))
    attempts: int = Field(default=0)
    status_code: int | None = Field(default=None)
    last_error: str | None = Field(default=None, sa_type=String(255))
    created_at: datetime = created_at_field()
    attempted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
