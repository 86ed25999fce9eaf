"""A large shop for the admin's benchmarks (bench/admin_stats.py, bench/admin_export.py), written
straight to a bench database of its own: PostgreSQL `bench_admin` (COPY) or a SQLite file under /tmp
(executemany in large transactions). Rows are made by one seeded generator, so both backends hold
the same data:

- the measured shop: `signups` signups (each with a customer; about 70% as many customers, so some
  shoppers wait for several variants) over `days` days, twice as many a day lately as at the start, on 2,000 variants with a
  long tail; 10% notified (one sent or failed alert each, from 1,000 restocks), 5% unsubscribed, 3%
  cancelled, the rest waiting; 5% of the alerts led to an order line (conversion);
- `other_rows` signups spread over 200 other shops (with their notifications and conversions).
"""

import contextlib
import math
import random
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from sqlalchemy import text

from bench.common import PG_ADMIN, ROOT, app_env
from shopify_app.config import Settings
from shopify_app.db import make_engine
from shopify_app.oauth import Grant, store_shop

SHOP = "bench-admin.myshopify.com"
NAME = "bench_admin"  # the PostgreSQL database, and /tmp/NAME.sqlite3
VARIANTS = 2000
OTHER_SHOPS = 200

INTENT_COLUMNS = (
    "id",
    "shop_id",
    "customer_id",
    "channel",
    "email",
    "phone",
    "push_subscription",
    "contact_key",
    "quantity",
    "source",
    "status",
    "shopify_variant_id",
    "shopify_product_id",
    "shopify_inventory_item_id",
    "product_title",
    "variant_title",
    "variant_count",
    "vendor",
    "sku",
    "optin_confirmed",
    "notified_at",
    "unsubscribed_at",
    "sent_notifications_count",
    "accepts_marketing",
    "consent_at",
    "created_at",
    "updated_at",
)
CUSTOMER_COLUMNS = (
    "id",
    "shop_id",
    "email",
    "phone",
    "locale",
    "accepts_marketing",
    "created_at",
    "updated_at",
)
VARIANT_COLUMNS = (
    "id",
    "shop_id",
    "shopify_variant_id",
    "shopify_product_id",
    "inventory_item_id",
    "product_title",
    "variant_title",
    "sku",
    "price",
    "currency",
    "inventory_quantity",
    "sellable",
    "restocked_at",
    "updated_at",
)
EVENT_COLUMNS = (
    "id",
    "shop_id",
    "shopify_variant_id",
    "stock_before",
    "stock_after",
    "policy",
    "batch_number",
    "chosen",
    "trigger",
    "created_at",
)
NOTIFICATION_COLUMNS = (
    "id",
    "shop_id",
    "intent_id",
    "restock_event_id",
    "kind",
    "channel",
    "status",
    "attempts",
    "next_attempt_at",
    "provider_id",
    "last_error",
    "sent_at",
    "created_at",
    "updated_at",
)
CONVERSION_COLUMNS = (
    "id",
    "shop_id",
    "notification_id",
    "shopify_variant_id",
    "order_id",
    "line_item_id",
    "quantity",
    "amount",
    "currency",
    "ordered_at",
    "created_at",
)
PRODUCTS = [
    "Linen shirt",
    "Merino crew",
    "Canvas tote",
    "Trail runner",
    "Rain shell",
    "Wool beanie",
    "Denim jacket",
    "Silk scarf",
    "Leather belt",
    "Chino shorts",
]
SIZES = ["XS", "S", "M", "L", "XL"]
COLOURS = ["Sage", "Navy", "Sand", "Black", "Rust", "Cream", "Olive", "Slate"]


class Tables:
    """Rows per table, as tuples in the *_COLUMNS order, with aware UTC datetimes."""

    def __init__(self) -> None:
        self.customer: list[tuple] = []
        self.variant: list[tuple] = []
        self.intent: list[tuple] = []
        self.restock_event: list[tuple] = []
        self.notification: list[tuple] = []
        self.conversion: list[tuple] = []


class Ids:
    def __init__(self) -> None:
        self.next = {}

    def __call__(self, table: str) -> int:
        self.next[table] = self.next.get(table, 0) + 1
        return self.next[table]


