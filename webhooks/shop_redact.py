"""`shop/redact` (mandatory compliance topic, 48 h after uninstall): erase the shop and everything
filed under it (customers and signups go with it: ON DELETE CASCADE)."""

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from shopify_app.models import Customer, Intent, OAuthState, Shop, WebhookDelivery

from .receive import Delivery, endpoint

TOPIC = "shop/redact"


def apply(session: Session, delivery: Delivery) -> None:
    shop_id = session.execute(select(Shop.id).where(Shop.domain == delivery.shop)).scalar_one_or_none()
    if shop_id is not None:
        # Explicit child-first deletes: SQLite enforces cascades only with foreign_keys=ON.
        session.execute(delete(Intent).where(Intent.shop_id == shop_id))
        session.execute(delete(Customer).where(Customer.shop_id == shop_id))
        session.execute(delete(Shop).where(Shop.id == shop_id))
    session.execute(delete(OAuthState).where(OAuthState.shop == delivery.shop))
    session.execute(
        delete(WebhookDelivery).where(
            WebhookDelivery.shop_domain == delivery.shop, WebhookDelivery.webhook_id != delivery.webhook_id
        )
    )


handle = endpoint(TOPIC, apply)
