"""Turning an alert into the message each channel sends: Jinja2 templates for email (HTML and
text), short localised strings for SMS and push. Locales fall back `fr-CA` → `fr` → `en`."""

import json
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

from itsdangerous import BadSignature, SignatureExpired
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import escape

from ..config import Settings
from ..crypto import Keys, signer
from ..money import format_money
from .base import OutgoingMessage

TEMPLATES = Path(__file__).resolve().parent.parent.parent / "templates"
DEFAULT_LOCALE = "en"
ACCENT = "#008060"  # the alert button's colour when the shop has not chosen one
UNSUBSCRIBE_PURPOSE = "unsubscribe"
OPTIN_PURPOSE = "optin"
SMS_LIMIT = 160
# The GSM 03.38 basic character set: an SMS of these characters fits 160 to a segment.
GSM7 = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
)


@dataclass(frozen=True)
class Alert:
    """Everything a message needs, loaded with the notification."""

    notification_id: int
    intent_id: int
    channel: str
    to: str
    shop_domain: str
    shopify_variant_id: int
    product_title: str | None
    variant_title: str | None = None
    price: str | None = None
    handle: str | None = None
    image_url: str | None = None
    locale: str | None = None
    customer_name: str | None = None
    kind: str = "alert"  # or "optin": the double opt-in confirmation
    sender_name: str | None = None  # the shop's settings: who the message is from,
    reply_to: str | None = None  # and where replies go (email)
    shop_name: str | None = None  # Shopify's name for the shop (shop_profile.py)
    currency: str | None = None  # the price's (the variant's, else the shop's)
    brand_logo_url: str | None = None  # the shop's settings: the email's logo and accent colour
    brand_color: str | None = None
    reminder_stage: int | None = None  # a reminder's stage, and the shop's reminders setting
    reminders: str | None = None


