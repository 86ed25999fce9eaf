"""`shop/redact` (mandatory compliance topic, 48 h after uninstall): erase the shop and everything
filed under it (`shopify_app/privacy.py`)."""

from sqlalchemy.orm import Session

from shopify_app import privacy

from .receive import Delivery, endpoint

TOPIC = "shop/redact"


def apply(session: Session, delivery: Delivery) -> None:
    privacy.redact_shop(session, delivery.shop)


handle = endpoint(TOPIC, apply)
