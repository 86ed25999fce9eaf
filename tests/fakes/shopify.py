"""A small fake of Shopify: the consent screen (which, like Shopify, sends the browser back to
redirect_uri with a signed code), the token endpoint, and the Admin GraphQL endpoint for the queries
the app sends: stock, and the merchant's contact (every document is validated against Shopify's
schema at the app's version, deprecated fields refused). Served on 127.0.0.1 by a real HTTP
server; the app reaches it through SHOPIFY_ADMIN_BASE_URL.

The token endpoint is Shopify's of 2027 (PLATFORM.md section 1): the code grant and the session-token
exchange issue an expiring offline token (`access_ttl` seconds, a refresh token beside it) when asked
with `expiring=1`, else a non-expiring one, which GraphQL refuses; a refresh rotates the refresh token
and keeps the previous one valid until the new access token is first used, and refuses any other
(a reused or revoked one: `invalid_grant`); a non-expiring token can be migrated by token exchange.
GraphQL refuses an expired token with 401."""

import asyncio
import secrets
import time
from dataclasses import dataclass, field

import jwt
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from ..support import signed_query
from .admin_schema import admin_schema, scope_errors, validation_errors

GRANTED_SCOPE = "read_products,read_inventory,read_locations,read_markets,read_orders,read_shipping,write_app_proxy"
OFFLINE_TOKEN_TYPE = "urn:shopify:params:oauth:token-type:offline-access-token"


@dataclass
class ShopTokens:
    """One shop's refresh-token state at the fake."""

    refresh: str | None = None
    refresh_expires: float = 0.0
    previous_refresh: str | None = None  # still valid until the newest access token is used
    access_used: bool = False
    revoked: bool = False
    migrated: dict[str, dict] = field(
        default_factory=dict
    )  # non-expiring token -> the pair it became


