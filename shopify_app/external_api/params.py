"""Reading the merchant API's parameters: the JSON body, ids, flags, the list's filters and page.
A bad one is `ApiError.stoq` (400) naming it."""

from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from typing import Any

from starlette.requests import Request

from .. import unsent
from ..coerce import ID_MAX, shopify_id, whole
from ..contacts import ContactError, email_forms, normalize_email, normalize_phone
from ..errors import ApiError
from ..models import Intent
from ..notify import manual
from ..paging import Page
from ..request_body import BodyTooLarge, NotJson, json_body, read_body

intents = Intent.__table__

DEFAULT_PER_PAGE = 50
MAX_PER_PAGE = 500
MAX_IDS = 500
# Every stored time lies between these; a bound beyond them is the edge it passed.
START_OF_TIME = datetime.min.replace(tzinfo=UTC)
END_OF_TIME = datetime.max.replace(tzinfo=UTC)


def bad(message: str) -> ApiError:
    return ApiError.stoq(400, message)


async def json_object(request: Request) -> dict[str, Any]:
    limit = request.app.state.settings.MAX_BODY_BYTES
    try:
        body = await read_body(request, limit)
    except BodyTooLarge:
        raise ApiError.stoq(413, f"The body is larger than {limit} bytes") from None
    try:
        data = json_body(body)
    except NotJson as exc:
        raise bad(f"The body {exc}") from None
    if not isinstance(data, dict):
        raise bad("The body must be a JSON object")
    return data


def an_id(value: Any, field: str) -> int:
    """A positive whole number that fits the database's BIGINT (JSON or query string)."""
    found = shopify_id(value)
    if found is None:
        raise bad(f"{field} must be a positive whole number")
    return found


def path_id(raw: str) -> int:
    """The id in `/intents/{id}` (or `{id}.json`); what cannot be an id cannot be found (404)."""
    found = shopify_id(raw.removesuffix(".json"))
    if found is None:
        raise ApiError.stoq(404, manual.NOT_FOUND)
    return found


def flag(value: Any, field: str, default: bool) -> bool:
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise bad(f"{field} must be true or false")


def ids(data: dict[str, Any], field: str = "intent_ids") -> list[int]:
    value = data.get(field)
    if not isinstance(value, list) or not value:
        raise bad(f"{field} must be a non-empty list of intent ids")
    if len(value) > MAX_IDS:
        raise bad(f"{field} may hold at most {MAX_IDS} ids")
    return list(dict.fromkeys(an_id(v, field) for v in value))


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
        raise bad(f"{field} must be an ISO 8601 date (YYYY-MM-DD) or date-time") from None
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
        raise bad(f"{field} must not contain NUL characters")
    try:
        return normalize(value)
    except (ContactError, ValueError):
        return value.strip()


def _number(value: str | None, field: str, default: int, low: int, high: int) -> int:
    if value in (None, ""):
        return default
    number = whole(value, low, high)
    if number is None:
        raise bad(f"{field} must be a whole number from {low} to {high}")
    return number


def filters(q: Mapping[str, str], shop_id: int) -> tuple[list[Any], Page]:
    """The list's conditions (always scoped to the shop) and its page."""
    where = [intents.c.shop_id == shop_id]
    for field in ("shopify_variant_id", "shopify_product_id"):
        if q.get(field) not in (None, ""):
            where.append(intents.c[field] == an_id(q[field], field))
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
        raise bad("start_date must be before end_date")
    if start is not None:
        where.append(intents.c.created_at >= start)
    if end is not None:
        where.append(intents.c.created_at < end)
    if q.get("notified") not in (None, ""):
        sent = flag(q["notified"], "notified", False)
        where.append(unsent.was_sent() if sent else ~unsent.was_sent())
    page = _number(q.get("page"), "page", 1, 1, ID_MAX)
    per_page = _number(q.get("per_page"), "per_page", DEFAULT_PER_PAGE, 1, MAX_PER_PAGE)
    return where, Page(page, per_page)


INTENT_TYPES = ("unsent", "sent", "all")


def transfer(data: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], str]:
    """(from: variant and optional product, to: variant and product, which signups: INTENT_TYPES)."""
    source = {
        "variant": an_id(data.get("from_shopify_variant_id"), "from_shopify_variant_id"),
        "product": (
            None
            if data.get("from_shopify_product_id") is None
            else an_id(data["from_shopify_product_id"], "from_shopify_product_id")
        ),
    }
    target = {
        "variant": an_id(data.get("to_shopify_variant_id"), "to_shopify_variant_id"),
        "product": an_id(data.get("to_shopify_product_id"), "to_shopify_product_id"),
    }
    kind = "unsent" if data.get("intent_type") is None else data["intent_type"]
    if not isinstance(kind, str) or kind not in INTENT_TYPES:
        raise bad("intent_type must be one of unsent, sent, all")
    if source["variant"] == target["variant"]:
        raise bad("to_shopify_variant_id must differ from from_shopify_variant_id")
    return source, target, kind
