"""Emails to the merchant (not to shoppers): a variant in high demand (`demand.py`), a customer
data request ready to download (`data_requests.py`), the setup guide's test alert (the shop's
real alert email, sent to the merchant), and the weekly summary (`weekly_summary.py`). All are worker jobs; the address is
the shop's email from the Admin API (`shop { email }`), read when the email is sent, and the
message goes through the worker's email channel. A transient failure (the API, the SMTP server)
fails the job, which is retried with backoff; a refused address is logged and not retried.
Neither message carries a shopper's contact: the data request's email only says where to get it."""

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import cache

from anyio import to_thread
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from .. import data_requests, demand
from ..admin import preview, setup_guide
from ..config import Settings
from ..job_context import JobContext, ShopRow
from ..jobs import ClaimedJob
from ..logs import mask_email
from ..models import utcnow
from .base import OutgoingMessage, PermanentError, TransientError
from .render import TEMPLATES, Alert

log = logging.getLogger(__name__)

# The merchant's address (Shopify emails the shop owner at `email`) and the shop's name.
SHOP_CONTACT_QUERY = """
query MerchantContact {
  shop { email name }
}
"""


@dataclass(frozen=True)
class MerchantContact:
    email: str | None
    name: str | None


def parse_contact(data: dict) -> MerchantContact:
    shop = data.get("shop")
    shop = shop if isinstance(shop, dict) else {}
    email, name = shop.get("email"), shop.get("name")
    return MerchantContact(
        email=email.strip() if isinstance(email, str) and email.strip() else None,
        name=name.strip() if isinstance(name, str) and name.strip() else None,
    )


def admin_link(settings: Settings, shop_domain: str, page: str) -> str:
    """A page of the app inside the shop's admin: Shopify opens the app there with a session."""
    return f"https://{shop_domain}/admin/apps/{settings.SHOPIFY_API_KEY}/app/{page}"


@cache
def _env() -> Environment:
    return Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )


def merchant_message(
    to: str, subject: str, template: str, reference: str, **context
) -> OutgoingMessage:
    context["subject"] = subject
    return OutgoingMessage(
        channel="email",
        to=to,
        subject=subject,
        reference=reference,
        text=_env().get_template(f"email/{template}.txt").render(**context),
        html=_env().get_template(f"email/{template}.html").render(**context),
    )


def demand_email(
    settings: Settings,
    shop_domain: str,
    contact: MerchantContact,
    found: demand.Demand,
    threshold: int | None,
) -> OutgoingMessage:
    waiting = (
        f"{found.pending} shopper is" if found.pending == 1 else f"{found.pending} shoppers are"
    )
    subject = f"High demand: {waiting} waiting for {found.title}"
    return merchant_message(
        contact.email or "",
        subject,
        "merchant_demand",
        f"demand-{found.shopify_variant_id}",
        shop_name=contact.name or shop_domain,
        d=found,
        threshold=threshold,
        waiting=waiting,
        link=admin_link(settings, shop_domain, "demand"),
    )


def data_request_email(
    settings: Settings, shop_domain: str, contact: MerchantContact, request
) -> OutgoingMessage:
    subject = "A customer data request is ready to download"
    return merchant_message(
        contact.email or "",
        subject,
        "merchant_data_request",
        f"data-request-{request.id}",
        shop_name=contact.name or shop_domain,
        request=request,
        requested=f"{request.requested_at:%Y-%m-%d %H:%M} UTC",
        link=admin_link(settings, shop_domain, "privacy"),
    )


# -- Jobs ------------------------------------------------------------------------------------------
async def demand_alert(ctx: JobContext, shop: ShopRow, job: ClaimedJob) -> None:
    """Email the merchant: a variant's waiting list reached the shop's high_demand_threshold."""
    variant_id = int(job.payload["variant_id"])
    found = await to_thread.run_sync(ctx.in_session, demand.to_send, shop["id"], variant_id)
    if found is None:
        return  # restocked (or sent) meanwhile
    sent = await email_merchant(
        ctx,
        shop,
        lambda contact: demand_email(
            ctx.settings, shop["domain"], contact, found, shop["high_demand_threshold"]
        ),
    )
    if sent:
        await to_thread.run_sync(ctx.in_session, demand.mark_sent, shop["id"], variant_id)


async def data_request(ctx: JobContext, shop: ShopRow, job: ClaimedJob) -> None:
    """Email the merchant: a customer data request is assembled and ready to download."""
    request_id = int(job.payload["data_request_id"])
    if not await to_thread.run_sync(ctx.in_session, data_requests.make_ready, request_id):
        return  # redacted meanwhile
    request = await to_thread.run_sync(ctx.in_session, data_requests.load, request_id)
    if request is None or request.shop_id != shop["id"] or request.merchant_notified_at is not None:
        return
    sent = await email_merchant(
        ctx,
        shop,
        lambda contact: data_request_email(ctx.settings, shop["domain"], contact, request),
    )
    if sent:
        await to_thread.run_sync(ctx.in_session, data_requests.mark_notified, request_id)


def _sample_alert(ctx: JobContext, shop: ShopRow) -> Alert:
    sender = {name: shop[name] for name in preview.PREVIEWED}
    with ctx.engine.connect() as connection:
        return preview.sample_alert(connection, shop["id"], shop["domain"], sender, "email", "")


def test_alert_email(ctx: JobContext, alert: Alert, to: str) -> OutgoingMessage:
    """The alert a shopper would get for the shop's most-wanted variant, with the shop's saved
    sender settings, rendered by the worker's own renderer: what is sent is what shoppers get."""
    message = ctx.renderer.render(replace(alert, to=to))
    return replace(message, subject=f"[Test] {message.subject}", reference="test-alert")


async def test_alert(ctx: JobContext, shop: ShopRow, job: ClaimedJob) -> None:
    """Email the merchant the shop's alert, as a test (the dashboard's setup guide)."""
    alert = await to_thread.run_sync(_sample_alert, ctx, shop)
    if await email_merchant(
        ctx, shop, lambda contact: test_alert_email(ctx, alert, contact.email or "")
    ):
        await to_thread.run_sync(_mark_test_sent, ctx, shop["id"])


def _mark_test_sent(ctx: JobContext, shop_id: int) -> None:
    with ctx.engine.begin() as connection:
        setup_guide.mark_test_alert_sent(connection, shop_id, utcnow())


async def email_merchant(
    ctx: JobContext, shop: ShopRow, make: Callable[[MerchantContact], OutgoingMessage]
) -> bool:
    """Look the merchant up and send them `make(contact)`; False when it could not be sent for
    good (no address, or the address refused). Transient failures raise: the job is retried."""
    channel = ctx.channels.get("email")
    if channel is None:
        raise TransientError("no email channel: set SMTP_HOST and MAIL_FROM")
    contact = parse_contact(await ctx.api(shop).query(SHOP_CONTACT_QUERY))
    if contact.email is None:
        log.warning(
            "the shop has no email address; merchant email not sent", extra={"shop": shop["domain"]}
        )
        return False
    message = make(contact)
    try:
        await channel.send(message)
    except PermanentError as exc:
        log.warning(
            "merchant email refused",
            extra={
                "shop": shop["domain"],
                "to": mask_email(contact.email),
                "error": str(exc)[:300],
            },
        )
        return False
    log.info(
        "merchant emailed",
        extra={
            "shop": shop["domain"],
            "to": mask_email(contact.email),
            "reference": message.reference,
        },
    )
    return True
