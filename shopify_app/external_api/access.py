"""Who calls the merchant API and how much they may: the shop's API key in `X-Auth-Token`
(api_keys.py), and a rate limit of 360 points per 60 seconds per shop (a GET costs 1 point, any
other request 2), counted in the signup limits' storage (the database, or Redis) so that it holds
across server processes. Every authenticated answer carries `X-RateLimit-Limit`,
`X-RateLimit-Remaining` and `X-RateLimit-Reset` (Unix time the window ends)."""

import math
import time
from typing import Any

import limits
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from ..errors import ApiError
from ..logs import tag_shop
from . import api_keys

DEFAULT_RATE_LIMIT = "360/minute"
GET_COST, WRITE_COST = 1, 2
UNAUTHORIZED = "Missing or invalid X-Auth-Token"


class MerchantLimits:
    """Points per shop in a fixed window, counted in the given `limits` storage (the signup
    limits' own: the database or Redis)."""

    def __init__(self, storage: Any, limit: str = DEFAULT_RATE_LIMIT) -> None:
        self.storage = storage
        self.item = limits.parse(limit)

    async def hit(self, shop_id: int, cost: int) -> tuple[bool, dict[str, str], int]:
        """Count `cost` points; (allowed, the headers, seconds until the window ends)."""
        key = self.item.key_for("merchant-api", str(shop_id))
        count = await self.storage.incr(key, self.item.get_expiry(), amount=cost)
        reset = await self.storage.get_expiry(key)
        wait = max(1, math.ceil(reset - time.time()))
        headers = {
            "X-RateLimit-Limit": str(self.item.amount),
            "X-RateLimit-Remaining": str(max(0, self.item.amount - count)),
            "X-RateLimit-Reset": str(math.ceil(reset)),
        }
        return count <= self.item.amount, headers, wait


def merchant_limits(app: Any) -> MerchantLimits:
    """The app's merchant-API limit (MERCHANT_API_RATE_LIMIT), made on first use from the signup
    limits' storage."""
    found = getattr(app.state, "merchant_limits", None)
    if found is None:
        limit = app.state.settings.MERCHANT_API_RATE_LIMIT
        found = app.state.merchant_limits = MerchantLimits(
            app.state.signup_limits.limiter.storage, limit
        )
    return found


def _find_shop(engine: Any, key: str) -> Any:
    with engine.connect() as connection:
        return api_keys.shop_for_key(connection, key)


async def authorize(request: Request) -> tuple[Any, dict[str, str]]:
    """(the key's shop, the rate-limit headers every answer carries), after counting the request's
    points; ApiError 401 for a missing or unknown key, 429 past the limit."""
    key = request.headers.get("x-auth-token")
    shop = await run_in_threadpool(_find_shop, request.app.state.engine, key) if key else None
    if shop is None:
        raise ApiError.stoq(
            401, UNAUTHORIZED, headers={"WWW-Authenticate": 'Token realm="merchant API"'}
        )
    tag_shop(request, shop.domain)
    limiter = merchant_limits(request.app)
    allowed, headers, wait = await limiter.hit(
        shop.id, GET_COST if request.method in ("GET", "HEAD") else WRITE_COST
    )
    if not allowed:
        limit = limiter.item
        raise ApiError.stoq(
            429,
            "Rate limit exceeded",
            retry_after=wait,
            message=f"This shop may spend {limit.amount} points per {limit.get_expiry()} seconds "
            f"(a GET costs {GET_COST}, other requests {WRITE_COST}); try again in {wait} seconds.",
            headers={**headers, "Retry-After": str(wait)},
        )
    return shop, headers
