"""Development only (`APP_ENV=development`; 404 otherwise): a local storefront that renders the
theme app extension's real block, and a stand-in for Shopify's app proxy that signs each request
as Shopify does and forwards it to `/proxy/...`.

- `GET /dev/storefront`: a product page of the demo shop (shopify_app/devshop.py) with the block,
  the stock of each variant with buttons that restock or sell it out through the real, signed
  `inventory_levels/update` webhook, the signups stored and the alerts written to `outbox/`.
- `/apps/back-in-stock/{path}`: what Shopify does on the shop's domain (PLATFORM.md section 2): the
  query gets `shop`, `logged_in_customer_id`, `path_prefix`, `timestamp` and `signature`, cookies
  are dropped, `X-Forwarded-For` / `X-Forwarded-Host` name the shopper, and method, body and
  content type go to `/proxy/{path}` of this same app (in process).
"""

import asyncio
import json
import re
import time
import uuid
from datetime import UTC, datetime
from email import message_from_bytes
from email.policy import default as default_policy
from pathlib import Path
from urllib.parse import parse_qsl, urlencode

import httpx
from anyio import to_thread
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup
from sqlalchemy import select
from sqlmodel import col
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from .. import devshop
from ..db import session_scope
from ..models import (
    JOB_UNFINISHED,
    NOTIFICATION_ON_ITS_WAY,
    Intent,
    InventoryLevel,
    Job,
    JobKind,
    Notification,
)
from ..notify import channels as notify_channels
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
EML_NAME = re.compile(r"[A-Za-z0-9._-]+\.eml")
RESTOCK_UNITS = 5
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


def _int(value: str | None) -> int | None:
    return int(value) if value and value.isascii() and value.isdigit() and len(value) < 19 else None


def _signups(engine) -> list[dict]:
    shop_id = devshop.shop_id(engine)
    with session_scope(engine) as session:
        rows = (
            session.execute(
                select(Intent)
                .where(col(Intent.shop_id) == shop_id)
                .order_by(col(Intent.id).desc())
                .limit(20)
            )
            .scalars()
            .all()
        )
    titles = {v.id: f"{p.title} – {v.title}" for p in devshop.PRODUCTS for v in p.variants}
    return [
        {
            "id": row.id,
            "channel": row.channel,
            "contact": row.email or row.phone or ("this browser" if row.channel == "push" else ""),
            "variant": titles.get(row.shopify_variant_id, str(row.shopify_variant_id)),
            "status": row.status if row.optin_confirmed else f"{row.status}, awaiting opt-in",
            "source": row.source,
            "created_at": row.created_at.strftime("%H:%M:%S"),
        }
        for row in rows
    ]


def _alerts() -> list[dict]:
    folder = Path(notify_channels.DEV_OUTBOX)
    files = (
        sorted(folder.glob("*.eml"), key=lambda p: p.stat().st_mtime, reverse=True)[:20]
        if folder.is_dir()
        else []
    )
    found = []
    for path in files:
        with path.open("rb") as handle:
            message = message_from_bytes(handle.read(16384), policy=default_policy)
        found.append(
            {
                "name": path.name,
                "to": str(message.get("To", "")),
                "subject": str(message.get("Subject", "")),
                "at": time.strftime("%H:%M:%S", time.localtime(path.stat().st_mtime)),
            }
        )
    return found


def _storefront_data(request: Request) -> dict:
    engine, settings = request.app.state.engine, request.app.state.settings
    query = request.query_params
    asked = query.get("locale", "")
    locale = asked if asked in devshop.LOCALES else "en"
    product = devshop.product(query.get("product"))
    stock = devshop.stock(engine)
    product_data = devshop.liquid_product(product, stock, _int(query.get("variant")))
    country = (query.get("country") or "").upper() or None
    block = devshop.render_block(
        product_data, locale=locale, country=country, settings=DEMO_BLOCK_SETTINGS
    )
    return {
        "shop_name": devshop.SHOP_NAME,
        "shop": devshop.SHOP,
        "locale": locale,
        "locales": devshop.LOCALES,
        "products": devshop.PRODUCTS,
        "product": product,
        "data": product_data,
        "selected": product_data["selected_or_first_available_variant"],
        "variants_json": Markup(
            devshop.to_json(
                [{"id": v["id"], "available": v["available"]} for v in product_data["variants"]]
            )
        ),
        "block": Markup(block),
        "head": Markup(devshop.head_tags()),
        "stock_rows": [{"variant": v, "units": stock.get(v.id, 0)} for v in product.variants],
        "restock_units": RESTOCK_UNITS,
        "signups": _signups(engine),
        "alerts": _alerts(),
        "outbox": str(Path(notify_channels.DEV_OUTBOX).resolve()),
        "worker": settings.WORKER_IN_PROCESS,
        "notice": query.get("notice"),
    }


