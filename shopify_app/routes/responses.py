"""Response helpers shared by the endpoints: JSON via orjson, `{"errors": [...]}` bodies, plain
readable pages for people, and the route for a GET that must not answer HEAD."""

from html import escape
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
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


def errors(status: int, *messages: str, headers: dict[str, str] | None = None) -> JSON:
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
    if declared and declared.isascii() and declared.isdigit() and (len(declared) > 18 or int(declared) > limit):
        raise BodyTooLarge
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def tag_shop(request: Request, shop: str) -> None:
    """Name the shop this request is about, for the request's log line."""
    request.scope.setdefault("state", {})["shop"] = shop


def get_without_head(path: str, endpoint) -> Route:
    """A GET route that refuses HEAD (405), which Starlette would otherwise answer by running the
    GET: for a GET that writes by design (OAuth's state and code, the admin's token exchange),
    since a HEAD (mail scanners, link previews) must change nothing."""
    route = Route(path, endpoint, methods=["GET"])
    route.methods.discard("HEAD")
    return route
