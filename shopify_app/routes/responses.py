"""Answer building shared by the endpoints: JSON via orjson, `{"errors": [...]}` bodies, plain
readable pages for people, the one handler of each error (`errors.py`) and of the router's own
404/405, the route for a GET that must not answer HEAD."""

from collections.abc import Mapping
from html import escape
from typing import Any

import orjson
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route

from .. import shopper_pages
from ..errors import ApiError, PageError


class JSON(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


async def render_api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return JSON(exc.body, status_code=exc.status, headers=exc.headers)


async def render_page_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PageError)
    if exc.for_shopper:
        response: Response = shopper_pages.message(
            exc.locale,
            exc.title,
            exc.message,
            status=exc.status,
            shop=exc.shop,
            shop_url=exc.shop_url,
            product_url=exc.product_url,
        )
    else:
        response = page(exc.status, exc.title, exc.message)
    response.headers.update(exc.headers or {})
    return response


# Where every answer is JSON, the router's own 404 and 405 too: the merchant API in STOQ's
# `{"error": "..."}` (its catch-all route answers the same, but a path's `.*` stops at a newline),
# the other interfaces in `{"errors": [...]}`.
STOQ_EXTERNAL_PREFIX = "/api/v1/external/"
JSON_PREFIXES = ("/app/api/", "/api/", "/proxy/")


async def render_http_error(request: Request, exc: Exception) -> Response:
    """The router's 404 (no such path) and 405 (no such method) under the JSON interfaces; plain
    text, as Starlette answers, elsewhere."""
    assert isinstance(exc, HTTPException)
    path, status, headers = request.url.path, exc.status_code, exc.headers
    if path.startswith(STOQ_EXTERNAL_PREFIX):
        return JSON(
            {"error": "Not found" if status == 404 else str(exc.detail)},
            status_code=status,
            headers=headers,
        )
    if not path.startswith(JSON_PREFIXES):
        return PlainTextResponse(exc.detail, status_code=status, headers=headers)
    if status == 405:
        allowed = (headers or {}).get("Allow", "")
        return errors(
            405,
            f"method: {request.method[:10]} is not allowed here; use {allowed}",
            headers=headers,
        )
    return errors(
        status,
        "path: there is no such endpoint" if status == 404 else str(exc.detail),
        headers=headers,
    )


def errors(status: int, *messages: str, headers: Mapping[str, str] | None = None) -> JSON:
    return JSON({"errors": list(messages)}, status_code=status, headers=headers)


def page(status: int, title: str, message: str) -> HTMLResponse:
    body = (
        "<!doctype html><html lang=en><meta charset=utf-8>"
        "<meta name=viewport content='width=device-width,initial-scale=1'>"
        f"<title>{escape(title)}</title>"
        "<body style='font-family:system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem'>"
        f"<h1>{escape(title)}</h1><p>{escape(message)}</p></body></html>"
    )
    return HTMLResponse(body, status_code=status)


def get_without_head(path: str, endpoint) -> Route:
    """A GET route that refuses HEAD (405), which Starlette would otherwise answer by running the
    GET: for a GET that writes by design (OAuth's state and code, the admin's token exchange),
    since a HEAD (mail scanners, link previews) must change nothing."""
    route = Route(path, endpoint, methods=["GET"])
    assert route.methods is not None  # a Route given methods keeps them as a set
    route.methods.discard("HEAD")
    return route