def _variant(shop_id: int, k: int, now: datetime, rng: random.Random, ids: Ids) -> tuple:
    vid = 40_000_000_000 + shop_id * 10_000 + k
    colour, size = COLOURS[k // len(SIZES) % len(COLOURS)], SIZES[k % len(SIZES)]
    restocked = now - timedelta(days=rng.uniform(0, 90)) if rng.random() < 0.5 else None
    stock = 0 if rng.random() < 0.8 else rng.randint(1, 40)
    return (
        ids("variant"),
        shop_id,
        vid,
        9_000_000_000 + shop_id * 1000 + k // 10,
        50_000_000_000 + vid % 10**10,
        f"{PRODUCTS[k // 10 % len(PRODUCTS)]} {k // 10}",
        f"{colour} / {size}",
        f"SKU-{shop_id}-{k}",
        "49.00",
        "EUR",
        stock,
        stock,
        restocked,
        now,
    )


def shop_rows(
    tables: Tables,
    shop_id: int,
    signups: int,
    days: int,
    now: datetime,
    rng: random.Random,
    ids: Ids,
    variants: int,
    notified_share: float = 0.10,
) -> None:
    """One shop's customers, variants, signups, restocks, alerts and conversions."""
    variant_rows = [_variant(shop_id, k, now, rng, ids) for k in range(variants)]
    tables.variant.extend(variant_rows)
    customers = max(1, int(signups * 0.7))
    customer_ids = []
    span = days * 86400
    # Creation times: a growing shop, signups per day rising linearly to twice the first day's (41% of them in
    # the last 30 of 90 days); sorted, so ids follow time.
    times = sorted(
        now.timestamp() - span * (1 - (math.sqrt(1 + 3 * rng.random()) - 1)) for _ in range(signups)
    )
    for c in range(customers):
        created = datetime.fromtimestamp(times[min(c, signups - 1)], UTC)
        customer_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        customer_ids.append(customer_id)
        tables.customer.append(
            (
                customer_id,
                shop_id,
                f"shopper{c}.{shop_id}@example.com",
                f"+1415{c % 10_000_000:07d}",
                "en",
                rng.random() < 0.3,
                created,
                created,
            )
        )
    events_by_variant: dict[int, list[tuple]] = {}
    weights = [
        1 / (k + 1) ** 0.8 for k in range(variants)
    ]  # a long tail: a few variants most wanted
    chosen_variants = rng.choices(range(variants), weights=weights, k=signups)
    for i, created_ts in enumerate(times):
        c = i % customers
        k = (
            chosen_variants[i] + i // customers
        ) % variants  # the same shopper twice: another variant
        v = variant_rows[k]
        created = datetime.fromtimestamp(created_ts, UTC)
        roll = rng.random()
        channel = "email" if roll < 0.7 else "sms" if roll < 0.9 else "push"
        email = f"shopper{c}.{shop_id}@example.com" if channel == "email" else None
        phone = f"+1415{c % 10_000_000:07d}" if channel == "sms" else None
        push = (
            f'{{"endpoint":"https://fcm.googleapis.com/fcm/send/{c}","keys":{{"p256dh":"BDd3","auth":"x1"}}}}'
            if channel == "push"
            else None
        )
        key = f"{channel}:{c}:{shop_id}:{i // customers}".ljust(64, "0")[
            :64
        ]  # unique: no duplicate pending signup
        roll = rng.random()
        status = (
            "notified"
            if roll < notified_share
            else "unsubscribed"
            if roll < notified_share + 0.05
            else "cancelled"
            if roll < notified_share + 0.08
            else "pending"
        )
        notified = unsubscribed = None
        if status == "notified":
            notified = min(
                now - timedelta(seconds=1), created + timedelta(days=rng.expovariate(1 / 6))
            )
        elif status == "unsubscribed":
            unsubscribed = created + timedelta(hours=rng.uniform(1, 48))
        consent = rng.random() < 0.3
        tables.intent.append(
            (
                ids("intent"),
                shop_id,
                customer_ids[c],
                channel,
                email,
                phone,
                push,
                key,
                rng.choice((1, 1, 1, 2)),
                "proxy" if rng.random() < 0.8 else "api",
                status,
                v[2],
                v[3],
                v[4],
                v[5],
                v[6],
                5,
                "Bench Co",
                v[7],
                True,
                notified,
                unsubscribed,
                1 if notified else 0,
                consent,
                created if consent else None,
                created,
                notified or unsubscribed or created,
            )
        )
        if notified is None:
            continue
        # Alerts go out in restocks: one event per variant and day it was notified.
        day = notified.date()
        found = events_by_variant.setdefault(k, [])
        event = next((e for e in found if e[9].date() == day), None)
        if event is None:
            event = (
                ids("restock_event"),
                shop_id,
                v[2],
                0,
                rng.randint(1, 50),
                "all",
                1,
                0,
                "webhook",
                notified - timedelta(seconds=5),
            )
            found.append(event)
            tables.restock_event.append(event)
        failed = rng.random() < 0.05
        notification_id = ids("notification")
        tables.notification.append(
            (
                notification_id,
                shop_id,
                tables.intent[-1][0],
                event[0],
                "alert",
                channel,
                "failed" if failed else "sent",
                3 if failed else 1,
                notified,
                None if failed else f"msg-{notification_id}",
                "554 mailbox unavailable" if failed else None,
                None if failed else notified,
                notified,
                notified,
            )
        )
        if not failed and rng.random() < 0.05:
            ordered = min(now - timedelta(seconds=1), notified + timedelta(days=rng.uniform(0, 7)))
            amount = round(rng.choice((19.0, 29.5, 49.0, 89.99)) * rng.choice((1, 1, 2)), 2)
            line = ids("conversion")
            tables.conversion.append(
                (
                    line,
                    shop_id,
                    notification_id,
                    v[2],
                    5_000_000_000 + line,
                    7_000_000_000 + line,
                    1,
                    amount,
                    "EUR",
                    ordered,
                    ordered,
                )
            )


def generate(
    main_shop: int, other_shops: list[int], signups: int, other_rows: int, days: int, now: datetime
) -> Tables:
    rng, ids, tables = random.Random(20261127), Ids(), Tables()
    shop_rows(tables, main_shop, signups, days, now, rng, ids, VARIANTS)
    per_shop = max(1, other_rows // max(1, len(other_shops)))
    for shop_id in other_shops:
        shop_rows(tables, shop_id, per_shop, days, now, rng, ids, 20)
    return tables


# -- Writing ------------------------------------------------------------------------------------------
def _copy_postgres(url: str, tables: Tables) -> None:
    dsn = url.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(dsn) as conn:
        for name, columns in (
            ("customer", CUSTOMER_COLUMNS),
            ("variant", VARIANT_COLUMNS),
            ("intent", INTENT_COLUMNS),
            ("restock_event", EVENT_COLUMNS),
            ("notification", NOTIFICATION_COLUMNS),
            ("conversion", CONVERSION_COLUMNS),
        ):
            with conn.cursor().copy(f"COPY {name} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in getattr(tables, name):
                    copy.write_row(row)
            if "id" in columns and name != "customer":
                conn.execute(
                    f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), (SELECT max(id) FROM {name}))"
                )
        conn.commit()
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            "VACUUM ANALYZE"
        )  # what autovacuum does soon after a bulk load: visibility map, statistics


