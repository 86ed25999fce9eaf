"""What the dashboard's partial index ix_intent_pending_variant (migration 0010) costs signups:
bench/intents_api.py's PostgreSQL measurement (wrk, new signup per request), alternately with the
index and with it dropped, so the machine's other load falls on both alike.

    .venv/bin/python bench/admin_index_cost.py --rounds 3 --duration 10
    .venv/bin/python bench/admin_index_cost.py --inserts 20000 --rounds 5      # the index's cost per row

--inserts N measures the index alone, without HTTP: N pending signups inserted 100 per transaction
(executemany) into a table already holding N, alternately with and without the index, in µs per row.
"""

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import insert, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import intents_api
from bench.common import ROOT, app_env, fresh_database
from shopify_app.db import make_engine
from shopify_app.models import Customer, Intent, utcnow

INDEX = "ix_intent_pending_variant"


def without_index(store_shop):
    """intents_api's store_shop, after dropping the index from the fresh bench database."""

    def store(engine, settings, shop, grant):
        with engine.begin() as conn:
            conn.exec_driver_sql(f"DROP INDEX IF EXISTS {INDEX}")
        return store_shop(engine, settings, shop, grant)

    return store


CREATE = (
    "CREATE INDEX ix_intent_pending_variant ON intent (shop_id, status, shopify_variant_id, quantity) "
    "WHERE status = 'pending'"
)


def insert_cost(rows: int, rounds: int) -> None:
    with fresh_database("postgresql") as url:
        subprocess.run(
            [str(Path(sys.executable).parent / "shopify-app"), "migrate"],
            env=app_env(url),
            cwd=ROOT,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        engine = make_engine(url)
        now = utcnow()
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO shop (domain, scopes, min_restock_quantity, delivery_policy, batch_multiplier, "
                    "batch_interval_seconds, skip_over_quantity, double_optin, channel_email, channel_sms, "
                    "channel_push, automatic_sending, created_at, updated_at) VALUES ('cost.myshopify.com', '', 1, "
                    "'all', 1, 3600, false, false, true, true, true, true, now(), now())"
                )
            )
            shop_id = conn.execute(text("SELECT id FROM shop")).scalar_one()
            conn.execute(
                insert(Customer.__table__).values(
                    id="c", shop_id=shop_id, created_at=now, updated_at=now
                )
            )

        def batch(n: int, start: int) -> list[dict]:
            return [
                {
                    "shop_id": shop_id,
                    "customer_id": "c",
                    "channel": "email",
                    "email": f"s{i}@example.com",
                    "contact_key": uuid.uuid4().hex,
                    "status": "pending",
                    "shopify_variant_id": 40_000_000_000 + i % 997,
                    "shopify_product_id": 9,
                    "quantity": 1,
                    "created_at": now,
                    "updated_at": now,
                }
                for i in range(start, start + n)
            ]

        with engine.begin() as conn:  # the table already holds `rows` signups
            for start in range(0, rows, 5000):
                conn.execute(insert(Intent.__table__), batch(5000, start))
        micros: dict[str, list[float]] = {"with": [], "without": []}
        for n in range(rounds):
            for variant in ("with", "without"):
                with engine.begin() as conn:
                    conn.execute(text("DROP INDEX IF EXISTS ix_intent_pending_variant"))
                    if variant == "with":
                        conn.execute(text(CREATE))
                    conn.execute(text("DELETE FROM intent WHERE id > :keep"), {"keep": rows})
                with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                    conn.execute(text("VACUUM ANALYZE intent"))
                started = time.perf_counter()
                for start in range(0, rows, 100):
                    with engine.begin() as conn:
                        conn.execute(insert(Intent.__table__), batch(100, rows * (n + 2) + start))
                micros[variant].append((time.perf_counter() - started) * 1e6 / rows)
                print(
                    f"  {variant} the index: {micros[variant][-1]:.1f} µs per inserted signup",
                    flush=True,
                )
        engine.dispose()
    for variant in ("with", "without"):
        print(
            f"{variant:>7} ix_intent_pending_variant: {min(micros[variant]):.1f}-{max(micros[variant]):.1f} µs per row "
            f"(median {statistics.median(micros[variant]):.1f})"
        )
    print(
        f"the index costs {statistics.median(micros['with']) - statistics.median(micros['without']):+.1f} µs "
        "per inserted signup (median against median)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument(
        "--inserts", type=int, help="measure N inserted rows per round instead of the HTTP bench"
    )
    args = parser.parse_args()
    if args.inserts:
        return insert_cost(args.inserts, args.rounds)
    if not shutil.which("wrk"):
        parser.error("wrk is not installed")
    args.requests, args.threads, args.profile = None, 1, None
    original = intents_api.store_shop
    rates: dict[str, list[float]] = {"with": [], "without": []}
    p99: dict[str, list[float]] = {"with": [], "without": []}
    with tempfile.TemporaryDirectory(prefix="bench-index-") as tmp:
        for _ in range(args.rounds):
            for variant in ("with", "without"):
                intents_api.store_shop = original if variant == "with" else without_index(original)
                r = intents_api.run_backend("postgresql", args, intents_api.wrk_load, Path(tmp))
                rates[variant].append(r["created"] / r["seconds"])
                p99[variant].append(r["p99"])
                print(
                    f"  {variant} {INDEX}: {rates[variant][-1]:,.0f} signups/s, p99 {r['p99']:.0f} ms, "
                    f"host busy {r['host_busy']:.0%}",
                    flush=True,
                )
    for variant in ("with", "without"):
        print(
            f"{variant:>7} {INDEX}: signups/s {min(rates[variant]):,.0f}-{max(rates[variant]):,.0f} "
            f"(median {statistics.median(rates[variant]):,.0f}), p99 {min(p99[variant]):.0f}-{max(p99[variant]):.0f} ms"
        )
    change = statistics.median(rates["with"]) / statistics.median(rates["without"]) - 1
    print(f"the index changes the median signup rate by {change:+.1%}")


if __name__ == "__main__":
    main()