@dataclass
class FakeShopify:
    api_key: str
    api_secret: str
    base_url: str = ""
    token_mode: str = "ok"  # ok | error | slow | garbage
    slow_seconds: float = 3.0
    granted_scope: str = GRANTED_SCOPE
    codes: dict[str, str] = field(default_factory=dict)  # code -> shop
    token_requests: list[dict] = field(default_factory=list)
    tokens: dict[str, str] = field(default_factory=dict)  # shop -> last token issued
    items: dict[int, "CatalogItem"] = field(
        default_factory=dict
    )  # inventory item id -> variant and levels
    graphql_calls: list[dict] = field(default_factory=list)
    graphql_failures: list = field(default_factory=list)  # queued: 429, 500 or "THROTTLED"
    graphql_delay: float = 0.0  # seconds each Admin API answer takes (Shopify slow)
    shop_emails: dict[str, str | None] = field(
        default_factory=dict
    )  # shop -> `shop { email }` (default owner@{shop})
    shop_currencies: dict[str, str] = field(default_factory=dict)  # shop -> `currencyCode`
    locations: dict[int, str] = field(default_factory=dict)  # location id -> name (every shop)
    markets: dict[int, list[str]] = field(default_factory=dict)  # market id -> its countries
    # delivery profiles' location groups: (location ids, countries shipped to, rest of world)
    delivery_groups: list[tuple[list[int], list[str], bool]] = field(default_factory=list)
    # Expiring offline tokens: an access token lives `access_ttl` seconds and comes with a refresh
    # token, rotated on every use. Tokens a test puts in `tokens` itself are taken as they are;
    # tokens issued without `expiring=1` are refused (Shopify's 2027 rule) unless refuse_non_expiring is off.
    access_ttl: int = 3600
    refresh_ttl: int = 90 * 24 * 3600
    refuse_non_expiring: bool = True
    lose_refresh_answers: int = (
        0  # answer this many refreshes after slow_seconds (the app times out)
    )
    refresh_delay: float = 0.0  # seconds every refresh takes (so that concurrent askers overlap)
    token_state: dict[str, "ShopTokens"] = field(default_factory=dict)
    expires: dict[str, float] = field(default_factory=dict)  # access token -> monotonic expiry
    non_expiring: set[str] = field(default_factory=set)
    refresh_uses: dict[str, int] = field(default_factory=dict)  # refresh token -> times sent
    refreshes: list[dict] = field(default_factory=list)  # refreshes granted
    refused_refreshes: list[str] = field(default_factory=list)
    migrations: list[dict] = field(default_factory=list)
    unauthorized: list[dict] = field(default_factory=list)  # GraphQL calls answered 401
    issued: list[str] = field(default_factory=list)  # every access and refresh token handed out
    # flowTriggerReceive: each call's shop, handle and payload; queued userErrors answer the next calls
    flow_triggers: list[dict] = field(default_factory=list)
    flow_user_errors: list[str] = field(default_factory=list)

    def reset(self) -> None:
        self.token_mode = "ok"
        self.granted_scope = GRANTED_SCOPE
        self.codes.clear()
        self.token_requests.clear()
        self.tokens.clear()
        self.items.clear()
        self.graphql_calls.clear()
        self.graphql_failures.clear()
        self.shop_emails.clear()
        self.shop_currencies.clear()
        self.locations.clear()
        self.markets.clear()
        self.delivery_groups.clear()
        self.graphql_delay = 0.0
        self.access_ttl, self.refresh_ttl, self.refuse_non_expiring = 3600, 90 * 24 * 3600, True
        self.lose_refresh_answers, self.slow_seconds, self.refresh_delay = 0, 3.0, 0.0
        for collection in (
            self.token_state,
            self.expires,
            self.non_expiring,
            self.refresh_uses,
            self.refreshes,
            self.refused_refreshes,
            self.migrations,
            self.unauthorized,
            self.issued,
            self.flow_triggers,
            self.flow_user_errors,
        ):
            collection.clear()

    def issue_expiring(self, shop: str) -> dict:
        """An expiring pair for `shop`, as an install would have had it (tests' installed shops)."""
        return self._issue(shop, self.shop_tokens(shop), expiring=True)

    def issue_non_expiring(self, shop: str) -> str:
        """A pre-2027 non-expiring token for `shop`."""
        return self._issue(shop, self.shop_tokens(shop), expiring=False)["access_token"]

    def revoke(self, shop: str) -> None:
        """The merchant revoked the app's access (or the refresh token expired unused): every refresh
        and migration is refused with invalid_grant."""
        self.shop_tokens(shop).revoked = True

    def add_item(self, item: "CatalogItem") -> "CatalogItem":
        self.items[item.inventory_item_id] = item
        return item

    async def graphql(self, request: Request) -> Response:
        answer = await self._graphql(request)
        if self.graphql_delay:  # slow to answer; all that the call records is recorded already
            await asyncio.sleep(self.graphql_delay)
        return answer

    async def _graphql(self, request: Request) -> Response:
        shop = request.path_params["shop"]
        body = await request.json()
        errors = validation_errors(body["query"])
        denied = [] if errors else scope_errors(body["query"], self.granted_scope)
        self.graphql_calls.append(
            {
                "shop": shop,
                "token": request.headers.get("x-shopify-access-token"),
                "query": body["query"],
                "variables": body.get("variables") or {},
                "errors": errors + denied,
            }
        )
        refusal = self.token_refusal(shop, request.headers.get("x-shopify-access-token"))
        if refusal is not None:
            self.unauthorized.append({"shop": shop, "reason": refusal})
            return JSONResponse({"errors": refusal}, status_code=401)
        if errors:
            return JSONResponse({"errors": [{"message": m} for m in errors]})
        if denied:
            return JSONResponse(
                {
                    "data": None,
                    "errors": [
                        {"message": m, "extensions": {"code": "ACCESS_DENIED"}} for m in denied
                    ],
                }
            )
        if self.graphql_failures:
            failure = self.graphql_failures.pop(0)
            if failure == "THROTTLED":
                return JSONResponse(
                    {
                        "errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}],
                        "extensions": {
                            "cost": {
                                "requestedQueryCost": 12,
                                "actualQueryCost": None,
                                "throttleStatus": {
                                    "maximumAvailable": 2000.0,
                                    "currentlyAvailable": 2,
                                    "restoreRate": 100.0,
                                },
                            }
                        },
                    }
                )
            return JSONResponse(
                {"errors": "busy"}, status_code=failure, headers={"Retry-After": "0.1"}
            )
        variables = body.get("variables") or {}
        if "flowTriggerReceive(" in body["query"]:
            self.flow_triggers.append(
                {
                    "shop": shop,
                    "handle": variables.get("handle"),
                    "payload": variables.get("payload"),
                }
            )
            errors = (
                [{"field": ["payload"], "message": self.flow_user_errors.pop(0)}]
                if self.flow_user_errors
                else []
            )
            return JSONResponse({"data": {"flowTriggerReceive": {"userErrors": errors}}})
        if "shop {" in body["query"]:
            email = self.shop_emails.get(
                shop, f"owner@{shop.removesuffix('.myshopify.com')}.example"
            )
            return JSONResponse(
                {
                    "data": {
                        "shop": {
                            "email": email,
                            "name": shop.split(".")[0].replace("-", " ").title(),
                            "currencyCode": self.shop_currencies.get(shop, "USD"),
                        }
                    }
                }
            )
        if "markets(" in body["query"]:
            nodes = [
                {
                    "id": f"gid://shopify/Market/{mid}",
                    "conditions": {
                        "regionsCondition": {"regions": {"nodes": [{"code": c} for c in codes]}}
                    },
                }
                for mid, codes in sorted(self.markets.items())
            ]
            page = {"nodes": nodes, "pageInfo": {"hasNextPage": False, "endCursor": None}}
            return JSONResponse({"data": {"markets": page}})
        if "deliveryProfiles(" in body["query"]:
            groups = [
                {
                    "locationGroup": {
                        "locations": {
                            "nodes": [{"id": f"gid://shopify/Location/{lid}"} for lid in lids]
                        }
                    },
                    "countriesInAnyZone": [
                        {"country": {"code": {"countryCode": c, "restOfWorld": False}}}
                        for c in countries
                    ]
                    + (
                        [{"country": {"code": {"countryCode": None, "restOfWorld": True}}}]
                        if rest
                        else []
                    ),
                }
                for lids, countries, rest in self.delivery_groups
            ]
            page = {
                "nodes": [{"profileLocationGroups": groups}],
                "pageInfo": {"hasNextPage": False, "endCursor": None},
            }
            return JSONResponse({"data": {"deliveryProfiles": page}})
        if "locations(" in body["query"]:
            nodes = [
                {"id": f"gid://shopify/Location/{lid}", "name": name}
                for lid, name in sorted(self.locations.items())
            ]
            page = {"nodes": nodes, "pageInfo": {"hasNextPage": False, "endCursor": None}}
            return JSONResponse({"data": {"locations": page}})
        if "productVariant(" in body["query"]:
            wanted = int(variables["id"].rsplit("/", 1)[1])
            item = next((i for i in self.items.values() if i.variant_id == wanted), None)
            node = (
                {
                    **item.variant_node(),
                    "inventoryItem": {"legacyResourceId": str(item.inventory_item_id)},
                }
                if item
                else None
            )
            return JSONResponse({"data": {"productVariant": node}})
        if "inventoryItem(" in body["query"]:
            item = self.items.get(int(variables["id"].rsplit("/", 1)[1]))
            return JSONResponse({"data": {"inventoryItem": item.item_node() if item else None}})
        by_variant = {i.variant_id: i for i in self.items.values()}
        nodes = []
        for gid in variables.get("ids", []):
            item = by_variant.get(int(gid.rsplit("/", 1)[1]))
            nodes.append(
                {
                    **item.variant_node(),
                    "inventoryItem": {k: v for k, v in item.item_node().items() if k != "variants"},
                }
                if item
                else None
            )
        return JSONResponse({"data": {"nodes": nodes}})

    def consent_redirect(
        self, shop: str, redirect_uri: str, state: str, timestamp: int | None = None
    ) -> str:
        """Where Shopify sends the browser after the merchant approves."""
        code = secrets.token_hex(16)
        self.codes[code] = shop
        query = signed_query(
            {
                "code": code,
                "shop": shop,
                "state": state,
                "timestamp": str(timestamp or int(time.time())),
            },
            self.api_secret,
        )
        return f"{redirect_uri}?{query}"

    async def authorize(self, request: Request) -> Response:
        shop = request.path_params["shop"]
        q = request.query_params
        if q.get("client_id") != self.api_key:
            return PlainTextResponse("unknown client_id", status_code=400)
        return RedirectResponse(
            self.consent_redirect(shop, q["redirect_uri"], q["state"]), status_code=302
        )

    async def access_token(self, request: Request) -> Response:
        shop = request.path_params["shop"]
        body = await request.json()
        self.token_requests.append({"shop": shop, **body})
        if self.token_mode == "error":
            return JSONResponse({"errors": "internal"}, status_code=500)
        if self.token_mode == "slow":
            await asyncio.sleep(self.slow_seconds)
        if self.token_mode == "garbage":
            return PlainTextResponse("<html>oops</html>")
        if body.get("client_id") != self.api_key or body.get("client_secret") != self.api_secret:
            return JSONResponse({"error": "invalid_client"}, status_code=400)
        state = self.shop_tokens(shop)
        grant_type = body.get("grant_type")
        if grant_type == "refresh_token":
            return await self._refresh(shop, state, body.get("refresh_token"))
        if grant_type == "urn:ietf:params:oauth:grant-type:token-exchange":
            if body.get("subject_token_type") == OFFLINE_TOKEN_TYPE:
                return self._migrate(shop, state, body)
            if not self._session_token_for(shop, body):
                return JSONResponse({"error": "invalid_subject_token"}, status_code=400)
        elif self.codes.pop(body.get("code", ""), None) != shop:
            return JSONResponse(
                {"error": "invalid_request", "error_description": "code was already used"},
                status_code=400,
            )
        state.revoked = False  # the merchant approved the app again
        return JSONResponse(
            self._issue(shop, state, expiring=body.get("expiring") in ("1", 1, True))
        )

    # -- Expiring offline tokens (PLATFORM.md section 1) ------------------------------------------
    def shop_tokens(self, shop: str) -> "ShopTokens":
        return self.token_state.setdefault(shop, ShopTokens())

    def _issue(self, shop: str, state: "ShopTokens", *, expiring: bool) -> dict:
        token = "shpat_" + secrets.token_hex(16)
        self.tokens[shop] = token
        self.issued.append(token)
        answer = {"access_token": token, "scope": self.granted_scope}
        if not expiring:
            self.non_expiring.add(token)
            state.refresh = state.previous_refresh = None
            return answer
        refresh = "shprt_" + secrets.token_hex(16)
        self.issued.append(refresh)
        self.expires[token] = time.monotonic() + self.access_ttl
        state.refresh, state.previous_refresh, state.access_used = refresh, None, False
        state.refresh_expires = time.monotonic() + self.refresh_ttl
        return {
            **answer,
            "expires_in": self.access_ttl,
            "refresh_token": refresh,
            "refresh_token_expires_in": self.refresh_ttl,
        }

    async def _refresh(self, shop: str, state: "ShopTokens", refresh: str | None) -> Response:
        if self.refresh_delay:
            await asyncio.sleep(self.refresh_delay)
        self.refresh_uses[refresh or ""] = self.refresh_uses.get(refresh or "", 0) + 1
        current = (
            refresh is not None
            and refresh == state.refresh
            and time.monotonic() < state.refresh_expires
        )
        # Shopify keeps the previous refresh token valid until the new access token is first used.
        retried = (
            refresh is not None and refresh == state.previous_refresh and not state.access_used
        )
        if state.revoked or not (current or retried):
            self.refused_refreshes.append(refresh or "")
            return JSONResponse(
                {"error": "invalid_grant", "error_description": "refresh token is invalid"},
                status_code=400,
            )
        used = refresh if current else state.previous_refresh
        answer = self._issue(shop, state, expiring=True)
        state.previous_refresh = used
        self.refreshes.append({"shop": shop, "refresh_token": refresh, "retry": retried})
        if self.lose_refresh_answers > 0:
            self.lose_refresh_answers -= 1
            await asyncio.sleep(self.slow_seconds)  # rotated, but the app times out before it hears
        return JSONResponse(answer)

    def _migrate(self, shop: str, state: "ShopTokens", body: dict) -> Response:
        """A non-expiring offline token traded for an expiring pair, without the merchant; the old
        token stops working; a retry with the same old token answers the same pair."""
        subject = body.get("subject_token")
        if body.get("requested_token_type") != OFFLINE_TOKEN_TYPE or body.get("expiring") not in (
            "1",
            1,
            True,
        ):
            return JSONResponse({"error": "invalid_request"}, status_code=400)
        if subject in state.migrated:
            return JSONResponse(state.migrated[subject])
        if state.revoked or subject != self.tokens.get(shop) or subject in self.expires:
            return JSONResponse({"error": "invalid_subject_token"}, status_code=400)
        answer = self._issue(shop, state, expiring=True)
        state.migrated[subject] = answer
        self.migrations.append({"shop": shop})
        return JSONResponse(answer)

    def token_refusal(self, shop: str, token: str | None) -> str | None:
        """Why Shopify would refuse `token` for `shop` now, or None if it takes it."""
        if token is None or token != self.tokens.get(shop):
            return "[API] Invalid API key or access token (unrecognized login or wrong password)"
        if token in self.non_expiring and self.refuse_non_expiring:
            return "[API] Non-expiring access tokens are no longer accepted for the Admin API"
        if token in self.expires:
            if time.monotonic() >= self.expires[token]:
                return "[API] This access token has expired"
            state = self.shop_tokens(shop)
            state.access_used, state.previous_refresh = True, None
        return None

    def _session_token_for(self, shop: str, body: dict) -> bool:
        """Token exchange: the subject must be a live session token of this app for this shop."""
        if (
            body.get("subject_token_type") != "urn:ietf:params:oauth:token-type:id_token"
            or body.get("requested_token_type")
            != "urn:shopify:params:oauth:token-type:offline-access-token"
        ):
            return False
        try:
            claims = jwt.decode(
                body.get("subject_token", ""),
                self.api_secret,
                algorithms=["HS256"],
                audience=self.api_key,
                leeway=10,
            )
        except jwt.PyJWTError:
            return False
        return claims.get("dest") == f"https://{shop}"

    @property
    def app(self) -> Starlette:
        admin_schema()  # built before the first request: it takes longer than the app's timeout for a call
        return Starlette(
            routes=[
                Route("/{shop}/admin/oauth/authorize", self.authorize, methods=["GET"]),
                Route("/{shop}/admin/oauth/access_token", self.access_token, methods=["POST"]),
                Route("/{shop}/admin/api/{version}/graphql.json", self.graphql, methods=["POST"]),
            ]
        )


