"""The public signup API, STOQ / Restock Rocket compatible: `POST /api/v1/intents.json`."""

from dataclasses import dataclass
from functools import partial

import orjson
from pydantic import ValidationError
from sqlalchemy import Connection, Engine
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route

from .. import intents
from ..db import run_async
from ..models import IntentSource
from ..openapi import openapi_document
from ..schemas import IntentRequest, describe_errors
from ..shops import ShopRef, find_installed
from ..verify import sanitize_shop_domain
from .responses import JSON, BodyTooLarge, errors, read_body, tag_shop

UNKNOWN_SHOP = "X-Shopify-Shop-Domain must name a shop that has this app installed"


@dataclass
class _Unauthorized:
    pass


def _parse(body: bytes) -> IntentRequest | list[str]:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return ["The body must be JSON"]
    if not isinstance(data, dict):
        return ["The body must be a JSON object with intent and customer"]
    try:
        return IntentRequest.model_validate(data)
    except ValidationError as exc:
        return describe_errors(exc)


def _create(connection: Connection, domain: str, parsed: IntentRequest | list[str], push_allowlist: frozenset[str],
            shop: ShopRef | None = None):
    shop = shop or find_installed(connection, domain)
    if shop is None:
        return _Unauthorized()
    if isinstance(parsed, list):
        return parsed
    return intents.create(connection, shop, parsed, source=IntentSource.api, push_allowlist=push_allowlist)


def _create_in_thread(engine: Engine, *args):
    with engine.begin() as connection:
        return _create(connection, *args)


async def _create_on(state, domain: str, parsed: IntentRequest | list[str], push_allowlist: frozenset[str]):
    """On SQLite, a thread. On PostgreSQL, an async connection (SQLAlchemy's run_sync runs the
    same code, each round trip yielding to the event loop): first the one-statement path for a
    shopper the shop has never seen (autocommit: one round trip in all), else the general path in
    a transaction. Core connections, not ORM sessions: a session's bookkeeping cost a fifth."""
    if state.async_engine is None:
        return await run_in_threadpool(_create_in_thread, state.engine, domain, parsed, push_allowlist)
    shop = None
    if not isinstance(parsed, list):
        first = await run_async(state.async_engine, partial(
            intents.create_first_signup, domain=domain, request=parsed, source=IntentSource.api,
            push_allowlist=push_allowlist), autocommit=True)
        if first is not None:
            shop, result = first
            if shop is None:
                return _Unauthorized()
            if result is not None:
                return result
    return await run_async(state.async_engine, partial(_create, domain=domain, parsed=parsed,
                                                       push_allowlist=push_allowlist, shop=shop))


async def create_intent(request: Request) -> Response:
    domain = sanitize_shop_domain(request.headers.get("x-shopify-shop-domain"))
    if domain is None:
        return errors(401, UNKNOWN_SHOP)
    tag_shop(request, domain)
    try:
        body = await read_body(request, request.app.state.settings.MAX_BODY_BYTES)
    except BodyTooLarge:
        return errors(413, f"The body is larger than {request.app.state.settings.MAX_BODY_BYTES} bytes")
    state = request.app.state
    outcome = await _create_on(state, domain, _parse(body), state.settings.push_allowlist)
    if isinstance(outcome, _Unauthorized):
        return errors(401, UNKNOWN_SHOP)
    if isinstance(outcome, list):
        return errors(400, *outcome)
    if outcome.errors:
        return JSON({"intents": [], "errors": outcome.errors}, status_code=200)
    return JSON(
        {"intents": [i.model_dump(mode="json") for i in outcome.intents], "errors": []},
        status_code=201,
    )


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
