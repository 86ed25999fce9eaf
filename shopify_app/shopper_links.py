"""What the links in messages to shoppers do (the pages are routes/links.py's): find the signup
a link names, stop it (unsubscribe) or confirm it (double opt-in). A link that names no signup, or
has expired, is a shopper's PageError in their browser's language."""

from dataclasses import dataclass
from datetime import datetime
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any
from urllib.parse import parse_qsl, quote

from itsdangerous import SignatureExpired
from sqlalchemy import Connection, Engine, and_, func, or_, select, update

from . import shopper_pages
from .config import Settings
from .crypto import unsign
from .errors import PageError
from .models import (
    NOTIFICATION_NOT_CLAIMED,
    Customer,
    Intent,
    IntentStatus,
    Notification,
    NotificationStatus,
    Shop,
    Variant,
    utcnow,
)
from .notify.render import UNSUBSCRIBE_PURPOSE, OptinLink, read_optin_token, shop_name

TEN_YEARS = 10 * 365 * 24 * 3600
intents, customers, notifications = Intent.__table__, Customer.__table__, Notification.__table__
shops, variants = Shop.__table__, Variant.__table__


@dataclass(frozen=True)
class Signup:
    id: int
    shop_id: int
    channel: str
    contact_key: str | None
    product: str | None
    shop: str  # Shopify's name for the shop, else one made from its domain
    locale: str | None
    shop_url: str  # the storefront
    product_url: str | None  # the product's page, where the cache knows its handle


def _find(connection: Connection, intent_id: int) -> Signup | None:
    row = connection.execute(
        select(
            intents.c.id,
            intents.c.shop_id,
            intents.c.channel,
            intents.c.contact_key,
            shops.c.domain,
            shops.c.name.label("shop_name"),
            intents.c.shopify_variant_id,
            variants.c.handle,
            customers.c.locale,
            func.coalesce(variants.c.product_title, intents.c.product_title).label("product"),
        )
        .join(shops, shops.c.id == intents.c.shop_id)
        .outerjoin(customers, customers.c.id == intents.c.customer_id)
        .outerjoin(
            variants,
            and_(
                variants.c.shop_id == intents.c.shop_id,
                variants.c.shopify_variant_id == intents.c.shopify_variant_id,
            ),
        )
        .where(intents.c.id == intent_id)
    ).first()
    if row is None:
        return None
    return Signup(
        id=row.id,
        shop_id=row.shop_id,
        channel=row.channel,
        contact_key=row.contact_key,
        product=row.product,
        shop=row.shop_name or shop_name(row.domain),
        locale=row.locale,
        shop_url=f"https://{row.domain}/",
        product_url=(
            f"https://{row.domain}/products/{quote(row.handle)}?variant={row.shopify_variant_id}"
            if row.handle
            else None
        ),
    )


def _same_contact(signup: Signup):
    """The shop's signups on the signup's channel at its address (what the shopper controls)."""
    return and_(
        intents.c.shop_id == signup.shop_id,
        intents.c.channel == signup.channel,
        intents.c.contact_key == signup.contact_key,
    )


def unsubscribe(connection: Connection, signup: Signup, *, everything: bool) -> int:
    """Stop the signup (or every signup of the shop at the same address); nothing waiting to be
    sent to them goes out. Returns how many signups it stopped."""
    now = utcnow()
    if everything and signup.contact_key:
        which = _same_contact(signup)
    else:
        which = intents.c.id == signup.id
    ids = select(intents.c.id).where(which).scalar_subquery()
    stopped = connection.execute(
        update(intents)
        .where(which, intents.c.status == IntentStatus.pending.value)
        .values(status=IntentStatus.unsubscribed.value, unsubscribed_at=now, updated_at=now)
    ).rowcount
    connection.execute(
        update(intents)
        .where(which, intents.c.unsubscribed_at.is_(None))
        .values(unsubscribed_at=now, updated_at=now)
    )
    connection.execute(
        update(notifications)
        .where(
            notifications.c.intent_id.in_(ids),
            notifications.c.status.in_(NOTIFICATION_NOT_CLAIMED),
        )
        .values(
            status=NotificationStatus.cancelled.value, last_error="unsubscribed", updated_at=now
        )
    )
    return stopped


