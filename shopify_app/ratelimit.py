"""Abuse limits on signups: per client address (`SIGNUP_RATE_LIMIT`) and per shop and contact
address (`SIGNUP_CONTACT_LIMIT`). Over either: 429 with `Retry-After`, and nothing is stored.

The algorithm is the `limits` library's fixed window; its counters live where every server
process sees them: Redis when `REDIS_URL` is set, else the app's own database (a small storage
below: one upsert per counter). Keys are HMACs, so the counters hold no address in clear.
"""

import asyncio
import hashlib
import hmac
import ipaddress
import math
import random
import time

import limits
from limits.aio.storage import Storage
from limits.storage import storage_from_string
from limits.aio.strategies import FixedWindowRateLimiter
from sqlalchemy import Connection, Engine, bindparam, delete, select, text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from .config import Settings
from .contacts import ContactError
from .db import run_async
from .keys import derive_key
from .models import IntentSource, RateLimitCounter
from .routes.responses import ApiError
from .schemas import IntentRequest

counters = RateLimitCounter.__table__
_INCR = text(
    "INSERT INTO rate_limit_counter (key, count, expires_at) VALUES (:key, :amount, :now + :expiry) "
    "ON CONFLICT (key) DO UPDATE SET "
    "count = CASE WHEN rate_limit_counter.expires_at <= :now THEN :amount ELSE rate_limit_counter.count + :amount END, "
    "expires_at = CASE WHEN rate_limit_counter.expires_at <= :now THEN :now + :expiry "
    "ELSE rate_limit_counter.expires_at END "
    "RETURNING count"
)
_COUNTER = select(counters.c.count, counters.c.expires_at).where(counters.c.key == bindparam("key"))


class DatabaseStorage(Storage):
    """A `limits` storage on the app's database (PostgreSQL through the async engine, SQLite in a
    thread). Only what the fixed-window strategy uses: incr, get, get_expiry."""

    STORAGE_SCHEME = ["shopify-app-database"]

    def __init__(self, engine: Engine, async_engine: AsyncEngine | None) -> None:
        super().__init__()
        self.engine, self.async_engine = engine, async_engine

    @property
    def base_exceptions(self) -> type[Exception]:
        return Exception

    @staticmethod
    def _key(key: str) -> str:
        """limits' key (`LIMITER/<id>/<amount>/<multiple>/<unit>`) at a fixed length for the column."""
        return hashlib.sha256(key.encode()).hexdigest()

    async def _run(self, work):
        if self.async_engine is not None:
            return await run_async(self.async_engine, work, autocommit=True)

        def in_thread():
            with self.engine.begin() as connection:
                return work(connection)

        return await run_in_threadpool(in_thread)

    async def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        now = time.time()

        def work(connection: Connection) -> int:
            if random.random() < 0.001:  # now and then, forget windows that have ended
                connection.execute(delete(counters).where(counters.c.expires_at < now))
            params = {"key": self._key(key), "amount": amount, "now": now, "expiry": float(expiry)}
            return connection.execute(_INCR, params).scalar_one()

        return await self._run(work)

    async def _row(self, key: str):
        return await self._run(lambda c: c.execute(_COUNTER, {"key": self._key(key)}).first())

    async def get(self, key: str) -> int:
        row = await self._row(key)
        return row.count if row is not None and row.expires_at > time.time() else 0

    async def get_expiry(self, key: str) -> float:
        row = await self._row(key)
        return row.expires_at if row is not None and row.expires_at > time.time() else time.time()

    async def check(self) -> bool:
        return True

    async def reset(self) -> int | None:
        return await self._run(lambda c: c.execute(delete(counters)).rowcount)

    async def clear(self, key: str) -> None:
        await self._run(lambda c: c.execute(delete(counters).where(counters.c.key == self._key(key))))


class SignupLimits:
    """The app's two signup limits and the storage they count in (built by the lifespan)."""

    def __init__(self, settings: Settings, engine: Engine, async_engine: AsyncEngine | None) -> None:
        if settings.REDIS_URL:
            # redis-py's asyncio client, through limits' own Redis storage
            storage = storage_from_string("async+" + settings.REDIS_URL, implementation="redispy")
        else:
            storage = DatabaseStorage(engine, async_engine)
        self.limiter = FixedWindowRateLimiter(storage)
        self.per_address = limits.parse(settings.SIGNUP_RATE_LIMIT)
        self.per_contact = limits.parse(settings.SIGNUP_CONTACT_LIMIT)
        self._key = derive_key(settings.SECRET_KEY, "rate-limit")
        self.trusted = trusted_networks(settings.FORWARDED_ALLOW_IPS)

    def key(self, *parts: str) -> str:
        return hmac.new(self._key, "\x1f".join(parts).encode(), hashlib.sha256).hexdigest()[:40]

    async def hit(self, item: limits.RateLimitItem, key: str) -> None:
        if not await self.limiter.hit(item, key):
            reset, _ = await self.limiter.get_window_stats(item, key)
            wait = max(1, math.ceil(reset - time.time()))
            raise ApiError(429, f"Too many signups; try again in {wait} seconds", headers={"Retry-After": str(wait)})


def trusted_networks(value: str) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network] | None:
    """FORWARDED_ALLOW_IPS as networks; None means every address (`*`)."""
    found = []
    for part in (p.strip() for p in value.split(",")):
        if part == "*":
            return None
        if part:
            found.append(ipaddress.ip_network(part, strict=False))
    return found


def _is_trusted(address: str, trusted) -> bool:
    if trusted is None:
        return True
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in trusted)


def client_address(request: Request, trusted, *, door: IntentSource) -> str | None:
    """Who is asking. The socket's peer, unless it is one of our reverse proxies: then the last
    address in X-Forwarded-For that is not. Through the app proxy every request comes from
    Shopify's servers, which put the shopper's address in X-Forwarded-For (Shopify's app-proxy
    documentation): there it is the address just before Shopify's own hop."""
    peer = request.client.host if request.client else None
    hops = [h.strip() for h in request.headers.get("x-forwarded-for", "").split(",") if h.strip()]
    through_ours = peer is not None and _is_trusted(peer, trusted)
    if through_ours:
        while hops and _is_trusted(hops[-1], trusted):
            hops.pop()
    if door == IntentSource.proxy:
        if through_ours and hops:
            hops.pop()  # Shopify's server, as our reverse proxy saw it
        return hops[-1] if hops else None
    if through_ours and hops:
        return hops[-1]
    return peer


async def check_signup(request: Request, shop: str, signup: IntentRequest, *, door: IntentSource) -> None:
    """Count this signup against both limits; ApiError(429) when one is spent."""
    from .intents import signup_address  # the service's own notion of the signup's address

    signup_limits: SignupLimits = request.app.state.signup_limits
    hits = []
    address = client_address(request, signup_limits.trusted, door=door)
    if address:
        hits.append(signup_limits.hit(signup_limits.per_address, signup_limits.key("ip", address)))
    try:
        contact = signup_address(signup, request.app.state.settings.push_allowlist)
    except ContactError:
        contact = None  # answered 200 with the reason; nothing will be stored
    if contact:
        hits.append(signup_limits.hit(signup_limits.per_contact, signup_limits.key("contact", shop, contact)))
    for outcome in await asyncio.gather(*hits, return_exceptions=True):  # both counted, side by side
        if isinstance(outcome, BaseException):
            raise outcome

