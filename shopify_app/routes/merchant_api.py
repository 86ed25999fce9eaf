"""The merchant API, STOQ v1 "external" compatible: `/api/v1/external/intents...`, authenticated by
the shop's API key in `X-Auth-Token`, rate limited per shop (external_api/access.py). Every query
is scoped to the key's shop (external_api/queries.py); errors are STOQ's `{"error": "..."}`."""

from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route

from ..errors import ApiError
from ..external_api import params, queries
from ..external_api.access import authorize
from ..external_api.transfer import transfer
from .responses import JSON

Handler = Callable[[Request, Any], Awaitable[Response]]


def endpoint(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """The key's shop, the rate limit, and its headers on every answer (an error's too)."""

    @wraps(handler)
    async def run(request: Request) -> Response:
        shop, headers = await authorize(request)
        try:
            response = await handler(request, shop)
        except ApiError as exc:
            exc.headers = {**(exc.headers or {}), **headers}
            raise
        response.headers.update(headers)
        return response

    return run


def _engine(request: Request) -> Any:
    return request.app.state.engine


@endpoint
async def list_intents(request: Request, shop: Any) -> Response:
    where, page = params.filters(request.query_params, shop.id)
    return JSON(await run_in_threadpool(queries.list_intents, _engine(request), where, page))


@endpoint
async def get_intent(request: Request, shop: Any) -> Response:
    intent_id = params.path_id(request.path_params["id"])
    return JSON(await run_in_threadpool(queries.get_intent, _engine(request), shop.id, intent_id))


@endpoint
async def notify_intent(request: Request, shop: Any) -> Response:
    data = await params.json_object(request)
    intent_id = params.an_id(data.get("id"), "id")
    allow_resend = params.flag(data.get("allow_resend"), "allow_resend", False)
    return JSON(
        await run_in_threadpool(
            queries.notify_one, _engine(request), shop.id, intent_id, allow_resend
        )
    )


@endpoint
async def bulk_notify_intent(request: Request, shop: Any) -> Response:
    data = await params.json_object(request)
    ids = params.ids(data)
    allow_resend = params.flag(data.get("allow_resend"), "allow_resend", False)
    answer, status = await run_in_threadpool(
        queries.notify_many, _engine(request), shop.id, ids, allow_resend
    )
    return JSON(answer, status_code=status)


@endpoint
async def bulk_destroy(request: Request, shop: Any) -> Response:
    ids = params.ids(await params.json_object(request))
    return JSON(await run_in_threadpool(queries.destroy, _engine(request), shop.id, ids))


@endpoint
async def transfer_signups(request: Request, shop: Any) -> Response:
    source, target, kind = params.transfer(await params.json_object(request))
    return JSON(await run_in_threadpool(transfer, _engine(request), shop.id, source, target, kind))


@endpoint
async def not_found(request: Request, shop: Any) -> Response:
    """Anything else under the prefix: STOQ's error body, not the router's plain text."""
    raise ApiError.stoq(404, "Not found")


routes = [
    Mount(
        "/api/v1/external",
        routes=[
            Route("/intents", list_intents, methods=["GET"]),
            Route("/intents.json", list_intents, methods=["GET"]),
            Route("/intents/notify_intent", notify_intent, methods=["POST"]),
            Route("/intents/bulk_notify_intent", bulk_notify_intent, methods=["POST"]),
            Route("/intents/bulk_destroy", bulk_destroy, methods=["DELETE"]),
            Route("/intents/transfer_signups", transfer_signups, methods=["POST"]),
            Route("/intents/{id:path}", get_intent, methods=["GET"]),
            Route(
                "/{rest:path}", not_found, methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]
            ),
        ],
    )
]