def _sqlite_value(value):
    # SQLAlchemy's SQLite DATETIME text, UTC without an offset (what UTCDateTime stores).
    return (
        value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
        if isinstance(value, datetime)
        else value
    )


def _insert_sqlite(engine, tables: Tables) -> None:
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        for name, columns in (
            ("customer", CUSTOMER_COLUMNS),
            ("variant", VARIANT_COLUMNS),
            ("intent", INTENT_COLUMNS),
            ("restock_event", EVENT_COLUMNS),
            ("notification", NOTIFICATION_COLUMNS),
            ("conversion", CONVERSION_COLUMNS),
        ):
            rows = getattr(tables, name)
            sql = f"INSERT INTO {name} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
            for start in range(0, len(rows), 100_000):
                cursor.executemany(
                    sql,
                    [tuple(_sqlite_value(v) for v in row) for row in rows[start : start + 100_000]],
                )
                raw.commit()
        cursor.execute("ANALYZE")
        raw.commit()
    finally:
        raw.close()


def sqlite_file(name: str) -> Path:
    return Path(f"/tmp/{name}.sqlite3")


def url_of(backend: str, name: str = NAME) -> str:
    if backend == "sqlite":
        return f"sqlite:///{sqlite_file(name)}"
    return (
        PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1) + f"/{name}"
    )