def _visitor_page(
    language: str, status: int, title: str, message: str, signup: Signup | None = None
) -> PageError:
    """A page for someone whose signup we do not know (in their browser's language), or whose link
    no longer works (naming the shop and linking back to it)."""
    locale, t = shopper_pages.strings(language[:2])
    return PageError(
        status,
        t[title],
        t[message],
        for_shopper=True,
        locale=locale,
        shop=signup.shop if signup else None,
        shop_url=signup.shop_url if signup else None,
        product_url=signup.product_url if signup else None,
    )


def _signup(engine: Engine, intent_id: int | None, language: str) -> Signup:
    signup = None
    if intent_id:
        with engine.connect() as connection:
            signup = _find(connection, intent_id)
    if signup is None:
        raise _visitor_page(language, 404, "link_invalid_title", "link_invalid")
    return signup


def unsubscribe_signup(engine: Engine, settings: Settings, token: str, language: str) -> Signup:
    """The signup an unsubscribe link names (PageError 404 if none: a bad or unknown token)."""
    value: Any = unsign(settings.secret_keys, UNSUBSCRIBE_PURPOSE, token, TEN_YEARS)
    intent_id = value if isinstance(value, int) and not isinstance(value, bool) else None
    return _signup(engine, intent_id, language)


def unsubscribe_now(engine: Engine, signup: Signup, everything: bool) -> None:
    with engine.begin() as connection:
        unsubscribe(connection, signup, everything=everything)


def unsubscribe_form(body: bytes, content_type: str) -> dict[str, str]:
    """The POST's fields: the page's form (urlencoded), or a mail client's one-click POST, which
    RFC 8058 says SHOULD be multipart/form-data and MAY be urlencoded. Any other body is read as
    urlencoded, as it always was; a multipart body that does not parse has no fields."""
    if content_type.split(";", 1)[0].strip().lower() != "multipart/form-data":
        return dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    # The standard library's MIME parser reads multipart/form-data (RFC 7578 is MIME multipart;
    # PEP 594 names it as the replacement of the removed cgi module for this).
    head = b"Content-Type: " + content_type.encode("latin-1", "replace") + b"\r\n\r\n"
    message = BytesParser(policy=HTTP).parsebytes(head + body)
    if not message.is_multipart():
        return {}
    fields: dict[str, str] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if isinstance(name, str) and not part.is_multipart() and part.get_filename() is None:
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)  # decoded, a part that is not multipart is bytes
            fields.setdefault(name, payload.decode("utf-8", "replace"))
    return fields


def optin_signup(
    engine: Engine, settings: Settings, token: str, language: str
) -> tuple[Signup, OptinLink]:
    """The signup an opt-in link names and the link (PageError 410 once expired, 404 if none)."""
    try:
        link = read_optin_token(settings.secret_keys, token, settings.OPTIN_TOKEN_TTL)
    except SignatureExpired:
        # Ours, only old: the page names the shop and leads back to the product where it can.
        old = read_optin_token(settings.secret_keys, token, TEN_YEARS)
        with engine.connect() as connection:
            known = _find(connection, old.intent_id) if old else None
        raise _visitor_page(
            language if known is None else (known.locale or language),
            410,
            "optin_expired_title",
            "optin_expired",
            known,
        ) from None
    signup = _signup(engine, link.intent_id if link else None, language)
    assert link is not None  # a link that names a signup was read
    return signup, link


def confirm(connection: Connection, signup: Signup, sent_at: datetime) -> int:
    """Confirm the signup, and every other unconfirmed one of the shop at the same address that was
    waiting when the link was sent (the one confirmation it got stood for them all); a signup made
    later gets a confirmation of its own. Returns how many it confirmed."""
    which = intents.c.id == signup.id
    if signup.contact_key:
        which = or_(which, and_(_same_contact(signup), intents.c.created_at <= sent_at))
    return connection.execute(
        update(intents)
        .where(
            which,
            intents.c.status == IntentStatus.pending.value,
            intents.c.optin_confirmed.is_(False),
        )
        .values(optin_confirmed=True, updated_at=utcnow())
    ).rowcount


def confirm_now(engine: Engine, signup: Signup, sent_at: datetime) -> None:
    with engine.begin() as connection:
        confirm(connection, signup, sent_at)
