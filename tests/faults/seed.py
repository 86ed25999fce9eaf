"""What the fault tests start from, written straight to the database (thousands of signups through
the API would cost minutes the faults do not need): an installed shop whose variant is sold out
with every location known, and N confirmed signups waiting on it. A restock webhook then makes
the fan-out without an Admin API call."""

import json
import os
import uuid
from datetime import timedelta

from sqlalchemy import func, insert, select

from shopify_app.db import session_scope
from shopify_app.models import (
    Customer,
    Intent,
    InventoryLevel,
    Notification,
    SendAttempt,
    Variant,
    utcnow,
)
from shopify_app.signup_contacts import contact_key

from ..fakes.push_service import vapid_keys
from ..notify.helpers import ITEM, LOCATION, PRODUCT, SHOP, TOKEN, VARIANT
from ..support import install_shop

CHUNK = 5000


def shop_with_sold_out_variants(engine, settings, variants: int = 1, *, known: bool = True) -> int:
    """The shop (token TOKEN) and `variants` sold-out variants (VARIANT + i, item ITEM + i); `known`:
    their stock was read before, so a webhook needs no call to Shopify. The shop's id."""
    shop_id = install_shop(engine, settings, SHOP, token=TOKEN)
    if not known:
        return shop_id
    now = utcnow() - timedelta(days=1)
    with session_scope(engine) as session:
        session.execute(
            insert(Variant),
            [
                {
                    "shop_id": shop_id,
                    "shopify_variant_id": VARIANT + v,
                    "shopify_product_id": PRODUCT,
                    "inventory_item_id": ITEM + v,
                    "product_title": "Linen Shirt",
                    "variant_title": "Green / M",
                    "handle": "linen-shirt",
                    "price": "49.00",
                    "sellable": 0,
                    "levels_synced_at": now,
                    "updated_at": now,
                }
                for v in range(variants)
            ],
        )
        session.execute(
            insert(InventoryLevel),
            [
                {
                    "shop_id": shop_id,
                    "inventory_item_id": ITEM + v,
                    "location_id": LOCATION,
                    "available": 0,
                    "updated_at": now,
                }
                for v in range(variants)
            ],
        )
    return shop_id


def waiting_signups(
    engine, shop_id: int, contacts: list[str], channel: str = "email", *, variant: int = VARIANT
) -> None:
    """One confirmed, pending signup per contact (an email, an E.164 phone, or a push subscription
    as JSON) on `variant`."""
    now = utcnow() - timedelta(hours=1)
    column = {"email": "email", "sms": "phone", "push": "push_subscription"}[channel]
    for start in range(0, len(contacts), CHUNK):
        chunk = contacts[start : start + CHUNK]
        customers = [
            {
                "id": str(uuid.uuid4()),
                "shop_id": shop_id,
                "accepts_marketing": False,
                "created_at": now,
                "updated_at": now,
                **({column: c} if channel != "push" else {}),
            }
            for c in chunk
        ]
        intents = [
            {
                "shop_id": shop_id,
                "customer_id": customer["id"],
                "channel": channel,
                column: contact,
                "contact_key": contact_key(
                    channel, json.loads(contact)["endpoint"] if channel == "push" else contact
                ),
                "quantity": 1,
                "source": "api",
                "status": "pending",
                "shopify_variant_id": variant,
                "shopify_product_id": PRODUCT,
                "optin_confirmed": True,
                "sent_notifications_count": 0,
                "created_at": now,
                "updated_at": now,
            }
            for customer, contact in zip(customers, chunk, strict=False)
        ]
        with session_scope(engine) as session:
            session.execute(insert(Customer), customers)
            session.execute(insert(Intent), intents)


def statuses(engine) -> dict[str, int]:
    """Notifications by status."""
    notifications = Notification.__table__
    with session_scope(engine) as session:
        return dict(
            session.execute(
                select(notifications.c.status, func.count()).group_by(notifications.c.status)
            ).all()
        )


def attempts_by_notification(engine) -> dict[int, list]:
    """Every notification's attempts, in order: [(attempt, outcome, at, worker), …]."""
    attempts = SendAttempt.__table__
    found: dict[int, list] = {}
    with session_scope(engine) as session:
        for row in session.execute(
            select(
                attempts.c.notification_id,
                attempts.c.attempt,
                attempts.c.outcome,
                attempts.c.at,
                attempts.c.worker,
            ).order_by(attempts.c.id)
        ):
            found.setdefault(row.notification_id, []).append(
                (row.attempt, row.outcome, row.at, row.worker)
            )
    return found


def provider_settings(
    settings, *, smtp=None, twilio=None, twilio_url: str = "", push: bool = False, **more
):
    """`settings` for real processes, with the channels given: an SmtpServer, a FakeTwilio at
    twilio_url, web push (the endpoints come with the signups)."""
    update = {"LOG_LEVEL": "WARNING", "RECONCILE_INTERVAL_SECONDS": 0, "WORKER_POLL_INTERVAL": 0.1}
    if smtp is not None:
        update.update(
            SMTP_HOST="127.0.0.1",
            SMTP_PORT=smtp.port,
            SMTP_STARTTLS=False,
            MAIL_FROM="Shop <alerts@shop.example>",
        )
    if twilio is not None:
        update.update(
            TWILIO_ACCOUNT_SID=twilio.account_sid,
            TWILIO_AUTH_TOKEN=twilio.auth_token,
            TWILIO_FROM_NUMBER="+15005550006",
            TWILIO_API_BASE_URL=twilio_url,
        )
    if push:
        private, public = vapid_keys()
        update.update(
            VAPID_PRIVATE_KEY=private,
            VAPID_PUBLIC_KEY=public,
            VAPID_SUBJECT="mailto:ops@shop.example",
        )
    return settings.model_copy(update={**update, **more})


def seconds_setting(name: str, default: float) -> float:
    return float(os.environ.get(name, default))
