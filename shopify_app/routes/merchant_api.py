"""The merchant API, STOQ v1 "external" compatible: `/api/v1/external/intents...`, authenticated by
the shop's API key in `X-Auth-Token` (apikeys.py). Every query is scoped to the key's shop.

Errors are STOQ's `{"error": "..."}`. A rate limit of 360 points per 60 seconds per shop (a GET
costs 1 point, any other request 2) is counted in the signup limits' storage (the database, or
Redis), so it holds across server processes; every authenticated answer carries
`X-RateLimit-Limit`, `X-RateLimit-Remaining` and `X-RateLimit-Reset` (Unix time the window ends).
"""

import math
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from functools import wraps
from typing import Any

import limits
from sqlalchemy import Connection, exists, func, select, true, update
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route

from .. import apikeys, unsent
from ..contacts import ContactError, email_forms, normalize_email, normalize_phone
from ..models import (
    Customer,
    Intent,
    IntentStatus,
    Notification,
    NotificationKind,
    NotificationStatus,
    Variant,
    utcnow,
)
from ..notify import manual
from ..schemas import IntentPublic
from .responses import JSON, BodyTooLarge, NotJson, json_body, read_body, tag_shop

intents, customers, notifications = Intent.__table__, Customer.__table__, Notification.__table__
variants = Variant.__table__

DEFAULT_RATE_LIMIT = "360/minute"
DEFAULT_PER_PAGE = 50
MAX_PER_PAGE = 500
MAX_IDS = 500
MAX_ID = 2**63 - 1
GET_COST, WRITE_COST = 1, 2
UNAUTHORIZED = "Missing or invalid X-Auth-Token"
NOT_FOUND = manual.NOT_FOUND


