"""The settings page's preview: the alert email and SMS exactly as the real renderer would make
them with the sender settings being edited (before they are saved), for the shop's most-wanted
variant, or a sample product when nobody waits yet."""

from dataclasses import replace
from email.utils import formataddr
from typing import Any

from sqlalchemy import Connection, and_, func, select

from ..config import Settings
from ..errors import ApiError
from ..models import Intent, IntentStatus, Shop, Variant
from ..notify.email import DEV_SENDER, from_parts
from ..notify.render import GSM7, SMS_LIMIT, Alert, Renderer
from . import settings as shop_settings

intents, variants, shops = Intent.__table__, Variant.__table__, Shop.__table__
PREVIEWED = ("sender_name", "reply_to", "brand_logo_url", "brand_color")
SAMPLE_VARIANT = 1


def parse(body: Any) -> dict[str, Any]:
    """The sender settings to preview, checked as a PUT would check them (ApiError 400)."""
    if not isinstance(body, dict):
        raise ApiError(400, "body: must be a JSON object of the message settings to preview")
    unknown = [
        f"{str(name)[:40]}: not previewed (only {', '.join(PREVIEWED)})"
        for name in body
        if name not in PREVIEWED
    ]
    if unknown:
        raise ApiError(400, *unknown)
    return shop_settings.parse(body)


def _most_wanted(connection: Connection, shop_id: int):
    # The titles the signups were filed with, where the catalogue has not been read yet.
    wanted = (
        select(
            intents.c.shopify_variant_id,
            func.max(intents.c.product_title).label("product_title"),
            func.max(intents.c.variant_title).label("variant_title"),
        )
        .where(intents.c.shop_id == shop_id, intents.c.status == IntentStatus.pending.value)
        .group_by(intents.c.shopify_variant_id)
        .order_by(func.count().desc())
        .limit(1)
        .subquery()
    )
    return connection.execute(
        select(
            wanted.c.shopify_variant_id,
            func.coalesce(variants.c.product_title, wanted.c.product_title).label("product_title"),
            func.coalesce(variants.c.variant_title, wanted.c.variant_title).label("variant_title"),
            variants.c.price,
            variants.c.currency,
            variants.c.handle,
            variants.c.image_url,
        ).select_from(
            wanted.outerjoin(
                variants,
                and_(
                    variants.c.shop_id == shop_id,
                    variants.c.shopify_variant_id == wanted.c.shopify_variant_id,
                ),
            )
        )
    ).first()


def sample_alert(
    connection: Connection, shop_id: int, domain: str, values: dict[str, Any], channel: str, to: str
) -> Alert:
    """The shop's alert for its most-wanted variant (or a sample product), with the sender
    settings in `values`: what the preview shows and the setup guide's test alert sends."""
    row = _most_wanted(connection, shop_id)
    product: dict[str, Any] = {
        "shopify_variant_id": SAMPLE_VARIANT,
        "product_title": "Sample product",
        "variant_title": None,
        "price": "25.00",
        "currency": None,
        "handle": None,
        "image_url": None,
    }
    if row is not None:
        product = dict(row._mapping)
        product["product_title"] = product["product_title"] or "Sample product"
    shop = connection.execute(
        select(shops.c.name, shops.c.currency).where(shops.c.id == shop_id)
    ).one()
    product["currency"] = product["currency"] or shop.currency
    return Alert(
        channel=channel,
        to=to,
        notification_id=0,
        intent_id=0,
        shop_domain=domain,
        sender_name=values.get("sender_name"),
        reply_to=values.get("reply_to"),
        brand_logo_url=values.get("brand_logo_url"),
        brand_color=values.get("brand_color"),
        shop_name=shop.name,
        **product,
    )


def render(
    connection: Connection, settings: Settings, shop_id: int, domain: str, values: dict[str, Any]
) -> dict:
    email_alert = sample_alert(connection, shop_id, domain, values, "email", "shopper@example.com")
    sms_alert = replace(email_alert, channel="sms", to="+15555550100")
    sender_name, reply_to = email_alert.sender_name, email_alert.reply_to
    renderer = Renderer(settings)
    email, sms = renderer.render(email_alert), renderer.render(sms_alert)
    return {
        "product": email_alert.product_title,
        "email": {
            "from": formataddr(from_parts(settings.MAIL_FROM or DEV_SENDER, sender_name)),
            "reply_to": reply_to,
            "subject": email.subject,
            "text": email.text,
            "html": email.html,
        },
        "sms": {
            "text": sms.text,
            "characters": len(sms.text),
            "fits_one_segment": len(sms.text) <= SMS_LIMIT and set(sms.text) <= GSM7,
        },
    }
