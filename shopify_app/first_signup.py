"""PostgreSQL: first signups, many in one statement (group commit).

Most signups come from a shopper the shop has never seen. On PostgreSQL their whole write (the
shop check, "is this shopper or address known?", the customer, the intent, a `variant_read`
job for a variant not in the cache, and a `signup_event` job when the shop's webhook or Flow wants
the signup (events_out.py)) is one statement with data-modifying CTEs instead of four
round trips; and the first signups of concurrent requests share that statement and its commit
(`GroupFirstSignup`, on the `group_insert` machinery): under load one commit carries many
signups, at low load a signup waits for nothing. A request is answered only after the statement
that filed it has committed.

Anything else (a known shopper or address, a repeat, a race, a shop with double opt-in, an SMS
signup to a shop that limits its SMS countries, two signups of one batch for the same address) inserts nothing here and takes the general path
(`intents.create`), which has the last word."""

import asyncio
import json
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Connection, delete, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import DBAPIError

from . import events_out, variant_reads
from .contacts import ContactError
from .group_insert import GroupWriter
from .models import (
    Customer,
    Intent,
    IntentSource,
    Job,
    JobKind,
    RateLimitCounter,
    Variant,
    utcnow,
)
from .ratelimit import Counter
from .schemas import IntentRequest
from .shops import INSTALLED, ShopRef, shops
from .signup_contacts import Contacts, read_contacts
from .signup_customers import new_customer
from .signup_rows import CreateResult, new_intent, to_public

DEADLOCK = "40P01"  # PostgreSQL's deadlock_detected
customers, intents, jobs, variants, counters = (
    Customer.__table__,
    Intent.__table__,
    Job.__table__,
    Variant.__table__,
    RateLimitCounter.__table__,
)


@dataclass
class FirstSignup:
    """One request's rows, before the statement knows its shop's id."""

    domain: str
    customer: dict[str, Any]
    intent: dict[str, Any]
    job: dict[str, Any]
    # the abuse limits' counters to count in the same statement (PostgreSQL's own counters)
    counters: Sequence[Counter] = ()

    def row(self, n: int, tried: bool) -> dict[str, Any]:
        return {
            "n": n,
            "tried": tried,
            "counters": [
                {"which": w, "key": c.key, "expiry": c.expiry, "lim": c.limit}
                for w, c in enumerate(self.counters)
            ],
            "domain": self.domain,
            **{f"c_{k}": v for k, v in self.customer.items()},
            **{f"i_{k}": v for k, v in self.intent.items()},
            **{f"j_{k}": v for k, v in self.job.items() if k not in ("shop_id", "key")},
        }


@dataclass(frozen=True)
class Filed:
    """The statement's answer for one signup: its shop (None: not installed), its intent's id
    (None: not filed here, take the general path), and each counter's (count, window end)."""

    shop: ShopRef | None
    intent_id: int | None
    counts: list[tuple[int, float]] = field(default_factory=list)


def _countries(value: Any) -> tuple[str, ...] | None:
    """The shop's SMS countries as the statement read them (JSON: psycopg decodes it)."""
    if isinstance(value, str):
        value = json.loads(value)
    return tuple(value) if value is not None else None


def _stamp(value: datetime) -> str:
    return value.isoformat()


