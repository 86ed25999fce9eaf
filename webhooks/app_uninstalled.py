"""`app/uninstalled`: mark the shop uninstalled and forget its token and merchant API key (a
reinstall gets neither back: a key handed out under the old install stays dead). It can arrive more
than once and after the shop's data is gone: both are no-ops."""

from sqlalchemy.orm import Session

from shopify_app.shops import mark_uninstalled

from .receive import Delivery, endpoint

TOPIC = "app/uninstalled"


def apply(session: Session, delivery: Delivery) -> None:
    mark_uninstalled(session, delivery.shop)


handle = endpoint(TOPIC, apply)