class MerchantError(Exception):
    def __init__(self, status: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.body = status, {"error": message, **extra}


# -- Rate limit ---------------------------------------------------------------------------------


class MerchantLimits:
    """Points per shop in a fixed window, counted in the given `limits` storage (the signup
    limits' own: the database or Redis)."""

    def __init__(self, storage, limit: str = DEFAULT_RATE_LIMIT) -> None:
        self.storage = storage
        self.item = limits.parse(limit)

    async def hit(self, shop_id: int, cost: int) -> tuple[bool, dict[str, str], int]:
        """Count `cost` points; (allowed, the headers, seconds until the window ends)."""
        key = self.item.key_for("merchant-api", str(shop_id))
        count = await self.storage.incr(key, self.item.get_expiry(), amount=cost)
        reset = await self.storage.get_expiry(key)
        wait = max(1, math.ceil(reset - time.time()))
        headers = {
            "X-RateLimit-Limit": str(self.item.amount),
            "X-RateLimit-Remaining": str(max(0, self.item.amount - count)),
            "X-RateLimit-Reset": str(math.ceil(reset)),
        }
        return count <= self.item.amount, headers, wait


def merchant_limits(app) -> MerchantLimits:
    """The app's merchant-API limit (MERCHANT_API_RATE_LIMIT), made on first use from the signup
    limits' storage."""
    found = getattr(app.state, "merchant_limits", None)
    if found is None:
        limit = app.state.settings.MERCHANT_API_RATE_LIMIT
        found = app.state.merchant_limits = MerchantLimits(
            app.state.signup_limits.limiter.storage, limit
        )
    return found


# -- The shared frame of every endpoint: key, limit, errors, headers ------------------------------

Handler = Callable[[Request, Any], Awaitable[Response]]


def _find_shop(engine, key: str):
    with engine.connect() as connection:
        return apikeys.shop_for_key(connection, key)


def endpoint(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    @wraps(handler)
    async def run(request: Request) -> Response:
        key = request.headers.get("x-auth-token")
        shop = await run_in_threadpool(_find_shop, request.app.state.engine, key) if key else None
        if shop is None:
            return JSON(
                {"error": UNAUTHORIZED},
                status_code=401,
                headers={"WWW-Authenticate": 'Token realm="merchant API"'},
            )
        tag_shop(request, shop.domain)
        allowed, headers, wait = await merchant_limits(request.app).hit(
            shop.id, GET_COST if request.method in ("GET", "HEAD") else WRITE_COST
        )
        if not allowed:
            limit = merchant_limits(request.app).item
            return JSON(
                {
                    "error": "Rate limit exceeded",
                    "retry_after": wait,
                    "message": f"This shop may spend {limit.amount} points per {limit.get_expiry()} seconds "
                    f"(a GET costs {GET_COST}, other requests {WRITE_COST}); try again in {wait} seconds.",
                },
                status_code=429,
                headers={**headers, "Retry-After": str(wait)},
            )
        try:
            response = await handler(request, shop)
        except MerchantError as exc:
            response = JSON(exc.body, status_code=exc.status)
        response.headers.update(headers)
        return response

    return run


async def _json_object(request: Request) -> dict[str, Any]:
    limit = request.app.state.settings.MAX_BODY_BYTES
    try:
        body = await read_body(request, limit)
    except BodyTooLarge:
        raise MerchantError(413, f"The body is larger than {limit} bytes") from None
    try:
        data = json_body(body)
    except NotJson as exc:
        raise MerchantError(400, f"The body {exc}") from None
    if not isinstance(data, dict):
        raise MerchantError(400, "The body must be a JSON object")
    return data


def _id(value: Any, field: str) -> int:
    """A positive whole number that fits the database's BIGINT (JSON or query string)."""
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 19:
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_ID:
        raise MerchantError(400, f"{field} must be a positive whole number")
    return value


def _bool(value: Any, field: str, default: bool) -> bool:
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise MerchantError(400, f"{field} must be true or false")


def _ids(data: dict[str, Any], field: str = "intent_ids") -> list[int]:
    value = data.get(field)
    if not isinstance(value, list) or not value:
        raise MerchantError(400, f"{field} must be a non-empty list of intent ids")
    if len(value) > MAX_IDS:
        raise MerchantError(400, f"{field} may hold at most {MAX_IDS} ids")
    return list(dict.fromkeys(_id(v, field) for v in value))


# -- The intent object -----------------------------------------------------------------------------


def _intent_select():
    alerts = (
        select(func.count())
        .select_from(notifications)
        .where(
            notifications.c.intent_id == intents.c.id,
            notifications.c.kind == NotificationKind.alert.value,
        )
        .scalar_subquery()
    )
    columns = [
        c for c in intents.c if c.name not in ("push_subscription", "contact_key", "consent_at")
    ]
    return select(
        *columns,
        customers.c.name.label("customer_name"),
        customers.c.unsubscribed_at.label("customer_unsubscribed_at"),
        alerts.label("notifications_count"),
    ).join(customers, customers.c.id == intents.c.customer_id)


def _public(row) -> dict[str, Any]:
    data = dict(row._mapping)
    data["contact"] = {"email": data["email"], "sms": data["phone"], "push": "push"}.get(
        data["channel"]
    )
    fields = {k: data[k] for k in IntentPublic.model_fields if k in data}
    return IntentPublic(**fields).model_dump(mode="json")


# -- GET /intents ------------------------------------------------------------------------------------

# Every stored time lies between these; a bound beyond them is the edge it passed.
START_OF_TIME = datetime.min.replace(tzinfo=UTC)
END_OF_TIME = datetime.max.replace(tzinfo=UTC)


def _when(value: str, field: str, *, end: bool) -> datetime:
    """An ISO date (the whole day, UTC) or date-time (naive is UTC); the end of a range is exclusive.
    A bound whose UTC falls outside years 1 to 9999 (`0001-01-01T00:00:00+01:00`, the day after
    `9999-12-31`) cannot be a datetime: it is clamped to the start or end of time, which selects
    exactly what it would have."""
    try:
        if len(value) <= 10:
            day = date.fromisoformat(value)
            moment, end_of_day = datetime.combine(day, dtime(0), tzinfo=UTC), end
        else:
            moment, end_of_day = datetime.fromisoformat(value), False
    except (ValueError, OverflowError):
        raise MerchantError(
            400, f"{field} must be an ISO 8601 date (YYYY-MM-DD) or date-time"
        ) from None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC) + (timedelta(days=1) if end_of_day else timedelta(0))
    except OverflowError:
        return START_OF_TIME if moment.year == 1 else END_OF_TIME


def _normalized(normalize: Callable[[str], str], value: str, field: str) -> str:
    """As the signup stored it; a value that is no address at all is looked for as given (and
    matches nothing)."""
    if "\x00" in value:
        raise MerchantError(400, f"{field} must not contain NUL characters")
    try:
        return normalize(value)
    except (ContactError, ValueError):
        return value.strip()


def _filters(request: Request, shop_id: int) -> tuple[list, int, int]:
    q = request.query_params
    where = [intents.c.shop_id == shop_id]
    for field in ("shopify_variant_id", "shopify_product_id"):
        if q.get(field) not in (None, ""):
            where.append(intents.c[field] == _id(q[field], field))
    if q.get("email"):
        # Every form the address may be stored in (an internationalised domain was kept in Unicode once).
        forms = email_forms(_normalized(normalize_email, q["email"], "email")) or {
            q["email"].strip()
        }
        where.append(intents.c.email.in_(sorted(forms)))
    if q.get("phone"):
        where.append(intents.c.phone == _normalized(normalize_phone, q["phone"], "phone"))
    start = _when(q["start_date"], "start_date", end=False) if q.get("start_date") else None
    end = _when(q["end_date"], "end_date", end=True) if q.get("end_date") else None
    if start is not None and end is not None and start >= end:
        raise MerchantError(400, "start_date must be before end_date")
    if start is not None:
        where.append(intents.c.created_at >= start)
    if end is not None:
        where.append(intents.c.created_at < end)
    if q.get("notified") not in (None, ""):
        where.append(
            unsent.was_sent() if _bool(q["notified"], "notified", False) else ~unsent.was_sent()
        )
    page = _number(q.get("page"), "page", 1, 1, MAX_ID)
    per_page = _number(q.get("per_page"), "per_page", DEFAULT_PER_PAGE, 1, MAX_PER_PAGE)
    return where, page, per_page


def _number(value: str | None, field: str, default: int, low: int, high: int) -> int:
    if value in (None, ""):
        return default
    if not (value.isascii() and value.isdigit() and len(value) <= 19 and low <= int(value) <= high):
        raise MerchantError(400, f"{field} must be a whole number from {low} to {high}")
    return int(value)


def _list(engine, where: list, page: int, per_page: int) -> dict[str, Any]:
    with engine.connect() as connection:
        total = connection.execute(
            select(func.count()).select_from(intents).where(*where)
        ).scalar_one()
        rows = []
        if (page - 1) * per_page < total:
            rows = connection.execute(
                _intent_select()
                .where(*where)
                .order_by(intents.c.created_at.desc(), intents.c.id.desc())
                .limit(per_page)
                .offset((page - 1) * per_page)
            ).all()
    return {
        "intents": [_public(r) for r in rows],
        "meta": {
            "total_count": total,
            "page": page,
            "per_page": per_page,
            "total_pages": math.ceil(total / per_page),
        },
    }


@endpoint
async def list_intents(request: Request, shop) -> Response:
    where, page, per_page = _filters(request, shop.id)
    return JSON(await run_in_threadpool(_list, request.app.state.engine, where, page, per_page))


# -- GET /intents/{id} -------------------------------------------------------------------------------


def _one(connection: Connection, shop_id: int, intent_id: int):
    return connection.execute(
        _intent_select().where(intents.c.shop_id == shop_id, intents.c.id == intent_id)
    ).first()


def _get(engine, shop_id: int, intent_id: int):
    with engine.connect() as connection:
        return _one(connection, shop_id, intent_id)


def _path_id(request: Request) -> int:
    raw = request.path_params["id"]
    if raw.endswith(".json"):
        raw = raw[:-5]
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 19 and 1 <= int(raw) <= MAX_ID):
        raise MerchantError(404, NOT_FOUND)
    return int(raw)


