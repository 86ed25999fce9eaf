"""The admin's paged lists (signups, products in demand, deliveries). Filters arrive as query
strings; a bad one is ApiError(400) naming it.

A signup's status is shown as `held` while it is pending and its alert waits for the merchant
(written by a restock while automatic sending was off; notify/manual.py sends it)."""

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Connection, Select, and_, case, func, or_, select, type_coerce

from ..coerce import ID_MAX, whole
from ..contacts import shown_contact
from ..errors import ApiError
from ..models import Intent, Notification, NotificationStatus, RestockEvent, Variant
from ..notify.channels import CHANNELS
from ..notify.outbox import has_held_alert
from ..paging import Page
from ..unsent import was_sent

intents, notifications, events = Intent.__table__, Notification.__table__, RestockEvent.__table__
variants = Variant.__table__

INTENT_STATUSES = ("pending", "held", "notified", "unsubscribed", "cancelled")
CONSENT = ("yes", "no")
MAX_PER_PAGE = 500
# Through which door a signup came (Intent.source), in the merchant's words.
DOORS = {"proxy": "storefront block", "api": "signup API", "merchant": "merchant API"}


def _whole(query, name: str, default: int, low: int, high: int) -> int:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    value = whole(raw, low, high)
    if value is None:
        raise ApiError(400, f"{name}: {whole_number_rule(low, high)}")
    return value


def whole_number_rule(low: int, high: int) -> str:
    """What a whole-number parameter takes, in words (an id's ceiling is no one's business)."""
    if high >= 10**12:
        return "must be a Shopify id (a whole number)" if low == 1 else "must be a whole number"
    return f"must be a whole number from {low} to {high}"


def paging(query, default_per_page: int = 50) -> Page:
    return Page(
        _whole(query, "page", 1, 1, 10**9),
        _whole(query, "per_page", default_per_page, 1, MAX_PER_PAGE),
    )


def choice(query, name: str, allowed: tuple[str, ...]) -> str | None:
    value = query.get(name) or None
    if value is not None and value not in allowed:
        raise ApiError(400, f"{name}: must be one of {', '.join(allowed)}")
    return value