# The block as a merchant might set it up in the theme editor: every channel and the consent box.
DEMO_BLOCK_SETTINGS = {
    "offer_email": True,
    "offer_sms": True,
    "offer_push": True,
    "show_marketing_consent": True,
}


async def storefront(request: Request) -> Response:
    data = await to_thread.run_sync(_storefront_data, request)
    return _page("storefront.html", **data)


async def home(request: Request) -> Response:
    return RedirectResponse("/dev/storefront", status_code=307)


async def extension_asset(request: Request) -> Response:
    name = request.path_params["name"]
    path = devshop.ASSETS / name
    if "/" in name or name.startswith(".") or not path.is_file():
        return Response("Not Found", status_code=404, media_type="text/plain")
    return FileResponse(path, headers={"Cache-Control": "no-cache"})


# -- stock changes through the real webhook ------------------------------------------------------


def _levels(engine, item_id: int) -> dict[int, int]:
    with session_scope(engine) as session:
        rows = session.execute(
            select(col(InventoryLevel.location_id), col(InventoryLevel.available)).where(
                col(InventoryLevel.shop_id) == devshop.shop_id(engine),
                col(InventoryLevel.inventory_item_id) == item_id,
            )
        )
        return {location: available or 0 for location, available in rows}


def _settled(engine, variant_id: int, expected: int) -> bool:
    """The webhook's levels are applied, the worker has run the job and sent the email alerts."""
    if devshop.stock(engine).get(variant_id) != expected:
        return False
    shop_id = devshop.shop_id(engine)
    busy_jobs = select(col(Job.id)).where(
        col(Job.shop_id) == shop_id,
        col(Job.kind) == JobKind.inventory.value,
        col(Job.status).in_(JOB_UNFINISHED),
    )
    busy_mail = select(col(Notification.id)).where(
        col(Notification.shop_id) == shop_id,
        col(Notification.channel) == "email",
        col(Notification.status).in_(NOTIFICATION_ON_ITS_WAY),
    )
    with session_scope(engine) as session:
        return all(
            session.execute(busy.limit(1)).first() is None for busy in (busy_jobs, busy_mail)
        )


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
    found = devshop.find_variant(_int(str(form.get("variant", ""))) or 0)
    if found is None:
        return Response("Unknown variant", status_code=400, media_type="text/plain")
    product, variant = found
    engine = request.app.state.engine
    levels = await to_thread.run_sync(_levels, engine, variant.inventory_item_id)
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
        while not await to_thread.run_sync(_settled, engine, variant.id, expected):
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


def _eml(name: str):
    path = Path(notify_channels.DEV_OUTBOX) / name
    if not EML_NAME.fullmatch(name) or not path.is_file():
        return None
    return message_from_bytes(path.read_bytes(), policy=default_policy)


async def outbox_message(request: Request) -> Response:
    message = await to_thread.run_sync(_eml, request.path_params["name"])
    if message is None:
        return _page("missing.html", status=404, what="That message is not in outbox/.")
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    headers = [
        (name, str(message.get(name)))
        for name in ("From", "To", "Subject", "Date", "List-Unsubscribe", "List-Unsubscribe-Post")
        if message.get(name)
    ]
    return _page(
        "message.html",
        name=request.path_params["name"],
        headers=headers,
        text=text.get_content() if text else "",
        has_html=html is not None,
    )


async def outbox_message_html(request: Request) -> Response:
    message = await to_thread.run_sync(_eml, request.path_params["name"])
    html = message.get_body(("html",)) if message is not None else None
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