@endpoint
async def get_intent(request: Request, shop) -> Response:
    row = await run_in_threadpool(_get, request.app.state.engine, shop.id, _path_id(request))
    if row is None:
        raise MerchantError(404, NOT_FOUND)
    return JSON({"intent": _public(row)})


# -- Notify now (notify/manual.py: also releases an alert held while automatic sending was off) ----------


def _notify_in_thread(engine, shop_id: int, ids: list[int], allow_resend: bool, show: bool):
    with engine.begin() as connection:
        success, failed = manual.notify(
            connection, shop_id, ids, allow_resend=allow_resend, via="merchant API"
        )
        intent = _one(connection, shop_id, ids[0]) if show and success else None
    return success, failed, intent


@endpoint
async def notify_intent(request: Request, shop) -> Response:
    data = await _json_object(request)
    intent_id = _id(data.get("id"), "id")
    allow_resend = _bool(data.get("allow_resend"), "allow_resend", False)
    _success, failed, intent = await run_in_threadpool(
        _notify_in_thread, request.app.state.engine, shop.id, [intent_id], allow_resend, True
    )
    if failed:
        error = failed[0]["error"]
        raise MerchantError(404 if error == NOT_FOUND else 422, error)
    return JSON({"intent": _public(intent)})


@endpoint
async def bulk_notify_intent(request: Request, shop) -> Response:
    data = await _json_object(request)
    ids = _ids(data)
    allow_resend = _bool(data.get("allow_resend"), "allow_resend", False)
    success, failed, _ = await run_in_threadpool(
        _notify_in_thread, request.app.state.engine, shop.id, ids, allow_resend, False
    )
    status = 200 if not failed else 207 if success else 422
    return JSON({"success": success, "failed": failed}, status_code=status)


