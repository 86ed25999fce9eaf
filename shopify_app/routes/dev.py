"""Development only (`APP_ENV=development`; 404 otherwise): a local storefront that renders the
theme app extension's real block, and a stand-in for Shopify's app proxy that signs each request
as Shopify does and forwards it to `/proxy/...`.

- `GET /dev/storefront`: a product page of the demo shop (shopify_app/devshop.py) with the block
  (rendered by shopify_app/devshop_liquid.py), the stock of each variant with buttons that restock
  or sell it out through the real, signed `inventory_levels/update` webhook, the signups stored
  and the alerts written to `outbox/`.
- `GET /dev/admin`: the embedded admin of the demo shop in a plain browser: a session token
  minted with the app's secret as App Bridge would (devshop.session_token), then `/app` with it.
- `/apps/back-in-stock/{path}`: what Shopify does on the shop's domain (PLATFORM.md section 2): the
  query gets `shop`, `logged_in_customer_id`, `path_prefix`, `timestamp` and `signature`, cookies
  are dropped, `X-Forwarded-For` / `X-Forwarded-Host` name the shopper, and method, body and
  content type go to `/proxy/{path}` of this same app (in process).
"""

import asyncio
import base64
import json
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qsl, urlencode

import httpx
from anyio import to_thread
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from .. import dev_storefront, devshop, devshop_liquid
from ..coerce import shopify_id
from ..dev_storefront import RESTOCK_UNITS
from ..verify import proxy_signature, webhook_hmac

PROXY_PREFIX = "/apps/back-in-stock"
SIGNED_BY_SHOPIFY = {"shop", "logged_in_customer_id", "path_prefix", "timestamp", "signature"}
# Request headers Shopify's proxy passes on (cookies and the like are stripped).
FORWARDED_HEADERS = ("content-type", "accept", "accept-language", "user-agent")
# Response headers passed back to the browser (never Set-Cookie, which Shopify strips too).
RETURNED_HEADERS = (
    "content-type",
    "retry-after",
    "cache-control",
    "service-worker-allowed",
    "location",
)
SETTLE_SECONDS = 6.0
TEMPLATES = Path(__file__).resolve().parent.parent.parent / "templates" / "dev"
pages = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]))


async def on_startup(app: Starlette) -> None:
    """Called by the lifespan in development: create the demo shop and its products."""
    await to_thread.run_sync(devshop.seed, app.state.engine, app.state.settings)


def _page(template: str, status: int = 200, **context) -> HTMLResponse:
    return HTMLResponse(
        pages.get_template(template).render(**context),
        status_code=status,
        headers={"Cache-Control": "no-store"},
    )


# -- the storefront -------------------------------------------------------------------------------


async def storefront(request: Request) -> Response:
    state = request.app.state
    data = await to_thread.run_sync(
        dev_storefront.storefront_data, state.engine, state.settings, request.query_params
    )
    return _page("storefront.html", **data)


async def home(request: Request) -> Response:
    return RedirectResponse("/dev/storefront", status_code=307)


async def extension_asset(request: Request) -> Response:
    name = request.path_params["name"]
    path = devshop_liquid.ASSETS / name
    if "/" in name or name.startswith(".") or not path.is_file():
        return Response("Not Found", status_code=404, media_type="text/plain")
    return FileResponse(path, headers={"Cache-Control": "no-cache"})


async def admin(request: Request) -> Response:
    """The demo shop's admin without Shopify: what the Shopify admin's iframe would load, with a
    session token signed by this app's own secret (only this route, only in development)."""
    token = devshop.session_token(request.app.state.settings, request.app.state.clock())
    host = base64.urlsafe_b64encode(f"admin.shopify.com/store/{devshop.SHOP_HANDLE}".encode())
    query = urlencode({"shop": devshop.SHOP, "host": host.decode().rstrip("="), "id_token": token})
    return RedirectResponse(f"/app?{query}", status_code=303, headers={"Cache-Control": "no-store"})


# -- stock changes through the real webhook ------------------------------------------------------


async def _webhook(request: Request, topic: str, payload: dict) -> httpx.Response:
    settings = request.app.state.settings
    body = json.dumps(payload).encode()
    delivery = str(uuid.uuid4())
    headers = {
        "Content-Type": "application/json",
        "X-Shopify-Topic": topic,
        "X-Shopify-Shop-Domain": devshop.SHOP,
        "X-Shopify-Hmac-Sha256": webhook_hmac(settings.SHOPIFY_API_SECRET, body),
        "X-Shopify-Webhook-Id": delivery,
        "X-Shopify-Event-Id": f"dev-{delivery}",
        "X-Shopify-API-Version": settings.SHOPIFY_API_VERSION,
        "X-Shopify-Triggered-At": datetime.now(UTC).isoformat(),
    }
    async with _in_process(request) as client:
        return await client.post(f"/webhooks/{topic}", content=body, headers=headers)


