"""Outbound HTTP. `http_client` is a process's shared client (Shopify's Admin API, and the
channels in tests); `SendingClient` is what the SMS and push channels post through in a worker.

Why several small clients rather than one large one: httpcore checks every pooled connection
(a getpeername and a poll each) whenever a request starts or ends, so one pool of N connections
costs O(N) per request. Measured on loopback: one client with 4 connections ~1,050 requests/s,
with 16 ~510/s; eight clients of 4 connections, used in turn, ~870–1,080/s at 32–64 in flight."""

import itertools
import math
from typing import Any

import httpx

from .config import Settings

CONNECTIONS_PER_CLIENT = 4


def http_client(settings: Settings, *, connections: int = 64) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        timeout=httpx.Timeout(settings.SHOPIFY_HTTP_TIMEOUT),
        limits=httpx.Limits(
            max_connections=connections,
            max_keepalive_connections=connections,
            keepalive_expiry=30.0,
        ),
        follow_redirects=False,
    )


class SendingClient:
    """Posts through `ceil(in_flight / 4)` clients in turn; owns them (close with `aclose`)."""

    def __init__(self, settings: Settings, in_flight: int):
        count = max(1, math.ceil(in_flight / CONNECTIONS_PER_CLIENT))
        self._clients = [
            http_client(settings, connections=CONNECTIONS_PER_CLIENT) for _ in range(count)
        ]
        self._next = itertools.cycle(self._clients)

    async def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return await next(self._next).post(url, **kwargs)

    async def aclose(self) -> None:
        for client in self._clients:
            await client.aclose()
