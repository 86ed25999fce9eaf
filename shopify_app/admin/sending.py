"""The admin's "notify now": `POST /app/api/intents/{id}/notify` and `POST /app/api/intents/notify`
(`{"intent_ids": [...]}`, or `{"all_held": true}` for every alert held while automatic sending was
off). The checks and answers around `notify/manual.py`, which the merchant API shares.

All or nothing: an id that is not this shop's is a 404, one that cannot be alerted (unsubscribed,
awaiting opt-in, already notified without `allow_resend`, ...) a 422, and then nothing changes.
"""

from typing import Any

from sqlalchemy import Connection, and_, select

from ..coerce import shopify_id
from ..errors import ApiError
from ..models import Intent, Notification, NotificationStatus, Variant
from ..notify import manual
from . import listings

MAX_IDS = 500
VIA = "admin"
variants, notifications = Variant.__table__, Notification.__table__
SHOWN_OUT_OF_STOCK = 5  # variants named in "Send all held"'s question; the rest counted


def _bool(body: dict[str, Any], name: str) -> bool:
    value = body.get(name, False)
    if not isinstance(value, bool):
        raise ApiError(400, f"{name}: must be true or false")
    return value


def _options(body: Any) -> dict[str, Any]:
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise ApiError(400, "body: must be a JSON object")
    return body


def parse_one(body: Any) -> bool:
    """The single form's optional body: `{"allow_resend": bool}`. Its allow_resend."""
    return _bool(_options(body), "allow_resend")


def parse_bulk(body: Any) -> tuple[list[int] | None, bool]:
    """(the ids, or None for every held alert; allow_resend). ApiError(400) names the bad field."""
    body = _options(body)
    allow_resend = _bool(body, "allow_resend")
    if _bool(body, "all_held"):
        if "intent_ids" in body:
            raise ApiError(400, "intent_ids: give either intent_ids or all_held, not both")
        return None, allow_resend
    ids = body.get("intent_ids")
    if not isinstance(ids, list) or not ids:
        raise ApiError(
            400, "intent_ids: must be a non-empty list of signup ids (or send all_held: true)"
        )
    if len(ids) > MAX_IDS:
        raise ApiError(400, f"intent_ids: at most {MAX_IDS} ids at a time")
    if any(isinstance(i, bool) or not isinstance(i, int) or shopify_id(i) is None for i in ids):
        raise ApiError(400, "intent_ids: every id must be a positive whole number")
    return list(dict.fromkeys(ids)), allow_resend


def notify(connection: Connection, shop_id: int, ids: list[int], allow_resend: bool) -> list[int]:
    """Alert the signups, or raise ApiError (404 / 422) before anything is committed: the caller's
    transaction (`engine.begin()`) rolls back when the error leaves it."""
    success, failed = manual.notify(connection, shop_id, ids, allow_resend=allow_resend, via=VIA)
    missing = [
        f"intent {f['intent_id']}: not found" for f in failed if f["error"] == manual.NOT_FOUND
    ]
    if missing:
        raise ApiError(404, *missing)
    if failed:
        raise ApiError(422, *(f"intent {f['intent_id']}: {f['error']}" for f in failed))
    return success


def notify_one(
    connection: Connection, shop_id: int, intent_id: int, allow_resend: bool
) -> dict[str, Any]:
    notify(connection, shop_id, [intent_id], allow_resend)
    return {"intent": listings.get_intent(connection, shop_id, intent_id)}


def notify_many(
    connection: Connection, shop_id: int, ids: list[int] | None, allow_resend: bool
) -> dict[str, Any]:
    if ids is None:
        return manual.release_held(connection, shop_id)
    done = notify(connection, shop_id, ids, allow_resend)
    return {"notified": len(done), "intent_ids": done}


# -- Before sending by hand: what is out of stock (the page asks first) ---------------------------
def stock_of(connection: Connection, shop_id: int, variant_ids: set[int]) -> dict[int, int]:
    """The sellable stock the app last saw for these variants (those it knows)."""
    if not variant_ids:
        return {}
    rows = connection.execute(
        select(variants.c.shopify_variant_id, variants.c.sellable).where(
            variants.c.shop_id == shop_id,
            variants.c.shopify_variant_id.in_(variant_ids),
            variants.c.sellable.is_not(None),
        )
    )
    return {r.shopify_variant_id: r.sellable for r in rows}


def held_out_of_stock(connection: Connection, shop_id: int) -> str:
    """The variants with held alerts that are out of stock now, for the merchant to read
    ("Linen Shirt – Blue / M (0 in stock), …"); empty when none is."""
    held_variants = (
        select(Intent.__table__.c.shopify_variant_id)
        .join(notifications, notifications.c.intent_id == Intent.__table__.c.id)
        .where(
            notifications.c.shop_id == shop_id,
            notifications.c.status == NotificationStatus.held.value,
        )
        .distinct()
        .subquery()
    )
    rows = connection.execute(
        select(variants.c.product_title, variants.c.variant_title, variants.c.sellable)
        .join(
            held_variants,
            and_(
                variants.c.shop_id == shop_id,
                variants.c.shopify_variant_id == held_variants.c.shopify_variant_id,
            ),
        )
        .where(variants.c.sellable <= 0)
        .order_by(variants.c.product_title, variants.c.variant_title)
        .limit(SHOWN_OUT_OF_STOCK + 1)
    ).all()
    names = [
        f"{' – '.join(t for t in (r.product_title, r.variant_title) if t) or 'A product'} "
        f"({r.sellable} in stock)"
        for r in rows[:SHOWN_OUT_OF_STOCK]
    ]
    if len(rows) > SHOWN_OUT_OF_STOCK:
        names.append("and more")
    return ", ".join(names)
