"""One structured log line per request (method, path without query and without a shopper link's
token, status, time, shop) and its count and time in the metrics, and the security headers of
every answer. Pure ASGI: no per-request task."""

import logging
import time

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import metrics
from .logs import current_shop, redact_path

log = logging.getLogger("shopify_app.request")


class RequestLog:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500
        scope.setdefault("state", {})

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            seconds = time.perf_counter() - start
            metrics.observe_request(scope, status, seconds)
            shop = scope["state"].get("shop")
            token = current_shop.set(shop)
            log.info(
                "request",
                extra={
                    "method": scope["method"],
                    "path": redact_path(scope["path"]),
                    "status": status,
                    "ms": round(seconds * 1000, 2),
                },
            )
            current_shop.reset(token)


class SecurityHeaders:
    """Headers every response carries: no MIME sniffing, no referrer (links carry tokens in their
    paths), no storing in any cache, and no framing by anyone, unless the endpoint said otherwise
    (the embedded admin names the shop and admin.shopify.com in its own Content-Security-Policy; the
    theme block's config and service worker say how long they may be cached).

    `no-store` is the default rather than a header of the admin and merchant API only: their pages,
    JSON and exports, the public API's answers and the shoppers' link pages carry shoppers' contacts,
    and an endpoint that forgets to say so must not leave them in a browser's or a proxy's cache."""

    DEFAULTS = (
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"no-referrer"),
        (b"cache-control", b"no-store"),
    )
    NO_FRAMING = (
        (b"content-security-policy", b"frame-ancestors 'none'"),
        (b"x-frame-options", b"DENY"),
    )

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                message = {**message, "headers": headers + self.missing(headers)}
            await send(message)

        await self.app(scope, receive, send_wrapper)

    @classmethod
    def missing(cls, headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
        """The headers to add to an answer that has `headers`."""
        present = {name.lower() for name, _ in headers}
        extra = [h for h in cls.DEFAULTS if h[0] not in present]
        if b"content-security-policy" not in present:
            extra += cls.NO_FRAMING
        return extra

    @classmethod
    def add_to(cls, response: Response) -> Response:
        """The same headers on an answer made outside this middleware: Starlette runs the handler
        of unhandled errors (the 500) outside every middleware of the app."""
        response.raw_headers += cls.missing(response.raw_headers)
        return response
