"""Abuse limits on signups: per client address (`SIGNUP_RATE_LIMIT`) and per shop and contact
address (`SIGNUP_CONTACT_LIMIT`). Over either: 429 with `Retry-After`, and nothing is stored.

The algorithm is the `limits` library's fixed window; its counters live where every server
process sees them: Redis when `REDIS_URL` is set, else the app's own database (a small storage
below: one upsert per counter; on PostgreSQL a first signup's counters are upserted by the
statement that files it, `first_signup.py`, with `Counter`s built here). Keys are HMACs, so the
counters hold no address in clear.
"""

import asyncio
import hashlib
import hmac
import ipaddress
import math
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass

import limits
from limits.aio.storage import Storage
from limits.aio.strategies import FixedWindowRateLimiter
from limits.storage import storage_from_string
from sqlalchemy import Connection, Engine, bindparam, case, delete, select
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import Request

from .config import Settings
from .crypto import derive_key
from .db import dialect_insert_for
from .errors import ApiError
from .group_insert import GroupWriter
from .models import IntentSource, RateLimitCounter

counters = RateLimitCounter.__table__
_COUNTER = select(counters.c.count, counters.c.expires_at).where(counters.c.key == bindparam("key"))


def _increment_statement(dialect: str):
    """One upsert per key: a window that has ended starts again at this amount."""
    stmt = dialect_insert_for(dialect, counters).values(
        key=bindparam("key"), count=bindparam("amount"), expires_at=bindparam("expires_at")
    )
    ended = counters.c.expires_at <= bindparam("now")
    return stmt.on_conflict_do_update(
        index_elements=["key"],
        set_={
            "count": case(
                (ended, stmt.excluded.count), else_=counters.c.count + stmt.excluded.count
            ),
            "expires_at": case((ended, stmt.excluded.expires_at), else_=counters.c.expires_at),
        },
    ).returning(counters.c.key, counters.c.count)


class GroupIncrement(GroupWriter):
    """Counters of concurrent signups written together (group commit): one statement and one
    commit carry many requests' increments, each request learning its own count."""

    def __init__(self, *, engine: Engine, async_engine: AsyncEngine | None) -> None:
        super().__init__(engine=engine, async_engine=async_engine)
        self.statement = _increment_statement(self.dialect)

    async def _write_batch(self, batch: list[tuple[tuple[str, int, int], asyncio.Future]]) -> None:
        now = time.time()
        totals: dict[str, dict] = {}
        for (key, expiry, amount), _ in batch:  # a key twice in one statement is one row, summed
            row = totals.setdefault(
                key, {"key": key, "amount": 0, "expires_at": now + expiry, "now": now}
            )
            row["amount"] += amount
        try:
            counts = dict(await self.run(self._execute, list(totals.values())))
        except Exception as exc:
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for (key, _, amount), future in reversed(batch):  # the last to ask gets the highest count
            count = counts[key]
            counts[key] = count - amount
            if not future.done():
                future.set_result(count)

    def _execute(self, connection: Connection, rows: list[dict]) -> list[tuple[str, int]]:
        if random.random() < 0.001:  # now and then, forget windows that have ended
            connection.execute(delete(counters).where(counters.c.expires_at < time.time()))
        return [tuple(r) for r in connection.execute(self.statement, rows)]


class DatabaseStorage(Storage):
    """A `limits` storage on the app's database: increments are group-committed (PostgreSQL
    through the async engine, SQLite in a thread). Only what the fixed-window strategy uses:
    incr, get, get_expiry."""

    # `limits` declares it an attribute (not a ClassVar) of type `list[str] | None`
    STORAGE_SCHEME: list[str] | None = ["shopify-app-database"]  # noqa: RUF012

    def __init__(self, engine: Engine, async_engine: AsyncEngine | None) -> None:
        super().__init__()
        self.increments = GroupIncrement(engine=engine, async_engine=async_engine)

    @property
    def base_exceptions(self) -> type[Exception]:
        return Exception

    @staticmethod
    def _key(key: str) -> str:
        """limits' key (`LIMITER/<id>/<amount>/<multiple>/<unit>`) at a fixed length for the column."""
        return hashlib.sha256(key.encode()).hexdigest()

    async def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        return await self.increments.submit((self._key(key), expiry, amount))

    async def _row(self, key: str):
        return await self.increments.run(
            lambda c: c.execute(_COUNTER, {"key": self._key(key)}).first()
        )

    async def get(self, key: str) -> int:
        row = await self._row(key)
        return row.count if row is not None and row.expires_at > time.time() else 0

    async def get_expiry(self, key: str) -> float:
        row = await self._row(key)
        return row.expires_at if row is not None and row.expires_at > time.time() else time.time()

    async def check(self) -> bool:
        return True

    async def reset(self) -> int | None:
        return await self.increments.run(lambda c: c.execute(delete(counters)).rowcount)

    async def clear(self, key: str) -> None:
        await self.increments.run(
            lambda c: c.execute(delete(counters).where(counters.c.key == self._key(key)))
        )


