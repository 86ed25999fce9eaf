"""Pages shoppers reach from messages; a GET or HEAD only asks (mail scanners follow links), a POST acts.

- `/unsubscribe/{token}`: stop this product, or everything from this shop at this address. A mail
  client's one-click unsubscribe (RFC 8058: a POST with `List-Unsubscribe=One-Click`) stops
  everything from the shop, whether multipart/form-data (as RFC 8058 prefers) or urlencoded.
- `/optin/{token}` (double opt-in): confirm the signup, so that it can be alerted. The link names
  one signup and when it was sent, and expires after `OPTIN_TOKEN_TTL`; it confirms every signup
  of the shop at the same address that was waiting for a confirmation then (an address gets one
  an hour, however many signups)."""

from dataclasses import dataclass
from datetime import datetime
from email.parser import BytesParser
from email.policy import HTTP
from urllib.parse import parse_qsl

from itsdangerous import SignatureExpired
from sqlalchemy import Connection, and_, func, or_, select, update
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .. import pages
from ..keys import unsign
from ..models import (
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
from ..notify.render import UNSUBSCRIBE_PURPOSE, OptinLink, read_optin_token, shop_name
from .responses import BodyTooLarge, read_body

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
    shop: str
    locale: str | None


def _intent_id(request: Request) -> int | None:
    settings = request.app.state.settings
    value = unsign(
        settings.secret_keys, UNSUBSCRIBE_PURPOSE, request.path_params["token"], TEN_YEARS
    )
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _find(connection: Connection, intent_id: int) -> Signup | None:
    row = connection.execute(
        select(
            intents.c.id,
            intents.c.shop_id,
            intents.c.channel,
            intents.c.contact_key,
            shops.c.domain,
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
        shop=shop_name(row.domain),
        locale=row.locale,
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


def _find_in_thread(engine, intent_id: int) -> Signup | None:
    with engine.connect() as connection:
        return _find(connection, intent_id)


def _unsubscribe_in_thread(engine, signup: Signup, everything: bool) -> None:
    with engine.begin() as connection:
        unsubscribe(connection, signup, everything=everything)


def _visitor_strings(request: Request) -> dict[str, str]:
    """Strings for someone whose signup we do not know: their browser's language."""
    return pages.strings(request.headers.get("accept-language", "")[:2])[1]


async def _signup_or_page(request: Request, intent_id: int | None) -> Signup | Response:
    signup = (
        await run_in_threadpool(_find_in_thread, request.app.state.engine, intent_id)
        if intent_id
        else None
    )
    if signup is None:
        t = _visitor_strings(request)
        return pages.message(None, t["link_invalid_title"], t["link_invalid"], status=404)
    return signup


def _form(body: bytes, content_type: str) -> dict[str, str]:
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


async def unsubscribe_page(request: Request) -> Response:
    engine = request.app.state.engine
    signup = await _signup_or_page(request, _intent_id(request))
    if not isinstance(signup, Signup):
        return signup
    _, t = pages.strings(signup.locale)
    product = signup.product or t["your_item"]
    if request.method != "POST":  # GET, and HEAD: a scanner's HEAD is answered as its GET
        return pages.render(
            "unsubscribe.html",
            signup.locale,
            title=t["unsubscribe_title"],
            shop=signup.shop,
            product=product,
        )
    try:
        form = _form(await read_body(request, 4096), request.headers.get("content-type", ""))
    except BodyTooLarge:
        form = {}
    everything = form.get("scope") == "shop" or form.get("List-Unsubscribe") == "One-Click"
    await run_in_threadpool(_unsubscribe_in_thread, engine, signup, everything)
    done = (
        t["unsubscribed_shop"].format(shop=signup.shop)
        if everything
        else t["unsubscribed_product"].format(product=product)
    )
    return pages.message(
        signup.locale, t["unsubscribed_title"], done, shop=signup.shop, note=t["unsubscribed_note"]
    )


def _optin_link(request: Request) -> OptinLink | SignatureExpired | None:
    settings = request.app.state.settings
    try:
        return read_optin_token(
            settings.secret_keys, request.path_params["token"], settings.OPTIN_TOKEN_TTL
        )
    except SignatureExpired as expired:
        return expired


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


def _confirm_in_thread(engine, signup: Signup, sent_at: datetime) -> None:
    with engine.begin() as connection:
        confirm(connection, signup, sent_at)


async def optin_page(request: Request) -> Response:
    link = _optin_link(request)
    if isinstance(link, SignatureExpired):
        t = _visitor_strings(request)
        return pages.message(None, t["optin_expired_title"], t["optin_expired"], status=410)
    signup = await _signup_or_page(request, link.intent_id if link else None)
    if not isinstance(signup, Signup):
        return signup
    _, t = pages.strings(signup.locale)
    product = signup.product or t["your_item"]
    if request.method != "POST":  # GET, and HEAD: a scanner's HEAD is answered as its GET
        return pages.render(
            "optin.html", signup.locale, title=t["optin_title"], shop=signup.shop, product=product
        )
    assert link is not None  # without a link there is no signup (404 above)
    await run_in_threadpool(_confirm_in_thread, request.app.state.engine, signup, link.made_at)
    return pages.message(
        signup.locale,
        t["optin_done_title"],
        t["optin_done"].format(product=product),
        shop=signup.shop,
    )


routes = [
    Route("/unsubscribe/{token}", unsubscribe_page, methods=["GET", "POST"]),
    Route("/optin/{token}", optin_page, methods=["GET", "POST"]),
]