# -- DELETE /intents/bulk_destroy ----------------------------------------------------------------------


def _destroy(engine, shop_id: int, ids: list[int]) -> list[int]:
    try:
        with engine.begin() as connection:
            return unsent.delete_unsent(connection, shop_id, ids)
    except unsent.SentIntents as exc:
        raise MerchantError(
            422, "Only unsent intents can be deleted; nothing was deleted", sent_intent_ids=exc.ids
        ) from None


@endpoint
async def bulk_destroy(request: Request, shop) -> Response:
    ids = _ids(await _json_object(request))
    deleted = set(await run_in_threadpool(_destroy, request.app.state.engine, shop.id, ids))
    return JSON(
        {
            "deleted": [i for i in ids if i in deleted],
            "not_found": [i for i in ids if i not in deleted],
        }
    )


# -- POST /intents/transfer_signups --------------------------------------------------------------------

INTENT_TYPES = {"unsent": lambda: ~unsent.was_sent(), "sent": unsent.was_sent, "all": true}


def _transfer(
    engine, shop_id: int, source: dict[str, Any], target: dict[str, Any], which: Callable[[], Any]
):
    moving = [
        intents.c.shop_id == shop_id,
        intents.c.shopify_variant_id == source["variant"],
        which(),
    ]
    if source["product"] is not None:
        moving.append(intents.c.shopify_product_id == source["product"])
    for attempt in range(3):  # a signup for the target filed meanwhile makes a new twin: try again
        try:
            with engine.begin() as connection:
                return _transfer_in(connection, shop_id, moving, target)
        except IntegrityError:
            if attempt == 2:
                raise MerchantError(
                    409, "Signups changed during the transfer; please try again"
                ) from None
    raise AssertionError("unreachable")


