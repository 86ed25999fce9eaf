"""The public signup API, STOQ / Restock Rocket compatible: `POST /api/v1/intents.json`."""

from typing import Any

from pydantic import ValidationError
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route

from .. import intents, ratelimit, signup_contacts
from ..errors import ApiError
from ..logs import tag_shop
from ..models import IntentSource
from ..openapi import openapi_document
from ..request_body import BodyTooLarge, NotJson, json_body, read_body
from ..schemas import IntentRequest, describe_errors
from ..shops import is_installed
from ..verify import sanitize_shop_domain
from .responses import JSON

UNKNOWN_SHOP = "X-Shopify-Shop-Domain must name a shop that has this app installed"
JSON_TYPES = ("application/json", "text/json")


def parse_signup(body: bytes) -> IntentRequest:
    """The request, or ApiError(400) listing every problem in plain words."""
    try:
        data = json_body(body)
    except NotJson as exc:
        raise ApiError(400, f"The body {exc}") from None
    if not isinstance(data, dict):
        raise ApiError(400, "The body must be a JSON object with intent and customer")
    try:
        return IntentRequest.model_validate(data)
    except ValidationError as exc:
        raise ApiError(400, *describe_errors(exc)) from None


def _is_json(content_type: str | None) -> bool:
    """No Content-Type is taken as JSON (STOQ's examples always send it; old clients may not)."""
    if not content_type:
        return True
    media = content_type.split(";", 1)[0].strip().lower()
    return media in JSON_TYPES or (media.startswith("application/") and media.endswith("+json"))


async def create_intent(request: Request) -> Response:
    state = request.app.state
    domain = sanitize_shop_domain(request.headers.get("x-shopify-shop-domain"))
    if domain is None:
        raise ApiError(401, UNKNOWN_SHOP)
    tag_shop(request, domain)
    if not _is_json(request.headers.get("content-type")):
        raise ApiError(400, "Content-Type must be application/json")  # STOQ documents 400 for this
    try:
        body = await read_body(request, state.settings.MAX_BODY_BYTES)
    except BodyTooLarge:
        raise ApiError(
            413, f"The body is larger than {state.settings.MAX_BODY_BYTES} bytes"
        ) from None
    try:
        signup = parse_signup(body)
    except ApiError:
        if not await is_installed(state, domain):  # an unknown shop learns nothing about the schema
            raise ApiError(401, UNKNOWN_SHOP) from None
        raise
    return await file_signup(request, domain, signup, door=IntentSource.api)


async def file_signup(
    request: Request,
    shop: str,
    signup: IntentRequest,
    *,
    door: IntentSource,
    say_created: bool = False,
) -> Response:
    """Count the signup against the abuse limits, file it, and answer as STOQ does (plus, for the
    theme block, whether it was new: `created`)."""
    state = request.app.state
    contacts = signup_contacts.contacts_of(signup, state.settings.push_allowlist)
    hits = ratelimit.signup_hits(request, shop, contacts.address if contacts else None, door=door)
    # PostgreSQL's counters are counted by the first-signup statement itself (one round trip)
    together = state.signup_limits.in_postgresql
    first = intents.first_signup_of(
        state,
        shop,
        signup,
        source=door,
        contacts=contacts,
        counters=[ratelimit.SignupLimits.counter(h) for h in hits] if together else (),
    )
    if first is None or not together:
        await state.signup_limits.count(hits)
    try:
        outcome = await intents.file_signup(
            state, shop, signup, source=door, contacts=contacts, first=first
        )
    except intents.UnknownShop:
        raise ApiError(401, UNKNOWN_SHOP) from None
    if outcome.errors:
        raise ApiError.unhonoured(*outcome.errors)
    answer: dict[str, Any] = {
        "intents": [i.model_dump(mode="json") for i in outcome.intents],
        "errors": [],
    }
    if say_created:
        answer["created"] = outcome.created
    return JSON(answer, status_code=201)


async def openapi(request: Request) -> Response:
    return JSON(openapi_document(request.app.state.settings.APP_URL))


# Any storefront may call the public API from the browser; it carries no credentials.
cors = Middleware(
    CORSMiddleware,
    allow_origins=["*"],
    allow_methods=["GET", "POST", "OPTIONS"],
    allow_headers=["Content-Type", "X-Shopify-Shop-Domain"],
    max_age=86400,
)

routes = [
    Mount(
        "/api/v1",
        routes=[
            Route("/intents.json", create_intent, methods=["POST"]),
            Route("/openapi.json", openapi, methods=["GET"]),
        ],
        middleware=[cors],
    )
]
