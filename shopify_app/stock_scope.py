"""Which stock alerts whom. Three shop settings narrow what a restock is:

- `published_only` (default on): stock alerts only while the product is active and on the Online
  Store. While it is not, the variant's alertable stock is 0; publishing it while in stock is then
  a restock like any other (products/update queues the evaluation).
- `locations` (default all): only these locations' stock counts; stock at any other alerts no one.
- markets: a signup made in a Shopify Market counts only the stock at the locations that serve
  that market (of those the shop counts). Shopify ties them through shipping: a market is a set of
  countries (`Market.conditions.regionsCondition`), and a delivery profile's location group ships
  to the countries of its zones, "Rest of World" being every country. A location serves a market
  when one of its groups ships to one of the market's countries. This is read for the whole shop
  (the union over delivery profiles, not per product) with the read_markets and read_shipping
  scopes by the shop-profile job. A signup without a market, or in a market not read, counts every
  location the shop counts.

So a variant's waiting signups fall into audiences: the general one (key "") and one per market
with its own locations (key: the market's id). Each audience's stock is compared with what it was
when the app last decided (`variant.decided_stock`), and each restock is decided for its audience
alone. The rules here are pure; loading and storing are at the bottom."""

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, delete, insert, select
from sqlalchemy.orm import Session

from . import coerce
from .models import InventoryLevel, MarketLocation

GENERAL = ""  # the audience of signups without a market that has its own locations
market_locations, levels = MarketLocation.__table__, InventoryLevel.__table__


@dataclass(frozen=True)
class Scope:
    published_only: bool = True
    locations: frozenset[int] | None = None  # the shop's counted locations; None: all
    markets: Mapping[int, frozenset[int]] = field(default_factory=dict)  # market -> its locations

    def audience(self, market_id: int | None) -> str:
        return str(market_id) if market_id is not None and market_id in self.markets else GENERAL

    def locations_of(self, audience: str) -> frozenset[int] | None:
        """The locations whose stock counts for an audience (None: every location)."""
        if audience == GENERAL:
            return self.locations
        own = self.markets[int(audience)]
        return own if self.locations is None else own & self.locations

    def market_ids(self) -> list[int]:
        return sorted(self.markets)


def stock(available: Mapping[int, int | None], where: frozenset[int] | None) -> int | None:
    """Available units at the counted locations; None when no location's stock is tracked."""
    tracked = {loc: units for loc, units in available.items() if units is not None}
    if not tracked:
        return None
    return coerce.clamp32(sum(u for loc, u in tracked.items() if where is None or loc in where))


def alertable(units: int | None, published: bool | None, scope: Scope) -> int | None:
    """The stock that may alert: none while the product is known to be unpublished."""
    if units is not None and scope.published_only and published is False:
        return 0
    return units


def published_from_rest(product: Mapping[str, Any]) -> bool | None:
    """products/update (REST): active and on the Online Store (`published_at` set). None when the
    payload does not say."""
    status = product.get("status")
    if not isinstance(status, str) or "published_at" not in product:
        return None
    return status.lower() == "active" and product.get("published_at") is not None


def published_from_api(product: Mapping[str, Any]) -> bool | None:
    """Admin GraphQL: `status` ACTIVE and an `onlineStoreUrl` (null when not on the Online Store)."""
    status = product.get("status")
    if not isinstance(status, str) or "onlineStoreUrl" not in product:
        return None
    return status == "ACTIVE" and product.get("onlineStoreUrl") is not None


def serving(
    market_countries: Mapping[int, set[str]], groups: Iterable[tuple[set[int], set[str], bool]]
) -> dict[int, frozenset[int]]:
    """Which locations serve each market: `groups` are (locations, countries shipped to, ships to
    the rest of the world). A market no location ships to gets an empty set (no stock serves it)."""
    groups = list(groups)
    return {
        market: frozenset(
            loc
            for locations, countries, rest_of_world in groups
            if rest_of_world or countries & wanted
            for loc in locations
        )
        for market, wanted in market_countries.items()
        if wanted
    }


def parse_locations_setting(value: str | None) -> frozenset[int] | None:
    if not value:
        return None
    return frozenset(int(i) for i in json.loads(value))


def decided(row: Mapping[str, Any]) -> dict[str, int | None]:
    """What each audience's stock was when last decided. Before markets existed only the
    variant's `sellable` was kept: it stands for the general audience."""
    if row.get("decided_stock"):
        return {str(k): v for k, v in json.loads(row["decided_stock"]).items()}
    return {GENERAL: row.get("sellable")}


# -- loading and storing ----------------------------------------------------------------------


def load(connection: Session | Connection, shop: Mapping[str, Any]) -> Scope:
    rows = connection.execute(
        select(market_locations.c.market_id, market_locations.c.location_id).where(
            market_locations.c.shop_id == shop["id"]
        )
    ).all()
    markets: dict[int, set[int]] = {}
    for market_id, location_id in rows:
        markets.setdefault(market_id, set()).add(location_id)
    # A market stored with no serving location is kept as location 0 (no real location has it).
    return Scope(
        published_only=bool(shop.get("published_only", True)),
        locations=parse_locations_setting(shop.get("alert_locations")),
        markets={m: frozenset(loc for loc in locs if loc) for m, locs in markets.items()},
    )


def market_names(connection: Session | Connection, shop_id: int) -> dict[int, list[Any]]:
    """For the settings page: each market with its own locations, (name, location ids)."""
    rows = connection.execute(
        select(
            market_locations.c.market_id,
            market_locations.c.market_name,
            market_locations.c.location_id,
        )
        .where(market_locations.c.shop_id == shop_id)
        .order_by(market_locations.c.market_name, market_locations.c.location_id)
    ).all()
    found: dict[int, list[Any]] = {}
    for market_id, name, location_id in rows:
        entry = found.setdefault(market_id, [name or f"Market {market_id}", []])
        if location_id:
            entry[1].append(location_id)
    return found


def levels_of(session: Session, shop_id: int, item_id: int) -> dict[int, int | None]:
    return dict(
        session.execute(
            select(levels.c.location_id, levels.c.available).where(
                levels.c.shop_id == shop_id, levels.c.inventory_item_id == item_id
            )
        ).all()
    )


def store_markets(
    session: Session,
    shop_id: int,
    served: Mapping[int, frozenset[int]],
    names: Mapping[int, str],
) -> None:
    """Replace the shop's market -> locations map with what Shopify says now."""
    session.execute(delete(market_locations).where(market_locations.c.shop_id == shop_id))
    rows = [
        {
            "shop_id": shop_id,
            "market_id": market,
            "location_id": loc,
            "market_name": names.get(market),
        }
        for market, locs in sorted(served.items())
        for loc in (sorted(locs) or [0])
    ]
    if rows:
        session.execute(insert(market_locations), rows)
