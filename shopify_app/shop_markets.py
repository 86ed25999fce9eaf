"""Which locations serve which Shopify Market, read from the Admin API (the rule is in
`stock_scope.py`): markets' countries need read_markets, delivery profiles' zones read_shipping.
The shop-profile job reads both after every install when both scopes are granted."""

from typing import Any

from . import coerce, stock_scope
from .inventory import TEXT
from .shopify_graphql import AdminApi

PAGES = 20  # at most 1,000 markets and 500 delivery profiles: beyond any shop

MARKETS_QUERY = """
query ShopMarkets($after: String) {
  markets(first: 50, after: $after) {
    nodes {
      id
      name
      conditions {
        regionsCondition {
          regions(first: 250) { nodes { ... on MarketRegionCountry { code } } }
        }
      }
    }
    pageInfo { hasNextPage endCursor }
  }
}
"""

DELIVERY_QUERY = """
query ShopDeliveryZones($after: String) {
  deliveryProfiles(first: 25, after: $after) {
    nodes {
      profileLocationGroups {
        locationGroup { locations(first: 250) { nodes { id } } }
        countriesInAnyZone { country { code { countryCode restOfWorld } } }
      }
    }
    pageInfo { hasNextPage endCursor }
  }
}
"""

SCOPES = ["read_markets", "read_shipping"]


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _nodes(value: Any) -> list[dict[str, Any]]:
    nodes = _dict(value).get("nodes")
    return [n for n in nodes if isinstance(n, dict)] if isinstance(nodes, list) else []


def _id(value: Any) -> int | None:
    return coerce.shopify_id(value.rsplit("/", 1)[-1]) if isinstance(value, str) else None


def _cursor(page: dict[str, Any]) -> str | None:
    info = _dict(page.get("pageInfo"))
    cursor = info.get("endCursor") if info.get("hasNextPage") else None
    return cursor if isinstance(cursor, str) else None


def parse_markets(
    data: dict[str, Any], names: dict[int, str]
) -> tuple[dict[int, set[str]], str | None]:
    """Each market's countries on one page (markets without a regions condition are left out:
    they are not tied to places), and the next page's cursor; their names go into `names`."""
    page = _dict(data.get("markets"))
    found = {}
    for node in _nodes(page):
        market_id = _id(node.get("id"))
        regions = _dict(_dict(node.get("conditions")).get("regionsCondition")).get("regions")
        codes = {
            r["code"].upper()
            for r in _nodes(regions)
            if isinstance(r.get("code"), str) and len(r["code"]) == 2
        }
        if market_id is not None and codes:
            found[market_id] = codes
            names[market_id] = coerce.text(node.get("name"), TEXT) or f"Market {market_id}"
    return found, _cursor(page)


def parse_groups(
    data: dict[str, Any],
) -> tuple[list[tuple[set[int], set[str], bool]], str | None]:
    """Each location group on one page: its locations, the countries it ships to, and whether it
    ships to the rest of the world."""
    page = _dict(data.get("deliveryProfiles"))
    groups = []
    for profile in _nodes(page):
        for group in profile.get("profileLocationGroups") or []:
            group = _dict(group)
            locations = {
                loc
                for node in _nodes(_dict(group.get("locationGroup")).get("locations"))
                if (loc := _id(node.get("id"))) is not None
            }
            countries, rest = set(), False
            for zone in group.get("countriesInAnyZone") or []:
                code = _dict(_dict(_dict(zone).get("country")).get("code"))
                if code.get("restOfWorld"):
                    rest = True
                elif isinstance(code.get("countryCode"), str):
                    countries.add(code["countryCode"].upper())
            if locations:
                groups.append((locations, countries, rest))
    return groups, _cursor(page)


async def read(api: AdminApi) -> tuple[dict[int, frozenset[int]], dict[int, str]]:
    """The shop's market -> serving locations, from both reads, and the markets' names."""
    countries: dict[int, set[str]] = {}
    names: dict[int, str] = {}
    groups: list[tuple[set[int], set[str], bool]] = []
    cursor = None
    for _ in range(PAGES):
        found, cursor = parse_markets(await api.query(MARKETS_QUERY, {"after": cursor}), names)
        countries.update(found)
        if cursor is None:
            break
    if not countries:
        return {}, {}
    for _ in range(PAGES):
        page, cursor = parse_groups(await api.query(DELIVERY_QUERY, {"after": cursor}))
        groups.extend(page)
        if cursor is None:
            break
    return stock_scope.serving(countries, groups), names