@cache
def _statement(
    customer_keys: tuple[str, ...], intent_keys: tuple[str, ...], job_keys: tuple[str, ...]
):
    """The rows arrive as one JSON array (`jsonb_to_recordset`): one parameter, whatever the
    batch's size, so the statement's text (and psycopg's prepared plan) is the same for every
    batch."""
    dialect = postgresql.dialect()

    def typ(table, key: str) -> str:
        return table.c[key].type.compile(dialect=dialect)

    job_given = [k for k in job_keys if k not in ("shop_id", "key")]
    record = ", ".join(
        [
            "n INTEGER",
            "tried BOOLEAN",
            "counters JSONB",
            "domain VARCHAR",
            *(f"c_{k} {typ(customers, k)}" for k in customer_keys),
            *(f"i_{k} {typ(intents, k)}" for k in intent_keys),
            *(f"j_{k} {typ(jobs, k)}" for k in job_given),
        ]
    )
    own = {"shop_id": "s.id", "customer_id": "c.id"}
    # the variant read for a variant not in the cache (variant_reads.py), keyed as it keys it
    own_job = {
        "shop_id": "s.id",
        "key": "CAST(s.id AS VARCHAR) || ':' || CAST(x.i_shopify_variant_id AS VARCHAR)",
    }
    event_job = {
        "kind": f"'{JobKind.signup_event.value}'",
        "shop_id": "s.id",
        "key": "CAST(i.id AS VARCHAR)",
        "payload": "CAST(jsonb_build_object('intent_id', i.id) AS TEXT)",
    }
    ended = f"{counters.name}.expires_at <= CAST(:now AS FLOAT)"
    # Does a target want the shop's `signup.created` (events_out.py)? Then a `signup_event` job
    # is written in this statement, which writes the event (this statement runs in autocommit).
    events_wanted = events_out.wanted(events_out.SIGNUP_CREATED).compile(
        dialect=dialect, compile_kwargs={"literal_binds": True}
    )
    sql = f"""
WITH x AS (
  SELECT * FROM jsonb_to_recordset(CAST(:rows AS JSONB)) AS x({record})
), h AS (
  SELECT x.n, k.which, k.key, k.expiry, k.lim
  FROM x, jsonb_to_recordset(x.counters) AS k(which INTEGER, key VARCHAR, expiry INTEGER, lim INTEGER)
), u AS (
  INSERT INTO {counters.name} (key, count, expires_at)
  SELECT key, count(*), CAST(:now AS FLOAT) + max(expiry) FROM h GROUP BY key ORDER BY key
  ON CONFLICT (key) DO UPDATE SET
    count = CASE WHEN {ended} THEN excluded.count ELSE {counters.name}.count + excluded.count END,
    expires_at = CASE WHEN {ended} THEN excluded.expires_at ELSE {counters.name}.expires_at END
  RETURNING key, count, expires_at
), hc AS (
  SELECT h.n, h.which, h.lim, u.expires_at,
         u.count - row_number() OVER (PARTITION BY h.key ORDER BY h.n DESC) + 1 AS count
  FROM h JOIN u ON u.key = h.key
), ok AS (
  SELECT x.* FROM x
  WHERE x.tried AND NOT EXISTS (SELECT 1 FROM hc WHERE hc.n = x.n AND hc.count > hc.lim)
), s AS (
  SELECT id, domain, double_optin, sms_countries, {events_wanted} AS events_wanted FROM {shops.name}
  WHERE domain IN (SELECT domain FROM x) AND {INSTALLED.compile(dialect=dialect)}
), c AS (
  INSERT INTO {customers.name} ({", ".join(customer_keys)})
  SELECT {", ".join("s.id" if k == "shop_id" else f"x.c_{k}" for k in customer_keys)}
  FROM ok x JOIN s ON s.domain = x.domain
  LEFT JOIN LATERAL (SELECT 1 AS seen FROM {intents.name} p WHERE p.shop_id = s.id
                     AND p.contact_key = x.i_contact_key LIMIT 1) p ON true
  WHERE NOT s.double_optin AND p.seen IS NULL
    AND (s.sms_countries IS NULL OR x.i_channel <> 'sms')
  ON CONFLICT DO NOTHING RETURNING id
), i AS (
  INSERT INTO {intents.name} ({", ".join(intent_keys)})
  SELECT {", ".join(own.get(k) or f"x.i_{k}" for k in intent_keys)}
  FROM x JOIN s ON s.domain = x.domain JOIN c ON c.id = x.c_id
  ON CONFLICT DO NOTHING RETURNING id, customer_id
), j AS (
  INSERT INTO {jobs.name} ({", ".join(job_keys)})
  SELECT DISTINCT ON (s.id, x.i_shopify_variant_id)
         {", ".join(own_job.get(k) or f"x.j_{k}" for k in job_keys)}
  FROM x JOIN s ON s.domain = x.domain JOIN i ON i.customer_id = x.c_id
  WHERE NOT EXISTS (SELECT 1 FROM {variants.name} v WHERE v.shop_id = s.id
                    AND v.shopify_variant_id = x.i_shopify_variant_id)
  ON CONFLICT DO NOTHING
), e AS (
  INSERT INTO {jobs.name} ({", ".join(job_keys)})
  SELECT {", ".join(event_job.get(k) or f"x.j_{k}" for k in job_keys)}
  FROM x JOIN s ON s.domain = x.domain JOIN i ON i.customer_id = x.c_id
  WHERE s.events_wanted
  ON CONFLICT DO NOTHING
)
SELECT x.n, s.id AS shop_id, s.double_optin, s.sms_countries, i.id AS intent_id,
       (SELECT jsonb_agg(jsonb_build_array(hc.which, hc.count, hc.expires_at)) FROM hc
        WHERE hc.n = x.n) AS counts
FROM x LEFT JOIN s ON s.domain = x.domain LEFT JOIN i ON i.customer_id = x.c_id"""
    return text(sql)


