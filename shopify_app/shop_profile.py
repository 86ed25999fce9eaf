"""The shop as Shopify names it: after every install a `shop_profile` job reads the shop's name and
currency from the Admin API and keeps them on the shop's row. Alerts name the shop by it (the
sender-name setting only names who an email is from), and money is shown in its currency. Until
the job has run, the name is made from the myshopify domain and the currency is the orders'."""

from anyio import to_thread
from sqlalchemy import update

from .job_context import JobContext, ShopRow
from .jobs import ClaimedJob
from .models import Shop

shops = Shop.__table__

SHOP_PROFILE_QUERY = """
query ShopProfile {
  shop { name currencyCode }
}
"""


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


async def read_profile(ctx: JobContext, shop: ShopRow, job: ClaimedJob) -> None:
    values = parse(await ctx.api(shop).query(SHOP_PROFILE_QUERY))
    if values:
        await to_thread.run_sync(_store, ctx, shop["id"], values)


def _store(ctx: JobContext, shop_id: int, values: dict[str, str]) -> None:
    with ctx.engine.begin() as connection:
        connection.execute(update(shops).where(shops.c.id == shop_id).values(**values))
