"""What the dashboard's partial index ix_intent_pending_variant (migration 0010) costs signups:
bench/intents_api.py's PostgreSQL measurement (wrk, new signup per request), alternately with the
index and with it dropped, so the machine's other load falls on both alike.

    .venv/bin/python bench/admin_index_cost.py --rounds 3 --duration 10
"""

import argparse
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import intents_api  # noqa: E402

INDEX = "ix_intent_pending_variant"


def without_index(store_shop):
    """intents_api's store_shop, after dropping the index from the fresh bench database."""
    def store(engine, settings, shop, grant):
        with engine.begin() as conn:
            conn.exec_driver_sql(f"DROP INDEX IF EXISTS {INDEX}")
        return store_shop(engine, settings, shop, grant)
    return store


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
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
                print(f"  {variant} {INDEX}: {rates[variant][-1]:,.0f} signups/s, p99 {r['p99']:.0f} ms, "
                      f"host busy {r['host_busy']:.0%}", flush=True)
    for variant in ("with", "without"):
        print(f"{variant:>7} {INDEX}: signups/s {min(rates[variant]):,.0f}-{max(rates[variant]):,.0f} "
              f"(median {statistics.median(rates[variant]):,.0f}), p99 {min(p99[variant]):.0f}-{max(p99[variant]):.0f} ms")
    change = statistics.median(rates["with"]) / statistics.median(rates["without"]) - 1
    print(f"the index changes the median signup rate by {change:+.1%}")


if __name__ == "__main__":
    main()
