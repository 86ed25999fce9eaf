"""`customers/redact` (mandatory compliance topic): erase what we hold on one customer of a shop:
their customer rows and every signup made with their email or phone."""

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from shopify_app.contacts import ContactError, normalize_email, normalize_phone
from shopify_app.models import Customer, Intent, Shop

from .receive import Delivery, endpoint

TOPIC = "customers/redact"


def customer_contacts(customer: dict) -> tuple[str | None, str | None, str | None]:
    email = phone = None
    try:
        email = normalize_email(customer.get("email")) if customer.get("email") else None
    except ContactError:
        pass
    try:
        phone = normalize_phone(str(customer["phone"])) if customer.get("phone") else None
    except ContactError:
        pass
    shopify_id = str(customer["id"]) if customer.get("id") is not None else None
    return email, phone, shopify_id


def apply(session: Session, delivery: Delivery) -> None:
    payload = delivery.payload if isinstance(delivery.payload, dict) else {}
    customer = payload.get("customer") if isinstance(payload.get("customer"), dict) else {}
    shop_id = session.execute(select(Shop.id).where(Shop.domain == delivery.shop)).scalar_one_or_none()
    email, phone, shopify_id = customer_contacts(customer)
    if shop_id is None or not (email or phone or shopify_id):
        return
    who = [c for c in (
        Customer.email == email if email else None,
        Customer.phone == phone if phone else None,
        Customer.shopify_customer_id == shopify_id if shopify_id else None,
    ) if c is not None]
    ids = select(Customer.id).where(Customer.shop_id == shop_id, or_(*who))
    contact = [c for c in (Intent.email == email if email else None, Intent.phone == phone if phone else None) if c is not None]
    session.execute(delete(Intent).where(Intent.shop_id == shop_id, or_(Intent.customer_id.in_(ids), *contact)))
    session.execute(delete(Customer).where(Customer.shop_id == shop_id, or_(*who)))


handle = endpoint(TOPIC, apply)