async def change_stock(request: Request) -> Response:
    """Restock a variant (RESTOCK_UNITS more at the first location) or sell it out (0 everywhere),
    one signed `inventory_levels/update` per location, as Shopify would send them."""
    form = dict(parse_qsl((await request.body()).decode("utf-8", "replace"), max_num_fields=20))
    found = devshop.find_variant(shopify_id(form.get("variant")) or 0)
    if found is None:
        return Response("Unknown variant", status_code=400, media_type="text/plain")
    product, variant = found
    engine = request.app.state.engine
    levels = await to_thread.run_sync(dev_storefront.levels, engine, variant.inventory_item_id)
    first = devshop.LOCATIONS[0].id
    if form.get("action") == "sell_out":
        changes = {location.id: 0 for location in devshop.LOCATIONS}
    else:
        changes = {first: levels.get(first, 0) + RESTOCK_UNITS}
    now = datetime.now(UTC).isoformat()
    item = variant.inventory_item_id
    for location_id, available in changes.items():
        response = await _webhook(
            request,
            "inventory_levels/update",
            {
                "inventory_item_id": item,
                "location_id": location_id,
                "available": available,
                "updated_at": now,
                "admin_graphql_api_id": f"gid://shopify/InventoryLevel/{location_id}?inventory_item_id={item}",
            },
        )
        if response.status_code != 200:
            return Response(
                f"The webhook was answered {response.status_code}: {response.text}",
                status_code=502,
                media_type="text/plain",
            )
    expected = sum({**levels, **changes}.values())
    notice = "stock-changed"
    if request.app.state.settings.WORKER_IN_PROCESS:
        deadline = time.monotonic() + SETTLE_SECONDS
        while not await to_thread.run_sync(dev_storefront.settled, engine, variant.id, expected):
            if time.monotonic() > deadline:
                notice = "still-working"
                break
            await asyncio.sleep(0.1)
    else:
        notice = "no-worker"
    back = {"product": product.handle, "variant": variant.id, "notice": notice}
    if form.get("locale") in devshop.LOCALES:
        back["locale"] = form["locale"]
    return RedirectResponse(f"/dev/storefront?{urlencode(back)}#alerts", status_code=303)


# -- the outbox ----------------------------------------------------------------------------------


async def outbox_message(request: Request) -> Response:
    found = await to_thread.run_sync(dev_storefront.outbox_file, request.path_params["name"])
    if found is None:
        return _page("missing.html", status=404, what="That message is not in outbox/.")
    email = found.get("email")
    return _page(
        "message.html",
        **found,
        has_html=email is not None and email.get_body(("html",)) is not None,
    )


async def outbox_message_html(request: Request) -> Response:
    found = await to_thread.run_sync(dev_storefront.outbox_file, request.path_params["name"])
    email = found.get("email") if found is not None else None
    html = email.get_body(("html",)) if email is not None else None
    if html is None:
        return Response("Not Found", status_code=404, media_type="text/plain")
    # The message as a mail client shows it: no scripts, no forms, nothing fetched but images.
    return HTMLResponse(
        html.get_content(),
        headers={
            "Content-Security-Policy": "sandbox allow-popups allow-popups-to-escape-sandbox; default-src 'none'; "
            "img-src * data:; style-src 'unsafe-inline'; frame-ancestors 'none'",
        },
    )


# -- the app proxy stand-in ----------------------------------------------------------------------


def _in_process(request: Request, client_host: str = "127.0.0.1") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=request.app, client=(client_host, 0))
    return httpx.AsyncClient(
        transport=transport, base_url=str(request.base_url).rstrip("/"), timeout=30
    )


def signed_proxy_query(request: Request, secret: str, now: float, customer_id: str = "") -> str:
    """The query Shopify forwards: the shopper's parameters (minus any it sets itself), then
    shop, logged_in_customer_id, path_prefix and timestamp, signed (PLATFORM.md section 2)."""
    items = [(k, v) for k, v in request.query_params.multi_items() if k not in SIGNED_BY_SHOPIFY]
    items += [
        ("shop", devshop.SHOP),
        ("logged_in_customer_id", customer_id),
        ("path_prefix", PROXY_PREFIX),
        ("timestamp", str(int(now))),
    ]
    return urlencode([*items, ("signature", proxy_signature(secret, items))])


async def app_proxy(request: Request) -> Response:
    settings = request.app.state.settings
    query = signed_proxy_query(request, settings.SHOPIFY_API_SECRET, request.app.state.clock())
    headers = {name: request.headers[name] for name in FORWARDED_HEADERS if name in request.headers}
    shopper = request.client.host if request.client else "127.0.0.1"
    headers.update(
        {"X-Forwarded-For": shopper, "X-Forwarded-Host": request.headers.get("host", devshop.SHOP)}
    )
    async with _in_process(request) as client:
        answer = await client.request(
            request.method,
            f"/proxy/{request.path_params['path']}?{query}",
            content=await request.body(),
            headers=headers,
        )
    returned = {name: answer.headers[name] for name in RETURNED_HEADERS if name in answer.headers}
    return Response(answer.content, status_code=answer.status_code, headers=returned)


routes = [
    Route("/dev", home),
    Route("/dev/storefront", storefront),
    Route("/dev/admin", admin),
    Route("/dev/storefront/stock", change_stock, methods=["POST"]),
    Route("/dev/extension/assets/{name}", extension_asset),
    Route("/dev/outbox/{name}", outbox_message),
    Route("/dev/outbox/{name}/html", outbox_message_html),
    Route(
        PROXY_PREFIX + "/{path:path}",
        app_proxy,
        methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"],
    ),
]
