"""Response helpers shared by the endpoints: JSON via orjson, `{"errors": [...]}` bodies, plain
readable pages for people, the route for a GET that must not answer HEAD; reading a request's body
(its size, its JSON)."""

from collections.abc import Mapping
from html import escape
from typing import Any

import orjson
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route


class JSON(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


class ApiError(Exception):
    """Raised anywhere in a request; `app.py` renders it as `{"errors": [...]}` with its status."""

    def __init__(self, status: int, *messages: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(*messages)
        self.status, self.messages, self.headers = status, list(messages), headers


async def render_api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return errors(exc.status, *exc.messages, headers=exc.headers)


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


class BodyTooLarge(Exception):
    pass


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refusing (BodyTooLarge) anything over `limit` bytes without reading it all."""
    declared = request.headers.get("content-length")
    # ASCII digits only ('²'.isdigit() is true), and no int() of thousands of digits (it refuses them).
    if (
        declared
        and declared.isascii()
        and declared.isdigit()
        and (len(declared) > 18 or int(declared) > limit)
    ):
        raise BodyTooLarge
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


MAX_JSON_DEPTH = 1024  # orjson's own limit


class NotJson(ValueError):
    """A request body that is no JSON document we read. Its message completes "The body …" or
    "body: …": `must be JSON`, or `must be JSON nested at most 1,024 levels deep`."""


def json_body(raw: bytes) -> Any:
    """The JSON document a request sent: RFC 8259 strictly (orjson: no NaN, no byte order mark, no
    lone surrogates; integers past 64 bits read as floats), nested at most 1,024 levels. The
    standard library's json.loads recurses once per level and dies of RecursionError (a 500) a
    little under 1,000 levels."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        if exc.msg.startswith("depth limit"):
            raise NotJson(f"must be JSON nested at most {MAX_JSON_DEPTH:,} levels deep") from None
        raise NotJson("must be JSON") from None


def tag_shop(request: Request, shop: str) -> None:
    """Name the shop this request is about, for the request's log line."""
    request.scope.setdefault("state", {})["shop"] = shop


def get_without_head(path: str, endpoint) -> Route:
    """A GET route that refuses HEAD (405), which Starlette would otherwise answer by running the
    GET: for a GET that writes by design (OAuth's state and code, the admin's token exchange),
    since a HEAD (mail scanners, link previews) must change nothing."""
    route = Route(path, endpoint, methods=["GET"])
    assert route.methods is not None  # a Route given methods keeps them as a set
    route.methods.discard("HEAD")
    return route
