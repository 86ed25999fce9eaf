"""The shop as Shopify names it: after every install a `shop_profile` job reads the shop's name and
currency from the Admin API and keeps them on the shop's row. Alerts name the shop by it (the
sender-name setting only names who an email is from), and money is shown in its currency. Until
the job has run, the name is made from the myshopify domain and the currency is the orders'.

With the read_locations scope granted, the same job keeps the names of the shop's locations, which
the delivery log names where stock came back at; without it, locations stay ids ("at 2
locations") and nothing fails. With read_markets and read_shipping it also keeps which locations
serve each market (shop_markets.py), which decides whose stock a market's signups wait for.

Shopify sends no webhook when a delivery profile changes, so the job is queued again for every
installed shop a day after it last was (`queue_stale`, a periodic task): a market or a warehouse
the merchant adds is counted within a day."""

from datetime import datetime, timedelta

from anyio import to_thread
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from . import coerce, inventory, jobs, shop_markets, stock_scope
from .inventory import TEXT
from .job_context import JobContext, ShopRow
from .jobs import ClaimedJob
from .models import JobKind, Shop
from .shops import INSTALLED, missing_scopes

shops = Shop.__table__
REFRESH = timedelta(days=1)  # how old a shop's profile may get before it is read again
REFRESH_LIMIT = 500  # shops queued per round (an hour): a large fleet is spread over hours

SHOP_PROFILE_QUERY = """
query ShopProfile {
  shop { name currencyCode }
}
"""

LOCATIONS_QUERY = """
query ShopLocations($after: String) {
  locations(first: 250, after: $after, includeInactive: true) {
    nodes { id name }
    pageInfo { hasNextPage endCursor }
  }
}
"""
LOCATION_PAGES = 10  # 2,500 locations: more than any shop has (Shopify's limit is 1,000 or so)


def parse(data: dict) -> dict[str, str]:
    """The columns to store from the query's answer (only what is there and well formed)."""
    shop = data.get("shop")
    shop = shop if isinstance(shop, dict) else {}
    values = {}
    name, currency = shop.get("name"), shop.get("currencyCode")
    if isinstance(name, str) and name.strip():
        values["name"] = name.strip()[:255]
    if (
        isinstance(currency, str)
        and len(currency) == 3
        and currency.isascii()
        and currency.isalpha()
    ):
        values["currency"] = currency.upper()
    return values


def parse_locations(data: dict) -> tuple[dict[int, str], str | None]:
    """The names on one page of `locations`, and the cursor of the next page (None: the last)."""
    page = data.get("locations")
    page = page if isinstance(page, dict) else {}
    named = {}
    for node in page.get("nodes") or []:
        if not isinstance(node, dict) or not isinstance(node.get("id"), str):
            continue
        location_id = coerce.shopify_id(node["id"].rsplit("/", 1)[-1])
        name = coerce.text(node.get("name"), TEXT)
        if location_id is not None and name:
            named[location_id] = name
    info = page.get("pageInfo")
    info = info if isinstance(info, dict) else {}
    cursor = info.get("endCursor") if info.get("hasNextPage") else None
    return named, cursor if isinstance(cursor, str) else None


async def read_profile(ctx: JobContext, shop: ShopRow, job: ClaimedJob) -> None:
    api = ctx.api(shop)
    values = parse(await api.query(SHOP_PROFILE_QUERY))
    if values:
        await to_thread.run_sync(_store, ctx, shop["id"], values)
    if not missing_scopes(shop["scopes"] or "", shop_markets.SCOPES):
        served, names = await shop_markets.read(api)
        await to_thread.run_sync(
            ctx.in_session, stock_scope.store_markets, shop["id"], served, names
        )
    if missing_scopes(shop["scopes"] or "", ["read_locations"]):
        return
    named: dict[int, str] = {}
    cursor = None
    for _ in range(LOCATION_PAGES):
        found, cursor = parse_locations(await api.query(LOCATIONS_QUERY, {"after": cursor}))
        named.update(found)
        if cursor is None:
            break
    await to_thread.run_sync(ctx.in_session, inventory.name_locations, shop["id"], named)


def _store(ctx: JobContext, shop_id: int, values: dict[str, str]) -> None:
    with ctx.engine.begin() as connection:
        connection.execute(update(shops).where(shops.c.id == shop_id).values(**values))


def queue_stale(session: Session, now: datetime) -> int:
    """Queue the job again for installed shops last queued `REFRESH` ago or more (the oldest first,
    up to `REFRESH_LIMIT`); how many were queued."""
    stale = (
        select(shops.c.id)
        .where(
            INSTALLED,
            or_(shops.c.profile_queued_at.is_(None), shops.c.profile_queued_at <= now - REFRESH),
        )
        .order_by(shops.c.profile_queued_at.is_not(None), shops.c.profile_queued_at, shops.c.id)
        .limit(REFRESH_LIMIT)
    )
    due = (
        session.execute(
            update(shops)
            .where(shops.c.id.in_(stale.scalar_subquery()))
            .values(profile_queued_at=now)
            .returning(shops.c.id)
        )
        .scalars()
        .all()
    )
    jobs.enqueue_many(
        session, JobKind.shop_profile, [(f"profile-{shop_id}", shop_id, {}) for shop_id in due]
    )
    return len(due)