@contextlib.contextmanager
def bench_database(backend: str, keep: bool = False, name: str = NAME) -> Iterator[str]:
    """The bench database's URL: `name` on PostgreSQL, /tmp/`name`.sqlite3; dropped afterwards unless `keep`."""
    try:
        yield url_of(backend, name)
    finally:
        if not keep:
            drop(backend, name)


def exists(backend: str, name: str = NAME) -> bool:
    if backend == "sqlite":
        return sqlite_file(name).exists()
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        return (
            conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
            is not None
        )


def drop(backend: str, name: str = NAME) -> None:
    if backend == "sqlite":
        for suffix in ("", "-wal", "-shm"):
            Path(f"{sqlite_file(name)}{suffix}").unlink(missing_ok=True)
        return
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def settings_for(url: str) -> tuple[dict, Settings]:
    env = app_env(url, WORKER_IN_PROCESS="false")
    return env, Settings(**{k: v for k, v in env.items() if k in Settings.model_fields})


def migrate(url: str) -> None:
    import subprocess
    import sys

    env, _ = settings_for(url)
    subprocess.run(
        [str(Path(sys.executable).parent / "shopify-app"), "migrate"],
        env=env,
        cwd=ROOT,
        check=True,
        stdout=subprocess.DEVNULL,
    )


def upgrade(backend: str, url: str) -> None:
    """An existing bench database brought to the current schema (new indexes), its statistics
    fresh, the measured shop's token an expiring one (databases seeded before that was so)."""
    migrate(url)
    engine = make_engine(url)
    store_shop(engine, settings_for(url)[1], SHOP, grant(settings_for(url)[1]))
    engine.dispose()
    if backend == "postgresql":
        with psycopg.connect(
            url.replace("postgresql+psycopg://", "postgresql://", 1), autocommit=True
        ) as conn:
            conn.execute("VACUUM ANALYZE")
    else:
        engine = make_engine(url)
        with engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
        engine.dispose()


def create(backend: str, url: str, name: str = NAME):
    """A new, migrated bench database (replacing one of that name); its engine."""
    drop(backend, name)
    if backend == "postgresql":
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    migrate(url)
    return make_engine(url)


def grant(settings: Settings) -> Grant:
    """An expiring offline token, as every install now gets, valid for the whole bench: a
    non-expiring one would make each dashboard load try a token exchange (admin/session.py)."""
    return Grant(
        "shpat_" + uuid.uuid4().hex,
        settings.SHOPIFY_SCOPES,
        expires_in=365 * 86400,
        refresh_token="shprt_" + uuid.uuid4().hex,
        refresh_token_expires_in=365 * 86400,
    )


def install(engine, url: str, domain: str, currency: str | None = "EUR") -> int:
    _, settings = settings_for(url)
    shop_id = store_shop(engine, settings, domain, grant(settings)).id
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE shop SET currency = :c WHERE id = :id"), {"c": currency, "id": shop_id}
        )
    return shop_id


def seed(backend: str, url: str, signups: int, other_rows: int, days: int = 90) -> dict:
    """Create the database (replacing it), migrate it, write the shops and their rows; the figures."""
    engine = create(backend, url)
    started = time.perf_counter()
    main = install(engine, url, SHOP)
    others = [
        install(engine, url, f"bench-other-{n}.myshopify.com", None) for n in range(OTHER_SHOPS)
    ]
    tables = generate(main, others, signups, other_rows, days, datetime.now(UTC))
    generated = time.perf_counter()
    write(backend, url, engine, tables)
    engine.dispose()
    figures = {name: len(getattr(tables, name)) for name in vars(tables)}
    figures["seconds"] = time.perf_counter() - started
    figures["generate_seconds"] = generated - started
    return figures


def write(backend: str, url: str, engine, tables: Tables) -> None:
    if backend == "postgresql":
        _copy_postgres(url, tables)
    else:
        _insert_sqlite(engine, tables)


def database_size(backend: str, name: str = NAME) -> str:
    if backend == "sqlite":
        return f"{sqlite_file(name).stat().st_size / 1e6:,.0f} MB"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        return conn.execute("SELECT pg_size_pretty(pg_database_size(%s))", (name,)).fetchone()[0]
