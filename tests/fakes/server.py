"""Serving a fake's ASGI app on a free 127.0.0.1 port from a test: `with serve_in_thread(app) as url`.
The implementation lives in tests/support.py, which the older tests import; this is its home
among the fakes. `Switchable` serves one that can be taken down (503 to every request) and back."""

import asyncio
import contextlib
import time

from starlette.responses import PlainTextResponse

from ..support import free_port, serve_in_thread

__all__ = ["Switchable", "free_port", "serve_in_thread"]


class Switchable:
    """`with Switchable(app) as server:` serves `app` at server.url; `server.available = False`
    answers every request 503 (an outage) until set back; `delay` slows every answer (a provider
    under load). Every request's arrival time (monotonic) and whether it was served are kept."""

    def __init__(self, app, port: int | None = None):
        self.app, self.port = app, port or free_port()
        self.available = True
        self.delay = 0.0
        self.url = ""
        self.arrivals: list[tuple[float, bool]] = []
        self._stack = contextlib.ExitStack()

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http":
            if self.delay:
                await asyncio.sleep(self.delay)
            self.arrivals.append((time.monotonic(), self.available))
            if not self.available:
                await PlainTextResponse("Service Unavailable", status_code=503)(
                    scope, receive, send
                )
                return
        await self.app(scope, receive, send)

    def __enter__(self) -> "Switchable":
        self.url = self._stack.enter_context(serve_in_thread(self, self.port))
        return self

    def __exit__(self, *exc) -> None:
        self._stack.close()