def iso_time(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


# -- Naming a variant ---------------------------------------------------------------------------
# What Shopify says of the variant (the cache products/update and the Admin API fill), read with
# one join per page or chunk; never what a shopper's signup said.
CACHED = (
    variants.c.product_title,
    variants.c.variant_title,
    variants.c.sku,
    variants.c.shopify_product_id.label("cached_product_id"),
)


def with_cached_variant(rows: Any, shop_id: int) -> Select[Any]:
    """`rows` (a subquery with shopify_variant_id, and shopify_product_id unless it is of
    notifications), with the cached variant's titles and SKU beside each."""
    return select(rows, *CACHED).select_from(
        rows.outerjoin(
            variants,
            (variants.c.shop_id == shop_id)
            & (variants.c.shopify_variant_id == rows.c.shopify_variant_id),
        )
    )


def product_name(product_title: str | None, variant_title: str | None, variant_id: int) -> str:
    """ "Merino Beanie – Charcoal", or "Variant 8200011" when Shopify has not told us of it."""
    if not product_title:
        return f"Variant {variant_id}"
    return f"{product_title} – {variant_title}" if variant_title else product_title


def admin_product_url(shop: str, product_id: int | None) -> str | None:
    """The product's page in the Shopify admin."""
    if not product_id:
        return None
    store = shop.removesuffix(".myshopify.com")
    if store != shop:
        return f"https://admin.shopify.com/store/{store}/products/{product_id}"
    return f"https://{shop}/admin/products/{product_id}"


def product_public(out: dict[str, Any], product_id: int | None) -> None:
    """Names the row's variant from the cache (in place): product, product_title, variant_title,
    sku, shopify_product_id."""
    out["shopify_product_id"] = out.pop("cached_product_id", None) or product_id
    out["product"] = product_name(
        out["product_title"], out["variant_title"], out["shopify_variant_id"]
    )


# -- Signups ----------------------------------------------------------------------------------
SHOWN_STATUS = case(
    (and_(intents.c.status == "pending", has_held_alert()), "held"), else_=intents.c.status
).label("status")
INTENT_COLUMNS = (
    [intents.c.id, SHOWN_STATUS]
    + [
        intents.c[name]
        for name in (
            "channel",
            "email",
            "phone",
            "quantity",
            "shopify_variant_id",
            "shopify_product_id",
            "source",
            "accepts_marketing",
            "consent_at",
            "optin_confirmed",
            "sent_notifications_count",
            "created_at",
            "notified_at",
            "unsubscribed_at",
        )
    ]
    + [type_coerce(~was_sent(), Boolean).label("deletable")]
)


def intent_filters(shop_id: int, query) -> list:
    where = [intents.c.shop_id == shop_id]
    if status := choice(query, "status", INTENT_STATUSES):
        where.append(intents.c.status == ("pending" if status == "held" else status))
        if status in ("pending", "held"):
            where.append(has_held_alert() if status == "held" else ~has_held_alert())
    if channel := choice(query, "channel", CHANNELS):
        where.append(intents.c.channel == channel)
    if consent := choice(query, "consent", CONSENT):
        where.append(intents.c.accepts_marketing.is_(consent == "yes"))
    if query.get("shopify_variant_id"):
        where.append(
            intents.c.shopify_variant_id == _whole(query, "shopify_variant_id", 0, 1, ID_MAX)
        )
    if q := (query.get("q") or "").strip():
        if len(q) > 320:
            raise ApiError(400, "q: must be at most 320 characters")
        if "\x00" in q:  # no address holds one, and PostgreSQL refuses it in a parameter
            raise ApiError(400, "q: must not contain NUL characters")
        where.append(
            or_(
                intents.c.email.like(_like(q.lower()), escape="\\"),
                intents.c.phone.like(_like(q.replace(" ", "")), escape="\\"),
            )
        )
    return where


def intent_public(row: Any) -> dict[str, Any]:
    out = {str(k): v for k, v in row._mapping.items()}  # (a label may be a str subclass)
    for key in ("created_at", "notified_at", "unsubscribed_at", "consent_at"):
        out[key] = iso_time(out[key])
    out["contact"] = shown_contact(out["channel"], out["email"], out["phone"])
    out["door"] = DOORS.get(out["source"], out["source"])
    product_public(out, out["shopify_product_id"])
    return out


def signups_select(shop_id: int, where: list, page: Page | None = None) -> Select[Any]:
    """The signups matching `where`, newest first (a page of them), each with its cached variant:
    the page is cut first, then joined, so a deep page joins only its own rows."""
    rows = select(*INTENT_COLUMNS).where(*where).order_by(intents.c.id.desc())
    if page is not None:
        rows = rows.limit(page.per_page).offset(page.offset)
    cut = rows.subquery()
    return with_cached_variant(cut, shop_id).order_by(cut.c.id.desc())


def list_intents(connection: Connection, shop_id: int, query) -> dict[str, Any]:
    where, page = intent_filters(shop_id, query), paging(query)
    total = connection.execute(select(func.count()).select_from(intents).where(*where)).scalar_one()
    rows = connection.execute(signups_select(shop_id, where, page)).all()
    return {"intents": [intent_public(r) for r in rows], "meta": page.meta(total)}


def get_intent(connection: Connection, shop_id: int, intent_id: int) -> dict[str, Any] | None:
    where = [intents.c.shop_id == shop_id, intents.c.id == intent_id]
    row = connection.execute(signups_select(shop_id, where)).first()
    return intent_public(row) if row is not None else None


def count_held(connection: Connection, shop_id: int) -> int:
    """Alerts waiting for the merchant to send them."""
    return connection.execute(
        select(func.count())
        .select_from(notifications)
        .where(
            notifications.c.shop_id == shop_id,
            notifications.c.status == NotificationStatus.held.value,
        )
    ).scalar_one()


def count_capped_sms(connection: Connection, shop_id: int) -> int:
    """Held SMS that the shop's SMS cap per restock held (not automatic sending being off)."""
    return connection.execute(
        select(func.count())
        .select_from(notifications.join(events, events.c.id == notifications.c.restock_event_id))
        .where(
            notifications.c.shop_id == shop_id,
            notifications.c.status == NotificationStatus.held.value,
            notifications.c.channel == "sms",
            events.c.sms_held > 0,
        )
    ).scalar_one()


# -- Products in demand ------------------------------------------------------------------------
def list_demand(connection: Connection, shop_id: int, query) -> dict[str, Any]:
    page = paging(query)
    where = (intents.c.shop_id == shop_id, intents.c.status == "pending")
    # Counted from the partial index ix_intent_pending_variant alone (no table rows: a shop may have a
    # million waiting); the titles are read for the page's variants only, from their latest signup.
    per_variant = (
        select(
            intents.c.shopify_variant_id.label("vid"),
            func.count().label("pending"),
            func.sum(intents.c.quantity).label("units"),
        )
        .where(*where)
        .group_by(intents.c.shopify_variant_id)
    )
    # How many variants, and signups waiting in all, ride along with the page's rows (one scan); a page
    # past the end counts apart.
    waiting = (
        per_variant.add_columns(
            func.count().over().label("variants"), func.sum(func.count()).over().label("waiting")
        )
        .order_by(func.count().desc(), intents.c.shopify_variant_id)
        .limit(page.per_page)
        .offset(page.offset)
        .subquery()
    )

    def latest(column):
        return (
            select(column)
            .where(*where, intents.c.shopify_variant_id == waiting.c.vid)
            .order_by(intents.c.id.desc())
            .limit(1)
            .scalar_subquery()
        )

    rows = connection.execute(
        select(
            waiting,
            latest(intents.c.shopify_product_id).label("pid"),
            latest(intents.c.product_title).label("ptitle"),
            latest(intents.c.variant_title).label("vtitle"),
            variants.c.product_title,
            variants.c.variant_title,
            variants.c.sku,
            variants.c.sellable,
            variants.c.inventory_quantity,
            variants.c.restocked_at,
        )
        .select_from(
            waiting.outerjoin(
                variants,
                (variants.c.shop_id == shop_id) & (variants.c.shopify_variant_id == waiting.c.vid),
            )
        )
        .order_by(waiting.c.pending.desc(), waiting.c.vid)
    ).all()
    if rows:
        total, pending = rows[0].variants, int(rows[0].waiting)
    else:
        counted = per_variant.subquery()
        total, pending = connection.execute(
            select(func.count(), func.coalesce(func.sum(counted.c.pending), 0))
        ).one()
    out = [
        {
            "shopify_variant_id": r.vid,
            "shopify_product_id": r.pid,
            "product_title": r.product_title or r.ptitle,
            "variant_title": r.variant_title or r.vtitle,
            "sku": r.sku,
            "pending": r.pending,
            "units_wanted": int(r.units or 0),
            "stock": r.sellable if r.sellable is not None else r.inventory_quantity,
            "last_restocked_at": iso_time(r.restocked_at),
        }
        for r in rows
    ]
    return {"variants": out, "meta": page.meta(total), "pending": int(pending)}