class SignupLimits:
    """The app's two signup limits and the storage they count in (built by the lifespan)."""

    def __init__(
        self, settings: Settings, engine: Engine, async_engine: AsyncEngine | None
    ) -> None:
        if settings.REDIS_URL:
            # redis-py's asyncio client, through limits' own Redis storage
            storage = storage_from_string("async+" + settings.REDIS_URL, implementation="redispy")
        else:
            storage = DatabaseStorage(engine, async_engine)
        self.limiter = FixedWindowRateLimiter(storage)
        # PostgreSQL's counters can be written by the signup's own statement (first_signup.py)
        self.in_postgresql = isinstance(storage, DatabaseStorage) and async_engine is not None
        self.per_address = limits.parse(settings.SIGNUP_RATE_LIMIT)
        self.per_contact = limits.parse(settings.SIGNUP_CONTACT_LIMIT)
        self._key = derive_key(settings.SECRET_KEY, "rate-limit")
        self.trusted = trusted_networks(settings.FORWARDED_ALLOW_IPS)

    def key(self, *parts: str) -> str:
        return hmac.new(self._key, "\x1f".join(parts).encode(), hashlib.sha256).hexdigest()[:40]

    async def hit(self, item: limits.RateLimitItem, key: str) -> None:
        if not await self.limiter.hit(item, key):
            reset, _ = await self.limiter.get_window_stats(item, key)
            raise too_many(reset)

    async def count(self, hits: Sequence["Hit"]) -> None:
        """Count `hits` through `limits` (Redis or the database); ApiError(429) when one is spent.
        Both are counted, side by side."""
        outcomes = await asyncio.gather(
            *(self.hit(h.item, h.key) for h in hits), return_exceptions=True
        )
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome

    @staticmethod
    def counter(hit: "Hit") -> "Counter":
        """The hit as the database counts it: the row `DatabaseStorage.incr` would write."""
        item = hit.item
        return Counter(DatabaseStorage._key(item.key_for(hit.key)), item.get_expiry(), item.amount)


@dataclass(frozen=True)
class Hit:
    """One signup counted against one limit: the limit and whose count (an HMAC)."""

    item: limits.RateLimitItem
    key: str


@dataclass(frozen=True)
class Counter:
    """A hit as a `rate_limit_counter` row: its key, its window in seconds, the limit."""

    key: str
    expiry: int
    limit: int


def too_many(reset: float) -> ApiError:
    """The 429 for a limit whose window ends at `reset` (epoch seconds)."""
    wait = max(1, math.ceil(reset - time.time()))
    return ApiError(
        429, f"Too many signups; try again in {wait} seconds", headers={"Retry-After": str(wait)}
    )


def raise_if_spent(counters: Sequence[Counter], counts: Sequence[tuple[int, float]]) -> None:
    """ApiError(429) for the first counter whose (count, window end) is over its limit."""
    for counter, (count, reset) in zip(counters, counts, strict=True):
        if count > counter.limit:
            raise too_many(reset)


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


def forwarded_for(request: Request) -> list[str]:
    """The X-Forwarded-For hops, first to last. Several field lines of the header are one list, in
    order (RFC 9110 section 5.3), so a line a client sent before our proxy's own is just an earlier hop."""
    lines = request.headers.getlist("x-forwarded-for")
    return [hop.strip() for line in lines for hop in line.split(",") if hop.strip()]


def client_address(request: Request, trusted, *, door: IntentSource) -> str | None:
    """Who is asking. The socket's peer, unless it is one of our reverse proxies: then the last
    address in X-Forwarded-For that is not. Through the app proxy every request comes from
    Shopify's servers, which put the shopper's address in X-Forwarded-For (Shopify's app-proxy
    documentation): there it is the address just before Shopify's own hop."""
    peer = request.client.host if request.client else None
    hops = forwarded_for(request)
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


def signup_hits(
    request: Request, shop: str, address: str | None, *, door: IntentSource
) -> list[Hit]:
    """What this signup counts against: the per-address limit, and the per-contact one only when
    its `address` is valid (an invalid one is answered 200 and stores nothing)."""
    signup_limits: SignupLimits = request.app.state.signup_limits
    hits = []
    client = client_address(request, signup_limits.trusted, door=door)
    if client:
        hits.append(Hit(signup_limits.per_address, signup_limits.key("ip", client)))
    if address:
        hits.append(Hit(signup_limits.per_contact, signup_limits.key("contact", shop, address)))
    return hits