@dataclass
class CatalogItem:
    """One variant as the fake Admin API knows it, with `available` per location."""

    inventory_item_id: int
    variant_id: int
    product_id: int
    product_title: str = "Linen Shirt"
    variant_title: str = "Green / M"
    handle: str = "linen-shirt"
    price: str = "49.00"
    sku: str = "LS-G-M"
    image: str = "https://cdn.example.com/linen-shirt.jpg"
    levels: dict[int, int | None] = field(default_factory=dict)
    updated_at: str = "2026-11-22T10:00:00Z"
    status: str = "ACTIVE"  # the product's
    on_online_store: bool = True

    def variant_node(self) -> dict:
        return {
            "id": f"gid://shopify/ProductVariant/{self.variant_id}",
            "legacyResourceId": str(self.variant_id),
            "title": self.variant_title,
            "sku": self.sku,
            "price": self.price,
            "media": {"nodes": [{"preview": {"image": {"url": self.image}}}] if self.image else []},
            "product": {
                "id": f"gid://shopify/Product/{self.product_id}",
                "legacyResourceId": str(self.product_id),
                "title": self.product_title,
                "handle": self.handle,
                "status": self.status,
                "onlineStoreUrl": (
                    f"https://shop.example/products/{self.handle}" if self.on_online_store else None
                ),
                "featuredMedia": None,
            },
        }

    def item_node(self) -> dict:
        return {
            "legacyResourceId": str(self.inventory_item_id),
            "tracked": True,
            "variants": {"nodes": [self.variant_node()]},
            "inventoryLevels": {
                "nodes": [
                    {
                        "location": {"id": f"gid://shopify/Location/{loc}"},
                        "quantities": [{"name": "available", "quantity": qty}],
                        "updatedAt": self.updated_at,
                    }
                    for loc, qty in self.levels.items()
                ]
            },
        }
