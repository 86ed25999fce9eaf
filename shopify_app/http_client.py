"""Outbound HTTP. `http_client` is a process's shared httpx client (Shopify's Admin API);
`SendingClient` is what the SMS and push channels post through in a worker.

Why aiohttp for sending rather than httpx: a worker's send is one small POST on a kept-alive
connection, and httpx/httpcore spend most of a worker's CPU around it (anyio cancel scopes and
locks, a check of every pooled connection per request, h11's validation): on the fan-out bench
(bench/fanout.py) about 60 % of the worker's CPU per SMS. aiohttp's connector and C parser do
the same POST for a fraction of that."""

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
import httpx

from .config import Settings


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


@dataclass(frozen=True)
class Reply:
    """A provider's answer, read in full (SMS and push answers are small)."""

    status: int
    headers: Mapping[str, str]  # case-insensitive (aiohttp's CIMultiDictProxy)
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The body as JSON; raises ValueError when it is not."""
        return json.loads(self.body)


class SendingClient:
    """One aiohttp session with up to `in_flight` kept-alive connections, made on first use (an
    aiohttp session belongs to the event loop it was made in); close with `aclose`. Errors are
    aiohttp's: `aiohttp.ClientError` or `TimeoutError` (SENDING_ERRORS)."""

    def __init__(self, in_flight: int):
        self._in_flight = max(1, in_flight)
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(
                    limit=self._in_flight,
                    limit_per_host=0,
                    keepalive_timeout=30.0,
                    # the certificates httpx trusts (certifi's, or SSL_CERT_FILE), as before
                    ssl=httpx.create_ssl_context(),
                ),
                cookie_jar=aiohttp.DummyCookieJar(),  # no cookie is carried between messages
            )
        return self._session

    async def post(
        self,
        url: str,
        *,
        body: bytes,
        headers: Mapping[str, str],
        timeout: aiohttp.ClientTimeout,
    ) -> Reply:
        """POST `body`; never follows a redirect (its answer is the reply)."""
        async with self._open().post(
            url, data=body, headers=headers, timeout=timeout, allow_redirects=False
        ) as response:
            return Reply(response.status, response.headers, await response.read())

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


# What a failed SendingClient.post raises: no connection, a reset, a timeout.
SENDING_ERRORS = (aiohttp.ClientError, TimeoutError)


def sending_timeout(total: float, connect: float) -> aiohttp.ClientTimeout:
    """httpx.Timeout(total, connect=connect) in aiohttp's terms: `connect` to open a connection,
    `total` to wait for a pooled one, and between reads."""
    return aiohttp.ClientTimeout(total=None, connect=total, sock_connect=connect, sock_read=total)