@lru_cache(maxsize=16)
def _strings(locale: str) -> dict[str, str]:
    return json.loads((TEMPLATES / "i18n" / f"{locale}.json").read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def available_locales() -> frozenset[str]:
    """The locales with strings (read once, like the strings: a deploy brings new ones)."""
    return frozenset(p.stem for p in (TEMPLATES / "i18n").glob("*.json"))


def pick_locale(locale: str | None) -> str:
    known = available_locales()
    for candidate in (
        (locale or "").replace("_", "-").lower(),
        (locale or "").split("-")[0].split("_")[0].lower(),
    ):
        if candidate in known:
            return candidate
    return DEFAULT_LOCALE


def unsubscribe_token(secret_key: str, intent_id: int) -> str:
    return signer(secret_key, UNSUBSCRIBE_PURPOSE).dumps(intent_id)


def optin_token(secret_key: str, intent_id: int, made_at: float | None = None) -> str:
    """The opt-in link's token: the signup, and when the link was made (milliseconds), which bounds
    the signups confirming it covers (shopper_links.py)."""
    made_at = time.time() if made_at is None else made_at
    return signer(secret_key, OPTIN_PURPOSE).dumps([intent_id, int(made_at * 1000)])


@dataclass(frozen=True)
class OptinLink:
    intent_id: int
    made_at: datetime  # just before the message carrying it was sent


def _is_id(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def read_optin_token(keys: Keys, token: str, max_age: int) -> OptinLink | None:
    """What an opt-in token says, or None if it is not one of ours; raises itsdangerous'
    SignatureExpired when it is older than max_age."""
    try:
        value, signed_at = signer(keys, OPTIN_PURPOSE).loads(
            token, max_age=max_age, return_timestamp=True
        )
    except SignatureExpired:
        raise
    except BadSignature:
        return None
    if _is_id(value):  # a link made before it carried its time: the signature's, in whole seconds
        return OptinLink(value, signed_at)
    if isinstance(value, list) and len(value) == 2 and _is_id(value[0]) and _is_id(value[1]):
        return OptinLink(value[0], datetime.fromtimestamp(value[1] / 1000, UTC))
    return None


def product_url(alert: Alert) -> str:
    if alert.handle:
        return f"https://{alert.shop_domain}/products/{quote(alert.handle)}?variant={alert.shopify_variant_id}"
    return f"https://{alert.shop_domain}/"


def shop_name(domain: str) -> str:
    """A name for a shop whose own name has not been read from Shopify yet."""
    return domain.removesuffix(".myshopify.com").replace("-", " ").title()


def _luminance(color: str) -> float:
    def channel(c: int) -> float:
        c8 = c / 255
        return c8 / 12.92 if c8 <= 0.03928 else ((c8 + 0.055) / 1.055) ** 2.4

    r, g, b = (int(color[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(a: str, b: str) -> float:
    """WCAG 2's contrast ratio of two #rrggbb colours (1 to 21)."""
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def button_colors(brand: str | None) -> tuple[str, str]:
    """The button's background (the shop's accent, else Shopify green) and the text colour that
    reads on it: white where white passes WCAG AA (4.5:1), else near-black."""
    background = brand or ACCENT
    return background, "#ffffff" if contrast(background, "#ffffff") >= 4.5 else "#202223"


def fit_sms(build, product: str) -> str:
    """The SMS from `build(product)`, shortening the product name to stay within 160 GSM-7
    characters where that is possible."""
    text = build(product)
    if len(text) <= SMS_LIMIT or not set(text) <= GSM7:
        return text
    room = len(product) - (len(text) - SMS_LIMIT) - 3
    return (
        build(product[: max(room, 8)].rstrip() + "...") if room > 0 else build(product[:8] + "...")
    )


def sms_segments(text: str) -> int:
    """How many segments a carrier bills for this SMS: 160 GSM-7 characters in one, 153 each when
    split; 70 UCS-2 characters (any character outside GSM-7), 67 each when split."""
    single, part = (SMS_LIMIT, 153) if set(text) <= GSM7 else (70, 67)
    return 1 if len(text) <= single else -(-len(text) // part)


def reminder_texts(alert: Alert, locale: str, t: dict[str, str]) -> dict[str, str]:
    """A reminder's texts in the shopper's language: the merchant's (the shop's `reminders`,
    notify/reminders.py) where set, else the app's own."""
    stages = json.loads(alert.reminders) if alert.reminders else []
    stage = alert.reminder_stage or 0
    own = stages[stage - 1]["texts"].get(locale, {}) if 1 <= stage <= len(stages) else {}
    return {
        "subject": own.get("subject") or t["reminder_subject"],
        "intro": own.get("intro") or t["reminder_intro"],
        "sms": own.get("sms") or t["reminder_sms"],
    }


def email_headers(alert: Alert, unsubscribe: str) -> dict[str, str]:
    headers = {
        "List-Unsubscribe": f"<{unsubscribe}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
    if alert.reply_to:
        headers["Reply-To"] = alert.reply_to
    return headers


# An email is rendered once for every shopper of an alert with these marks where each shopper's own
# values go (their name in the intro, their unsubscribe link), and each message swaps its own in.
# Random per process, so no product, shop or translated text can hold one.
_MARK = secrets.token_hex(8)
INTRO_MARK, NAME_MARK, UNSUBSCRIBE_MARK = (f"@@{_MARK}-{n}@@" for n in ("intro", "name", "unsub"))
SHARED_CACHE_SIZE = 1024  # alerts kept rendered (a restock's, per locale): emptied when full


@dataclass(frozen=True)
class Shared:
    """What every shopper of one alert (the same restock, shop settings, locale and kind) gets."""

    channel: str
    text: str  # the SMS, the push body, or the email's plain part (with the marks)
    subject: str | None = None  # email
    html: str | None = None  # email, with the marks
    intro: str = ""  # email: the intro with NAME_MARK for the shopper's name
    push_payload: Mapping[str, Any] | None = None


class Renderer:
    def __init__(self, settings: Settings, templates: Path = TEMPLATES):
        self.settings = settings
        self.env = Environment(
            loader=FileSystemLoader(templates),
            autoescape=select_autoescape(["html"]),
            undefined=StrictUndefined,
            trim_blocks=False,
        )
        self.html = self.env.get_template("email/back_in_stock.html")
        self.text = self.env.get_template("email/back_in_stock.txt")
        self.optin_html = self.env.get_template("email/optin.html")
        self.optin_text = self.env.get_template("email/optin.txt")
        self._shared: dict[Alert, Shared] = {}  # alert with no shopper's details -> its message

    def unsubscribe_url(self, intent_id: int) -> str:
        return f"{self.settings.APP_URL}/unsubscribe/{unsubscribe_token(self.settings.SECRET_KEY, intent_id)}"

    def optin_url(self, intent_id: int) -> str:
        return f"{self.settings.APP_URL}/optin/{optin_token(self.settings.SECRET_KEY, intent_id)}"

    def render(self, alert: Alert) -> OutgoingMessage:
        if alert.kind == "optin":
            return self.render_optin(alert)
        return self._personal(alert, self._shared_for(alert))

    def _shared_for(self, alert: Alert) -> "Shared":
        """The alert's message as every shopper of the same restock and locale gets it, rendered
        once: Jinja costs far more than the rest of a send."""
        key = replace(alert, notification_id=0, intent_id=0, to="", customer_name=None)
        shared = self._shared.get(key)
        if shared is None:
            if len(self._shared) >= SHARED_CACHE_SIZE:
                self._shared.clear()
            shared = self._shared[key] = self._render_shared(alert)
        return shared

    def _personal(self, alert: Alert, shared: "Shared") -> OutgoingMessage:
        """One shopper's message: the shared one with their address, name and unsubscribe link."""
        reference = f"n{alert.notification_id}"
        if shared.channel == "sms":
            return OutgoingMessage(
                channel="sms", to=alert.to, text=shared.text, reference=reference
            )
        if shared.channel == "push":
            return OutgoingMessage(
                channel="push",
                to=alert.to,
                text=shared.text,
                push_payload=dict(shared.push_payload or {}),
                reference=reference,
            )
        unsubscribe = self.unsubscribe_url(alert.intent_id)
        name_comma = f" {alert.customer_name}," if alert.customer_name else ","
        intro = shared.intro.replace(NAME_MARK, name_comma)
        # in the HTML part escaped as Jinja's autoescape escapes {{ intro }} and {{ unsubscribe_url }}
        html = (shared.html or "").replace(INTRO_MARK, escape(intro))
        return OutgoingMessage(
            channel="email",
            to=alert.to,
            subject=shared.subject,
            text=shared.text.replace(INTRO_MARK, intro).replace(UNSUBSCRIBE_MARK, unsubscribe),
            html=html.replace(UNSUBSCRIBE_MARK, escape(unsubscribe)),
            headers=email_headers(alert, unsubscribe),
            reference=reference,
            sender_name=alert.sender_name,
        )

    def _render_shared(self, alert: Alert) -> "Shared":
        locale = pick_locale(alert.locale)
        t = _strings(locale)
        if alert.kind == "reminder":
            own = reminder_texts(alert, locale, t)
            t = {
                **t,
                "heading": t["reminder_heading"],
                "subject": own["subject"],
                "intro": own["intro"],
                "sms": own["sms"],
                "push_body": t["reminder_push"],
            }
        product = alert.product_title or "Your item"
        product_full = f"{product} ({alert.variant_title})" if alert.variant_title else product
        url = product_url(alert)
        shop = alert.sender_name or alert.shop_name or shop_name(alert.shop_domain)
        if alert.channel == "sms":
            build = lambda p: t["sms"].format(shop=shop, product=p, url=url) + t["sms_stop"]  # noqa: E731
            return Shared(channel="sms", text=fit_sms(build, product_full))
        if alert.channel == "push":
            payload: dict[str, Any] = {
                "title": t["push_title"],
                "body": t["push_body"].format(product=product_full),
                "url": url,
                "image": alert.image_url,
                "tag": f"back-in-stock-{alert.shopify_variant_id}",
            }
            return Shared(channel="push", text=payload["body"], push_payload=payload)
        # The body names the shop as Shopify does; the sender name is only the From's.
        the_shop = alert.shop_name or shop_name(alert.shop_domain)
        button_bg, button_fg = button_colors(alert.brand_color)
        context: dict[str, Any] = {
            "t": t,
            "locale": locale,
            "subject": t["subject"].format(product=product_full, shop=the_shop),
            "intro": INTRO_MARK,
            "why": t["why"].format(shop=the_shop),
            "product": product_full,
            "product_title": product,
            "variant_title": alert.variant_title,
            "price": format_money(alert.price, alert.currency, locale),
            "image_url": alert.image_url,
            "shop_name": the_shop,
            "logo_url": alert.brand_logo_url,
            "button_bg": button_bg,
            "button_fg": button_fg,
            "product_url": url,
            "unsubscribe_url": UNSUBSCRIBE_MARK,
        }
        return Shared(
            channel="email",
            subject=context["subject"],
            text=self.text.render(context),
            html=self.html.render(context),
            intro=t["intro"].format(product=product_full, shop=the_shop, name_comma=NAME_MARK),
        )

    def render_optin(self, alert: Alert) -> OutgoingMessage:
        """ "Confirm your back-in-stock alert": a link to a page where one click confirms."""
        locale = pick_locale(alert.locale)
        t = _strings(locale)
        product = alert.product_title or t["your_item"]
        if alert.variant_title:
            product = f"{product} ({alert.variant_title})"
        the_shop = alert.shop_name or shop_name(alert.shop_domain)
        url, reference = self.optin_url(alert.intent_id), f"n{alert.notification_id}"
        if alert.channel == "sms":
            sms_shop = alert.sender_name or the_shop

            def build(p: str) -> str:
                return t["optin_sms"].format(shop=sms_shop, product=p, url=url) + t["sms_stop"]

            return OutgoingMessage(
                channel="sms", to=alert.to, text=fit_sms(build, product), reference=reference
            )
        shop = the_shop
        button_bg, button_fg = button_colors(alert.brand_color)
        unsubscribe = self.unsubscribe_url(alert.intent_id)
        context: dict[str, Any] = {
            "t": t,
            "locale": locale,
            "subject": t["optin_subject"].format(product=product),
            "intro": t["optin_intro"].format(product=product, shop=shop),
            "optin_url": url,
            "why": t["optin_why"].format(shop=shop),
            "shop_name": shop,
            "logo_url": alert.brand_logo_url,
            "button_bg": button_bg,
            "button_fg": button_fg,
            "unsubscribe_url": unsubscribe,
        }
        return OutgoingMessage(
            channel="email",
            to=alert.to,
            subject=context["subject"],
            text=self.optin_text.render(context),
            html=self.optin_html.render(context),
            headers=email_headers(alert, unsubscribe),
            reference=reference,
            sender_name=alert.sender_name,
        )
