"""A small fake of Shopify: the consent screen (which, like Shopify, sends the browser back to
redirect_uri with a signed code), the token endpoint (code grant and session-token exchange), and the Admin GraphQL endpoint for the queries
the app sends: stock, and the merchant's contact (every document is validated against Shopify's schema). Served on
127.0.0.1 by a real HTTP server; the app reaches it through SHOPIFY_ADMIN_BASE_URL."""

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
from .admin_schema import validation_errors


GRANTED_SCOPE = "read_products,read_inventory,read_orders,write_app_proxy"


@dataclass
class FakeShopify:
    api_key: str
    api_secret: str
    base_url: str = ""
    token_mode: str = "ok"          # ok | error | slow | garbage
    slow_seconds: float = 3.0
    granted_scope: str = GRANTED_SCOPE
    codes: dict[str, str] = field(default_factory=dict)        # code -> shop
    token_requests: list[dict] = field(default_factory=list)
    tokens: dict[str, str] = field(default_factory=dict)       # shop -> last token issued
    items: dict[int, "CatalogItem"] = field(default_factory=dict)  # inventory item id -> variant and levels
    graphql_calls: list[dict] = field(default_factory=list)
    graphql_failures: list = field(default_factory=list)       # queued: 429, 500 or "THROTTLED"
    shop_emails: dict[str, str | None] = field(default_factory=dict)  # shop -> `shop { email }` (default owner@{shop})

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

    def add_item(self, item: "CatalogItem") -> "CatalogItem":
        self.items[item.inventory_item_id] = item
        return item

    async def graphql(self, request: Request) -> Response:
        shop = request.path_params["shop"]
        body = await request.json()
        errors = validation_errors(body["query"])
        self.graphql_calls.append({"shop": shop, "token": request.headers.get("x-shopify-access-token"),
                                   "query": body["query"], "variables": body.get("variables") or {},
                                   "errors": errors})
        if request.headers.get("x-shopify-access-token") != self.tokens.get(shop):
            return JSONResponse({"errors": "[API] Invalid API key or access token"}, status_code=401)
        if errors:
            return JSONResponse({"errors": [{"message": m} for m in errors]})
        if self.graphql_failures:
            failure = self.graphql_failures.pop(0)
            if failure == "THROTTLED":
                return JSONResponse({"errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}],
                                     "extensions": {"cost": {"requestedQueryCost": 12, "actualQueryCost": None,
                                     "throttleStatus": {"maximumAvailable": 2000.0, "currentlyAvailable": 2,
                                                        "restoreRate": 100.0}}}})
            return JSONResponse({"errors": "busy"}, status_code=failure, headers={"Retry-After": "0.1"})
        variables = body.get("variables") or {}
        if "shop {" in body["query"]:
            email = self.shop_emails.get(shop, f"owner@{shop.removesuffix('.myshopify.com')}.example")
            return JSONResponse({"data": {"shop": {"email": email, "name": shop.split(".")[0].replace("-", " ").title()}}})
        if "inventoryItem(" in body["query"]:
            item = self.items.get(int(variables["id"].rsplit("/", 1)[1]))
            return JSONResponse({"data": {"inventoryItem": item.item_node() if item else None}})
        by_variant = {i.variant_id: i for i in self.items.values()}
        nodes = []
        for gid in variables.get("ids", []):
            item = by_variant.get(int(gid.rsplit("/", 1)[1]))
            nodes.append({**item.variant_node(), "inventoryItem": {k: v for k, v in item.item_node().items()
                                                                    if k != "variant"}} if item else None)
        return JSONResponse({"data": {"nodes": nodes}})

    def consent_redirect(self, shop: str, redirect_uri: str, state: str, timestamp: int | None = None) -> str:
        """Where Shopify sends the browser after the merchant approves."""
        code = secrets.token_hex(16)
        self.codes[code] = shop
        query = signed_query(
            {"code": code, "shop": shop, "state": state, "timestamp": str(timestamp or int(time.time()))},
            self.api_secret,
        )
        return f"{redirect_uri}?{query}"

    async def authorize(self, request: Request) -> Response:
        shop = request.path_params["shop"]
        q = request.query_params
        if q.get("client_id") != self.api_key:
            return PlainTextResponse("unknown client_id", status_code=400)
        return RedirectResponse(self.consent_redirect(shop, q["redirect_uri"], q["state"]), status_code=302)

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
        if body.get("grant_type") == "urn:ietf:params:oauth:grant-type:token-exchange":
            if not self._session_token_for(shop, body):
                return JSONResponse({"error": "invalid_subject_token"}, status_code=400)
        elif self.codes.pop(body.get("code", ""), None) != shop:
            return JSONResponse({"error": "invalid_request", "error_description": "code was already used"}, status_code=400)
        token = "shpat_" + secrets.token_hex(16)
        self.tokens[shop] = token
        return JSONResponse({"access_token": token, "scope": self.granted_scope})

    def _session_token_for(self, shop: str, body: dict) -> bool:
        """Token exchange: the subject must be a live session token of this app for this shop."""
        if body.get("subject_token_type") != "urn:ietf:params:oauth:token-type:id_token" or \
                body.get("requested_token_type") != "urn:shopify:params:oauth:token-type:offline-access-token":
            return False
        try:
            claims = jwt.decode(body.get("subject_token", ""), self.api_secret, algorithms=["HS256"], audience=self.api_key,
                                leeway=10)
        except jwt.PyJWTError:
            return False
        return claims.get("dest") == f"https://{shop}"

    @property
    def app(self) -> Starlette:
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

    def variant_node(self) -> dict:
        return {
            "id": f"gid://shopify/ProductVariant/{self.variant_id}",
            "legacyResourceId": str(self.variant_id),
            "title": self.variant_title,
            "sku": self.sku,
            "price": self.price,
            "image": {"url": self.image},
            "product": {"id": f"gid://shopify/Product/{self.product_id}", "legacyResourceId": str(self.product_id),
                        "title": self.product_title, "handle": self.handle, "featuredImage": None},
        }

    def item_node(self) -> dict:
        return {
            "legacyResourceId": str(self.inventory_item_id),
            "tracked": True,
            "variant": self.variant_node(),
            "inventoryLevels": {"nodes": [
                {"location": {"legacyResourceId": str(loc)},
                 "quantities": [{"name": "available", "quantity": qty}], "updatedAt": self.updated_at}
                for loc, qty in self.levels.items()
            ]},
        }