def _transfer_in(connection: Connection, shop_id: int, moving: list, target: dict[str, Any]):
    now = utcnow()
    # An alert held for the old variant's restock says nothing of the new one: it is cancelled, and
    # the signup waits for the new variant's restock (or the merchant's "notify now").
    connection.execute(
        update(notifications)
        .where(
            notifications.c.status == NotificationStatus.held.value,
            notifications.c.intent_id.in_(select(intents.c.id).where(*moving)),
        )
        .values(
            status=NotificationStatus.cancelled.value,
            last_error="signup transferred to another variant",
            updated_at=now,
        )
    )
    twin = intents.alias("twin")
    has_twin = exists().where(
        twin.c.shop_id == shop_id,
        twin.c.shopify_variant_id == target["variant"],
        func.coalesce(twin.c.shopify_market_id, 0) == func.coalesce(intents.c.shopify_market_id, 0),
        twin.c.channel == intents.c.channel,
        twin.c.contact_key == intents.c.contact_key,
        twin.c.status == IntentStatus.pending.value,
    )
    pending = intents.c.status == IntentStatus.pending.value
    # A pending signup whose twin already waits on the target would be a duplicate there: cancelled.
    duplicates = connection.execute(
        update(intents)
        .where(*moving, pending, has_twin)
        .values(status=IntentStatus.cancelled.value, updated_at=now)
        .returning(intents.c.id)
    ).all()
    cached = connection.execute(
        select(
            variants.c.inventory_item_id, variants.c.product_title, variants.c.variant_title
        ).where(variants.c.shop_id == shop_id, variants.c.shopify_variant_id == target["variant"])
    ).first()
    if duplicates:
        moving = [*moving, intents.c.id.not_in([r.id for r in duplicates])]
    moved = connection.execute(
        update(intents)
        .where(*moving)
        .values(
            shopify_variant_id=target["variant"],
            shopify_product_id=target["product"],
            shopify_inventory_item_id=cached.inventory_item_id if cached else None,
            product_title=cached.product_title if cached else None,
            variant_title=cached.variant_title if cached else None,
            updated_at=now,
        )
        .returning(intents.c.id)
    ).all()
    return len(moved), sorted(r.id for r in duplicates)


@endpoint
async def transfer_signups(request: Request, shop) -> Response:
    data = await _json_object(request)
    source = {
        "variant": _id(data.get("from_shopify_variant_id"), "from_shopify_variant_id"),
        "product": (
            None
            if data.get("from_shopify_product_id") is None
            else _id(data["from_shopify_product_id"], "from_shopify_product_id")
        ),
    }
    target = {
        "variant": _id(data.get("to_shopify_variant_id"), "to_shopify_variant_id"),
        "product": _id(data.get("to_shopify_product_id"), "to_shopify_product_id"),
    }
    kind = "unsent" if data.get("intent_type") is None else data["intent_type"]
    if not isinstance(kind, str) or kind not in INTENT_TYPES:
        raise MerchantError(400, "intent_type must be one of unsent, sent, all")
    if source["variant"] == target["variant"]:
        raise MerchantError(400, "to_shopify_variant_id must differ from from_shopify_variant_id")
    moved, cancelled = await run_in_threadpool(
        _transfer, request.app.state.engine, shop.id, source, target, INTENT_TYPES[kind]
    )
    return JSON({"transferred_count": moved, "duplicates_cancelled": cancelled})


@endpoint
async def not_found(request: Request, shop) -> Response:
    """Anything else under the prefix: STOQ's error body, not the router's plain text."""
    raise MerchantError(404, "Not found")


routes = [
    Mount(
        "/api/v1/external",
        routes=[
            Route("/intents", list_intents, methods=["GET"]),
            Route("/intents.json", list_intents, methods=["GET"]),
            Route("/intents/notify_intent", notify_intent, methods=["POST"]),
            Route("/intents/bulk_notify_intent", bulk_notify_intent, methods=["POST"]),
            Route("/intents/bulk_destroy", bulk_destroy, methods=["DELETE"]),
            Route("/intents/transfer_signups", transfer_signups, methods=["POST"]),
            Route("/intents/{id:path}", get_intent, methods=["GET"]),
            Route(
                "/{rest:path}", not_found, methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]
            ),
        ],
    )
]
