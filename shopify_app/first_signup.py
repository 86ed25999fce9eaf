"""PostgreSQL: a first signup in one statement.

Most signups come from a shopper the shop has never seen. On PostgreSQL their whole write (the
shop check, "is this shopper or address known?", the customer, the intent) is one statement with
data-modifying CTEs instead of four round trips. Anything else (a known shopper or address, a
repeat, a race, a shop with double opt-in) inserts nothing there and takes the general path
(`intents.create`), which has the last word."""

from functools import cache

from sqlalchemy import Connection, text
from sqlalchemy.dialects import postgresql

from . import variant_reads
from .contacts import ContactError
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


@cache
def _first_signup_statement(
    customer_keys: tuple[str, ...], intent_keys: tuple[str, ...], job_keys: tuple[str, ...]
):
    dialect = postgresql.dialect()

    def given(table, prefix: str, key: str) -> str:  # typed, so a NULL is the column's type
        return f"CAST(:{prefix}{key} AS {table.c[key].type.compile(dialect=dialect)})"

    own = {"shop_id": "s.id", "customer_id": "c.id"}
    # the variant read for a variant not in the cache (variant_reads.py), keyed as it keys it
    own_job = {
        "shop_id": "s.id",
        "key": "CAST(s.id AS VARCHAR) || ':' || CAST(:i_shopify_variant_id AS VARCHAR)",
    }
    sql = f"""
WITH s AS (
  SELECT id, double_optin FROM {shops.name}
  WHERE domain = :domain AND {INSTALLED.compile(dialect=dialect)}
), c AS (
  INSERT INTO {customers.name} ({", ".join(customer_keys)})
  SELECT {", ".join("s.id" if k == "shop_id" else given(customers, "c_", k) for k in customer_keys)} FROM s
  WHERE NOT s.double_optin AND NOT EXISTS (SELECT 1 FROM {customers.name} k WHERE k.shop_id = s.id
                    AND (k.email = CAST(:c_email AS VARCHAR) OR k.phone = CAST(:c_phone AS VARCHAR)))
    AND NOT EXISTS (SELECT 1 FROM {intents.name} p WHERE p.shop_id = s.id
                    AND p.contact_key = CAST(:i_contact_key AS VARCHAR))
  ON CONFLICT DO NOTHING RETURNING id
), i AS (
  INSERT INTO {intents.name} ({", ".join(intent_keys)})
  SELECT {", ".join(own.get(k) or given(intents, "i_", k) for k in intent_keys)} FROM s, c
  ON CONFLICT DO NOTHING RETURNING id
), j AS (
  INSERT INTO {jobs.name} ({", ".join(job_keys)})
  SELECT {", ".join(own_job.get(k) or given(jobs, "j_", k) for k in job_keys)} FROM s, i
  WHERE NOT EXISTS (SELECT 1 FROM {variants.name} v WHERE v.shop_id = s.id
                    AND v.shopify_variant_id = CAST(:i_shopify_variant_id AS BIGINT))
  ON CONFLICT DO NOTHING
)
SELECT s.id, s.double_optin, (SELECT id FROM i) AS intent_id FROM s"""
    return text(sql)


def create_first_signup(
    connection: Connection,
    domain: str,
    request: IntentRequest,
    *,
    source: IntentSource,
    push_allowlist: frozenset[str],
    contacts: Contacts | None = None,
) -> tuple[ShopRef | None, CreateResult | None] | None:
    """PostgreSQL only. (None, None): the shop has not installed the app. (shop, result): filed.
    (shop, None): not a first signup, use `intents.create` with that shop. None: not tried (the
    contact is invalid or the request names a customer id), use the general path."""
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
    statement = _first_signup_statement(tuple(customer), tuple(intent), tuple(job))
    params = {
        "domain": domain,
        **{f"c_{k}": v for k, v in customer.items()},
        **{f"i_{k}": v for k, v in intent.items()},
        **{f"j_{k}": v for k, v in job.items() if k not in ("shop_id", "key")},
    }
    row = connection.execute(statement, params).first()
    if row is None:
        return None, None
    shop = ShopRef(id=row.id, double_optin=row.double_optin)
    if row.intent_id is None:
        return shop, None
    customer["shop_id"] = intent["shop_id"] = shop.id
    intent["id"] = row.intent_id
    return shop, CreateResult(
        intents=[to_public(intent, request, contacts, customer)], created=True
    )