def prepare(
    domain: str,
    request: IntentRequest,
    *,
    source: IntentSource,
    push_allowlist: frozenset[str],
    contacts: Contacts | None = None,
    counters: Sequence[Counter] = (),
) -> tuple[FirstSignup, Contacts] | None:
    """The rows of a first signup; None when not to try (the contact is invalid or the request
    names a customer id): use the general path."""
    if request.customer.id:
        return None
    try:
        contacts = contacts or read_contacts(request, push_allowlist)
    except ContactError:
        return None
    now = utcnow()
    customer = new_customer(None, request.customer, contacts, now)
    intent = new_intent(ShopRef(0), customer["id"], request, contacts, source, now)
    job = variant_reads.job_row(intent["shopify_variant_id"], now)
    return FirstSignup(domain, customer, intent, job, counters), contacts


def answer(
    signup: FirstSignup, filed: Filed, request: IntentRequest, contacts: Contacts
) -> CreateResult:
    customer, intent = signup.customer, signup.intent
    customer["shop_id"] = intent["shop_id"] = filed.shop.id if filed.shop else None
    intent["id"] = filed.intent_id
    return CreateResult(intents=[to_public(intent, request, contacts, customer)], created=True)


def _same_address(signup: FirstSignup) -> list[tuple[str, str, Any]]:
    found = [("key", signup.domain, signup.intent["contact_key"])]
    found += [
        (column, signup.domain, signup.customer[column])
        for column in ("email", "phone")
        if signup.customer[column] is not None
    ]
    return found


class GroupFirstSignup(GroupWriter):
    """First signups of concurrent requests in one statement and one commit (PostgreSQL)."""

    async def file(self, signup: FirstSignup) -> Filed:
        return await self.submit(signup)

    async def _write_batch(self, batch: list[tuple[FirstSignup, asyncio.Future]]) -> None:
        # Two signups of one batch for the same address: only the first is tried here (the
        # statement's "is this address known?" cannot see its own rows); the other is counted,
        # answered "not filed" and takes the general path, which then sees the first.
        taken: set[tuple[str, str, Any]] = set()
        tried: list[bool] = []
        for signup, _ in batch:
            addresses = _same_address(signup)
            tried.append(taken.isdisjoint(addresses))
            taken.update(addresses)
        signups = [signup for signup, _ in batch]
        try:
            try:
                found = await self.run(self._execute, signups, tried)
            except DBAPIError as exc:
                if getattr(exc.orig, "sqlstate", None) != DEADLOCK:
                    raise
                # two statements in flight inserting the same new addresses in opposite orders:
                # PostgreSQL rolled this one back whole, so it is written again
                found = await self.run(self._execute, signups, tried)
        except Exception as exc:
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for (_, future), filed in zip(batch, found, strict=True):
            if not future.done():  # else the request was cancelled (client gone)
                future.set_result(filed)

    def _execute(
        self, connection: Connection, signups: list[FirstSignup], tried: list[bool]
    ) -> list[Filed]:
        now = time.time()
        if random.random() < 0.001:  # now and then, forget the limits' windows that have ended
            connection.execute(delete(counters).where(counters.c.expires_at < now))
        first = signups[0]
        statement = _statement(tuple(first.customer), tuple(first.intent), tuple(first.job))
        rows = json.dumps(
            [s.row(n, t) for n, (s, t) in enumerate(zip(signups, tried, strict=True))],
            default=_stamp,
        )
        found: list[Filed] = [Filed(shop=None, intent_id=None)] * len(signups)
        for row in connection.execute(statement, {"rows": rows, "now": now}):
            shop = (
                ShopRef(
                    id=row.shop_id,
                    double_optin=row.double_optin,
                    sms_countries=_countries(row.sms_countries),
                )
                if row.shop_id is not None
                else None
            )
            counts = sorted(row.counts or [])
            found[row.n] = Filed(shop, row.intent_id, [(c, e) for _, c, e in counts])
        return found
