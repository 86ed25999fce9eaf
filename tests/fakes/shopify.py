"""A small fake of Shopify's side of the install: the consent screen (which, like Shopify, sends
the browser back to redirect_uri with a signed code) and the token endpoint. Served on 127.0.0.1
by a real HTTP server; the app reaches it through SHOPIFY_ADMIN_BASE_URL."""

import asyncio
import secrets
import time
from dataclasses import dataclass, field

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from ..support import signed_query


@dataclass
class FakeShopify:
    api_key: str
    api_secret: str
    base_url: str = ""
    token_mode: str = "ok"          # ok | error | slow | garbage
    slow_seconds: float = 3.0
    granted_scope: str = "read_products,read_inventory,write_app_proxy"
    codes: dict[str, str] = field(default_factory=dict)        # code -> shop
    token_requests: list[dict] = field(default_factory=list)
    tokens: dict[str, str] = field(default_factory=dict)       # shop -> last token issued

    def reset(self) -> None:
        self.token_mode = "ok"
        self.codes.clear()
        self.token_requests.clear()
        self.tokens.clear()

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
        if self.codes.pop(body.get("code", ""), None) != shop:
            return JSONResponse({"error": "invalid_request", "error_description": "code was already used"}, status_code=400)
        token = "shpat_" + secrets.token_hex(16)
        self.tokens[shop] = token
        return JSONResponse({"access_token": token, "scope": self.granted_scope})

    @property
    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/{shop}/admin/oauth/authorize", self.authorize, methods=["GET"]),
                Route("/{shop}/admin/oauth/access_token", self.access_token, methods=["POST"]),
            ]
        )
