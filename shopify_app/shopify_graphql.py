"""Async Admin GraphQL client: one shop and token per call (never a global), timeouts, and retries
on THROTTLED / 429 / 5xx with the wait read from the response (PLATFORM.md section 5). The token
comes from a TokenSource asked before every call (expiring offline tokens: `shop_tokens.py`
refreshes one about to expire); a call answered 401 gets a renewed token and is tried once more."""

import asyncio
import logging
import random
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx
from anyio import to_thread
from sqlalchemy.engine import Engine

from . import shop_tokens
from .config import Settings

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 5
MAX_WAIT = 30.0


class AdminApiError(Exception):
    """The call failed for good (auth, bad query, retries exhausted)."""


class RetryableApiError(AdminApiError):
    """The call failed for now (throttled, 5xx, network); `retry_after` seconds may say when."""

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class Unauthorized(AdminApiError):
    """Shopify did not take the token (HTTP 401)."""


class TokenSource(Protocol):
    async def token(self) -> str: ...

    async def refused(self, token: str) -> str: ...


@dataclass(frozen=True)
class StaticToken:
    """A token that is what it is (tests, tools): a 401 is final."""

    value: str = field(repr=False)

    async def token(self) -> str:
        return self.value

    async def refused(self, token: str) -> str:
        raise AdminApiError("HTTP 401: the shop's token is not accepted")


@dataclass(frozen=True)
class StoredTokens:
    """The shop's stored token, renewed as `shop_tokens.usable_token` decides (in a thread: it may
    wait for the shop's token lock and call Shopify's token endpoint)."""

    engine: Engine
    settings: Settings
    shop_id: int

    async def token(self) -> str:
        return await self._usable(None)

    async def refused(self, token: str) -> str:
        return await self._usable(token)

    async def _usable(self, refused: str | None) -> str:
        try:
            return await to_thread.run_sync(
                lambda: shop_tokens.usable_token(
                    self.engine, self.settings, self.shop_id, refused=refused
                )
            )
        except shop_tokens.TokenUnavailable as exc:
            raise RetryableApiError(f"token endpoint: {exc}") from None
        except LookupError as exc:
            raise AdminApiError(str(exc)) from None


@dataclass
class AdminApi:
    http: httpx.AsyncClient
    settings: Settings
    shop: str
    tokens: TokenSource | str
    sleep: Any = asyncio.sleep

    def __post_init__(self) -> None:
        if isinstance(self.tokens, str):
            self.tokens = StaticToken(self.tokens)

    @property
    def url(self) -> str:
        return self.settings.admin_url(
            self.shop, f"/admin/api/{self.settings.SHOPIFY_API_VERSION}/graphql.json"
        )

    async def query(self, document: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """The `data` of a successful call; retries transient failures, raises AdminApiError (and
        shop_tokens.ReconnectNeeded when the shop holds no token Shopify takes)."""
        assert not isinstance(self.tokens, str)
        last: RetryableApiError | None = None
        renewed = False
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                token = await self.tokens.token()
                try:
                    return await self._once(document, variables or {}, token)
                except Unauthorized:
                    if renewed:
                        raise
                    renewed = True
                    log.info(
                        "admin api answered 401; renewing the token once", extra={"shop": self.shop}
                    )
                    return await self._once(
                        document, variables or {}, await self.tokens.refused(token)
                    )
            except RetryableApiError as exc:
                last = exc
                if attempt == MAX_ATTEMPTS:
                    break
                wait = (
                    exc.retry_after
                    if exc.retry_after is not None
                    else min(MAX_WAIT, 0.5 * 2**attempt)
                )
                wait = min(MAX_WAIT, wait) * (1 + random.random() * 0.1)
                log.info(
                    "admin api retry",
                    extra={
                        "shop": self.shop,
                        "attempt": attempt,
                        "wait_s": round(wait, 2),
                        "reason": str(exc),
                    },
                )
                await self.sleep(wait)
        raise RetryableApiError(
            f"gave up after {MAX_ATTEMPTS} attempts: {last}", last.retry_after if last else None
        )

    async def _once(self, document: str, variables: dict[str, Any], token: str) -> dict[str, Any]:
        headers = {"X-Shopify-Access-Token": token, "Content-Type": "application/json"}
        try:
            response = await self.http.post(
                self.url,
                json={"query": document, "variables": variables},
                headers=headers,
                timeout=self.settings.SHOPIFY_HTTP_TIMEOUT,
            )
        except httpx.HTTPError as exc:
            raise RetryableApiError(f"network: {type(exc).__name__}") from None
        if response.status_code == 429:
            raise RetryableApiError("HTTP 429", _retry_after(response.headers.get("retry-after")))
        if response.status_code >= 500:
            raise RetryableApiError(f"HTTP {response.status_code}")
        if response.status_code == 401:
            raise Unauthorized("HTTP 401: the shop's token is not accepted")
        if response.status_code in (403, 404):
            raise AdminApiError(f"HTTP {response.status_code}: the shop's token is not accepted")
        if response.status_code != 200:
            raise AdminApiError(f"HTTP {response.status_code}")
        try:
            body = response.json()
        except ValueError:
            raise RetryableApiError("response is not JSON") from None
        errors = body.get("errors") or []
        if any(
            (e.get("extensions") or {}).get("code") == "THROTTLED"
            for e in errors
            if isinstance(e, dict)
        ):
            raise RetryableApiError("THROTTLED", _throttle_wait(body))
        if errors:
            messages = "; ".join(
                str(e.get("message", e)) if isinstance(e, dict) else str(e) for e in errors
            )
            raise AdminApiError(f"GraphQL errors: {messages[:500]}")
        return body.get("data") or {}


def _retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None


def _throttle_wait(body: dict[str, Any]) -> float | None:
    """Seconds until the bucket holds what the query asked for, from extensions.cost."""
    cost = (body.get("extensions") or {}).get("cost") or {}
    status = cost.get("throttleStatus") or {}
    try:
        needed = float(cost.get("requestedQueryCost", 0)) - float(status["currentlyAvailable"])
        return max(0.0, needed / float(status["restoreRate"]))
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        return None
