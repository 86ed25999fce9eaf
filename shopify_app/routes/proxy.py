"""The app proxy (PLATFORM.md section 2): what the theme app extension's block calls on the shop's
own origin (`/apps/back-in-stock/...`), forwarded and signed by Shopify to `/proxy/...`.

Every request's `signature` is verified first; the shop is the signed `shop` parameter only,
never the body or a header. `POST /proxy/intents` files a signup through the same service as the
public API, from the same JSON body or from the block's form fields."""

from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route

from ..admin import setup_guide
from ..coerce import shopify_id
from ..errors import ApiError
from ..logs import tag_shop
from ..models import IntentSource, utcnow
from ..notify.channels import CHANNELS, sendable_channels, vapid_public_key
from ..request_body import BodyTooLarge, read_body
from ..schemas import IntentRequest, describe_errors
from ..shops import find_installed
from ..verify import VerificationError, parse_query, verify_proxy_signature
from .api import file_signup, parse_signup
from .responses import JSON

SERVICE_WORKER = Path(__file__).resolve().parent.parent / "static" / "sw.js"
FORM = "application/x-www-form-urlencoded"
HONEYPOT = "website"
# The block's form fields, and where each goes in the public API's body.
INTENT_FIELDS = (
    "shopify_variant_id",
    "shopify_product_id",
    "shopify_market_id",
    "channel",
    "quantity",
)
CUSTOMER_FIELDS = ("email", "phone", "country", "country_code", "name", "locale", "push")


def signed_shop(request: Request) -> str:
    """The shop Shopify signed this request for, or ApiError(401)."""
    settings = request.app.state.settings
    try:
        shop = verify_proxy_signature(
            settings.SHOPIFY_API_SECRET,
            request.scope["query_string"],
            max_age=settings.SIGNATURE_MAX_AGE,
            clock=request.app.state.clock,
        )
    except VerificationError:
        raise ApiError(401, "This request is not signed by Shopify's app proxy") from None
    tag_shop(request, shop)
    return shop


def logged_in_customer(request: Request) -> int | None:
    value = dict(parse_query(request.scope["query_string"])).get("logged_in_customer_id", "")
    return shopify_id(value)


def _from_form(fields: dict[str, str]) -> dict[str, Any]:
    """The block's form as the public API's body: the same schema decides what is valid."""
    intent: dict[str, Any] = {k: fields[k] for k in INTENT_FIELDS if fields.get(k)}
    intent["source"] = "api"
    intent["quantity"] = _whole(intent.get("quantity", "1"))
    customer: dict[str, Any] = {k: fields[k] for k in CUSTOMER_FIELDS if fields.get(k)}
    if fields.get("accepts_marketing") in ("on", "true", "1"):
        customer["accepts_marketing"] = True
    return {"intent": intent, "customer": customer}


def _whole(value: str) -> int | str:
    return int(value) if value.isascii() and value.isdigit() and len(value) < 10 else value


def parse_proxy_signup(body: bytes, content_type: str) -> tuple[IntentRequest, bool]:
    """(the request, whether the honeypot was filled). JSON as the public API, or the block's form."""
    if content_type.split(";", 1)[0].strip().lower() != FORM:
        return parse_signup(body), False
    try:
        fields = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=50))
    except (UnicodeDecodeError, ValueError):
        raise ApiError(400, "The form could not be read") from None
    try:
        return IntentRequest.model_validate(_from_form(fields)), bool(
            fields.get(HONEYPOT, "").strip()
        )
    except ValidationError as exc:
        raise ApiError(400, *describe_errors(exc)) from None


async def create_intent(request: Request) -> Response:
    shop = signed_shop(request)
    limit = request.app.state.settings.MAX_BODY_BYTES
    try:
        body = await read_body(request, limit)
    except BodyTooLarge:
        raise ApiError(413, f"The body is larger than {limit} bytes") from None
    signup, bot = parse_proxy_signup(body, request.headers.get("content-type", ""))
    if bot:  # answered like a success, so the bot learns nothing; nothing is stored
        return JSON({"intents": [], "errors": [], "created": True}, status_code=201)
    customer_id = logged_in_customer(request)
    if customer_id is not None:  # signed by Shopify: this shopper is logged in as that customer
        signup.customer.shopify_customer_id = customer_id
    return await file_signup(request, shop, signup, door=IntentSource.proxy, say_created=True)


def _block_seen(request: Request, shop: str) -> None:
    with request.app.state.engine.begin() as connection:
        setup_guide.mark_block_seen(connection, shop, utcnow())
    request.app.state.blocks_seen.add(shop)


def _sms_countries(request: Request, shop: str) -> list[str] | None:
    """The countries whose numbers the shop takes SMS signups from (None: all, or no such shop)."""
    with request.app.state.engine.connect() as connection:
        found = find_installed(connection, shop)
    return list(found.sms_countries) if found and found.sms_countries is not None else None


async def config(request: Request) -> Response:
    """What the block needs to know: the VAPID key to subscribe with, the channels that can send,
    and the countries it offers for SMS (`sms_countries`, null: all; a change reaches storefronts
    within the answer's cache time)."""
    shop = signed_shop(request)
    # The setup guide's first step: the block is on a storefront page. Recorded once per shop and
    # process, on a GET only (a HEAD changes nothing).
    if request.method == "GET" and shop not in request.app.state.blocks_seen:
        await run_in_threadpool(_block_seen, request, shop)
    settings = request.app.state.settings
    can = sendable_channels(settings)
    return JSONResponse(
        {
            "vapid_public_key": vapid_public_key(settings) if "push" in can else None,
            "channels": {name: name in can for name in CHANNELS},
            "sms_countries": await run_in_threadpool(_sms_countries, request, shop),
        },
        headers={"Cache-Control": "public, max-age=300"},
    )


async def service_worker(request: Request) -> Response:
    signed_shop(request)
    if not SERVICE_WORKER.exists():
        raise ApiError(404, "No service worker")
    return Response(
        SERVICE_WORKER.read_bytes(),
        media_type="application/javascript",
        headers={"Cache-Control": "public, max-age=3600"},
    )


routes = [
    Mount(
        "/proxy",
        routes=[
            Route("/intents", create_intent, methods=["POST"]),
            Route("/config", config, methods=["GET"]),
            Route("/sw.js", service_worker, methods=["GET"]),
        ],
    )
]
