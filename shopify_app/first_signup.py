"""PostgreSQL: first signups, many in one statement (group commit).

Most signups come from a shopper the shop has never seen. On PostgreSQL their whole write (the
shop check, "is this shopper or address known?", the customer, the intent, and a `variant_read`
job for a variant not in the cache) is one statement with data-modifying CTEs instead of four
round trips; and the first signups of concurrent requests share that statement and its commit
(`GroupFirstSignup`, on the `group_insert` machinery): under load one commit carries many
signups, at low load a signup waits for nothing. A request is answered only after the statement
that filed it has committed.

Anything else (a known shopper or address, a repeat, a race, a shop with double opt-in, two
signups of one batch for the same address) inserts nothing here and takes the general path
(`intents.create`), which has the last word."""

import asyncio
import json
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.dialects import postgresql

from . import variant_reads
from .contacts import ContactError
from .group_insert import GroupWriter
from .models import Customer, Intent, IntentSource, Job, Variant, utcnow
from .schemas import IntentRequest
from .shops import INSTALLED, ShopRef, shops
from .signup_contacts import Contacts, read_contacts
from .signup_customers import new_customer
from .signup_rows import CreateResult, new_intent, to_public

customers, intents, jobs, variants = (
    Customer.__table__,
    Intent.__table__,
    Job.__table__,
    Variant.__table__,
)


@dataclass
class FirstSignup:
    """One request's rows, before the statement knows its shop's id."""

    domain: str
    customer: dict[str, Any]
    intent: dict[str, Any]
    job: dict[str, Any]

    def row(self) -> dict[str, Any]:
        return {
            "domain": self.domain,
            **{f"c_{k}": v for k, v in self.customer.items()},
            **{f"i_{k}": v for k, v in self.intent.items()},
            **{f"j_{k}": v for k, v in self.job.items() if k not in ("shop_id", "key")},
        }


@dataclass(frozen=True)
class Filed:
    """The statement's answer for one signup: its shop (None: not installed), its intent's id
    (None: not a first signup, take the general path)."""

    shop: ShopRef | None
    intent_id: int | None


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
    sql = f"""
WITH x AS (
  SELECT * FROM jsonb_to_recordset(CAST(:rows AS JSONB)) AS x({record})
), s AS (
  SELECT id, domain, double_optin FROM {shops.name}
  WHERE domain IN (SELECT domain FROM x) AND {INSTALLED.compile(dialect=dialect)}
), c AS (
  INSERT INTO {customers.name} ({", ".join(customer_keys)})
  SELECT {", ".join("s.id" if k == "shop_id" else f"x.c_{k}" for k in customer_keys)}
  FROM x JOIN s ON s.domain = x.domain
  WHERE NOT s.double_optin AND NOT EXISTS (SELECT 1 FROM {customers.name} k WHERE k.shop_id = s.id
                    AND (k.email = x.c_email OR k.phone = x.c_phone))
    AND NOT EXISTS (SELECT 1 FROM {intents.name} p WHERE p.shop_id = s.id
                    AND p.contact_key = x.i_contact_key)
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
)
SELECT x.c_id, s.id AS shop_id, s.double_optin, i.id AS intent_id
FROM x LEFT JOIN s ON s.domain = x.domain LEFT JOIN i ON i.customer_id = x.c_id"""
    return text(sql)


def prepare(
    domain: str,
    request: IntentRequest,
    *,
    source: IntentSource,
    push_allowlist: frozenset[str],
    contacts: Contacts | None = None,
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
    return FirstSignup(domain, customer, intent, job), contacts


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
        # statement's "is this address known?" cannot see its own rows); the other is answered
        # "not filed" and takes the general path, which then sees the first.
        taken: set[tuple[str, str, Any]] = set()
        written: list[FirstSignup] = []
        for signup, _ in batch:
            addresses = _same_address(signup)
            if taken.isdisjoint(addresses):
                written.append(signup)
            taken.update(addresses)
        try:
            found = await self.run(self._execute, written)
        except Exception as exc:
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        # Every domain has a written row (its first signup), so each signup learns its shop.
        shop_of = {s.domain: f.shop for s in written if (f := found.get(s.customer["id"]))}
        for signup, future in batch:
            if future.done():  # the request was cancelled (client gone)
                continue
            filed = found.get(signup.customer["id"])
            future.set_result(filed or Filed(shop=shop_of.get(signup.domain), intent_id=None))

    def _execute(self, connection: Connection, written: list[FirstSignup]) -> dict[str, Filed]:
        if not written:
            return {}
        first = written[0]
        statement = _statement(tuple(first.customer), tuple(first.intent), tuple(first.job))
        rows = json.dumps([s.row() for s in written], default=_stamp)
        found: dict[str, Filed] = {}
        for row in connection.execute(statement, {"rows": rows}):
            shop = (
                ShopRef(id=row.shop_id, double_optin=row.double_optin)
                if row.shop_id is not None
                else None
            )
            found[row.c_id] = Filed(shop=shop, intent_id=row.intent_id)
        return found
