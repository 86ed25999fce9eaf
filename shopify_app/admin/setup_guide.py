"""The dashboard's setup guide: the four things a new shop does before alerts reach anyone, each
read from what is stored, shown until every one is done.

1. the Notify me block on the product page (seen when the storefront first fetched its config
   through the app proxy: `mark_block_seen`), with a deep link that adds it in the theme editor;
2. the channels the merchant has switched on can send (the settings a missing one needs);
3. a test alert to the merchant's own address (`mark_test_alert_sent`, by the worker's job);
4. the first real signup (not one the merchant made through the merchant API)."""

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlencode

from sqlalchemy import Connection, select, update

from ..config import Settings
from ..models import Intent, IntentSource, Shop
from ..notify.channels import CHANNELS, missing_settings, sendable_channels

shops, intents = Shop.__table__, Intent.__table__
BLOCK_HANDLE = "notify-me"  # extensions/back-in-stock/blocks/notify-me.liquid
CHANNEL_LABELS = {"email": "Email", "sms": "SMS", "push": "Browser push"}


@dataclass(frozen=True)
class ChannelState:
    name: str
    label: str
    on: bool  # the merchant's setting
    can_send: bool  # this deployment's (the operator's settings)
    missing: list[str]  # the settings that would let it send
    to_files: bool  # development: it writes to outbox/ instead

    @property
    def ready(self) -> bool:
        return not self.on or self.can_send


@dataclass(frozen=True)
class Step:
    key: str
    title: str
    done: bool


@dataclass(frozen=True)
class Guide:
    steps: list[Step]
    channels: list[ChannelState]
    theme_editor_link: str
    test_alert_sent_at: datetime | None

    @property
    def done(self) -> int:
        return sum(step.done for step in self.steps)

    @property
    def complete(self) -> bool:
        return self.done == len(self.steps)

    @property
    def email(self) -> ChannelState:
        return next(c for c in self.channels if c.name == "email")

    def step(self, key: str) -> Step:
        return next(s for s in self.steps if s.key == key)


def theme_editor_link(shop_domain: str, api_key: str) -> str:
    """Shopify's deep link that opens the live theme's product template with this app's block
    being added to its main section (PLATFORM.md: theme editor deep links)."""
    query = urlencode(
        {
            "template": "product",
            "addAppBlockId": f"{api_key}/{BLOCK_HANDLE}",
            "target": "mainSection",
        }
    )
    return f"https://{shop_domain}/admin/themes/current/editor?{query}"


def channel_states(settings: Settings, switched_on: dict[str, bool]) -> list[ChannelState]:
    can, missing = sendable_channels(settings), missing_settings(settings)
    return [
        ChannelState(
            name=name,
            label=CHANNEL_LABELS[name],
            on=switched_on[name],
            can_send=name in can,
            missing=missing[name],
            to_files=name in can and bool(missing[name]),
        )
        for name in CHANNELS
    ]


def read(connection: Connection, settings: Settings, shop_id: int, shop_domain: str) -> Guide:
    shop = connection.execute(
        select(
            shops.c.block_seen_at,
            shops.c.test_alert_sent_at,
            shops.c.channel_email,
            shops.c.channel_sms,
            shops.c.channel_push,
        ).where(shops.c.id == shop_id)
    ).one()
    first_signup = connection.execute(
        select(intents.c.id)
        .where(intents.c.shop_id == shop_id, intents.c.source != IntentSource.merchant.value)
        .limit(1)
    ).first()
    channels = channel_states(
        settings,
        {"email": shop.channel_email, "sms": shop.channel_sms, "push": shop.channel_push},
    )
    steps = [
        Step(
            "block", "Add the Notify me block to your product page", shop.block_seen_at is not None
        ),
        Step(
            "channels",
            "Check how alerts reach shoppers",
            all(c.ready for c in channels) and any(c.on and c.can_send for c in channels),
        ),
        Step("test", "Send yourself a test alert", shop.test_alert_sent_at is not None),
        Step("signup", "Get your first signup", first_signup is not None),
    ]
    return Guide(
        steps=steps,
        channels=channels,
        theme_editor_link=theme_editor_link(shop_domain, settings.SHOPIFY_API_KEY),
        test_alert_sent_at=shop.test_alert_sent_at,
    )


def mark_block_seen(connection: Connection, shop_domain: str, now: datetime) -> None:
    """The storefront fetched the block's config: the block is on a page (first time only)."""
    connection.execute(
        update(shops)
        .where(shops.c.domain == shop_domain, shops.c.block_seen_at.is_(None))
        .values(block_seen_at=now)
    )


def mark_test_alert_sent(connection: Connection, shop_id: int, now: datetime) -> None:
    connection.execute(update(shops).where(shops.c.id == shop_id).values(test_alert_sent_at=now))
