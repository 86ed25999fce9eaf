"""The admin's CSV exports, streamed: `GET /app/api/export/signups.csv` and `deliveries.csv` of a
shop with 100,000 signups (each alerted once, so 100,000 deliveries too) and of one with 10,000,
through a real `shopify-app serve`: rows/s, and the server's peak RSS (VmHWM in /proc/<pid>/status)
before and after. A streamed export's peak does not grow with its rows: 10k and 100k peak alike.

    .venv/bin/python bench/admin_export.py                       # both backends, 10k and 100k
    .venv/bin/python bench/admin_export.py --backends postgresql --sizes 10000 100000 --runs 3

Each (size, export) gets a fresh server process, so each peak is that export's alone: after one
small request (the app's own warm-up), VmHWM is read, then the export is downloaded --runs times
(consumed as it arrives, lines counted), then VmHWM again. Bench databases of their own:
PostgreSQL `bench_admin_export`, /tmp/bench_admin_export.sqlite3 (dropped unless --keep).
"""

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import admin_seed
from bench.admin_stats import session_token
from bench.common import free_port, peak_rss_mb, stop, wait_http
from bench.intents_api import launch

NAME = "bench_admin_export"
EXPORTS = ("signups.csv", "deliveries.csv")


def shop_domain(size: int) -> str:
    return f"export-{size}.myshopify.com"


def seed(backend: str, url: str, sizes: list[int]) -> dict:
    """A shop per size, every signup alerted once (so as many deliveries as signups)."""
    started = time.perf_counter()
    engine = admin_seed.create(backend, url, NAME)
    rng, ids, tables = random.Random(7), admin_seed.Ids(), admin_seed.Tables()
    now = datetime.now(UTC)
    for size in sizes:
        shop_id = admin_seed.install(engine, url, shop_domain(size))
        admin_seed.shop_rows(tables, shop_id, size, 90, now, rng, ids, 200, notified_share=1.0)
    admin_seed.write(backend, url, engine, tables)
    engine.dispose()
    return {
        "signups": len(tables.intent),
        "deliveries": len(tables.notification),
        "seconds": time.perf_counter() - started,
    }


def download(port: int, export: str, token: str) -> tuple[int, int, float]:
    """Lines (header included), bytes and seconds of one export, read as it streams."""
    lines = size = 0
    started = time.perf_counter()
    with httpx.stream(
        "GET",
        f"http://127.0.0.1:{port}/app/api/export/{export}",
        timeout=120,
        headers={"Authorization": f"Bearer {token}"},
    ) as response:
        response.raise_for_status()
        for chunk in response.iter_bytes():
            size += len(chunk)
            lines += chunk.count(b"\n")
    return lines, size, time.perf_counter() - started


def measure(backend: str, url: str, size: int, export: str, runs: int, workdir: Path) -> dict:
    env, _ = admin_seed.settings_for(url)
    env["LOG_LEVEL"] = "WARNING"
    port = free_port()
    server = launch(
        [str(Path(sys.executable).parent / "shopify-app"), "serve", "--port", str(port)],
        env,
        workdir / f"{backend}-{size}-{export}.log",
    )
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", timeout=60)
        token = session_token(shop_domain(size))
        httpx.get(
            f"http://127.0.0.1:{port}/app/api/settings",
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        ).raise_for_status()
        before = peak_rss_mb(server.pid)
        results = [download(port, export, token) for _ in range(runs)]
        after = peak_rss_mb(server.pid)
    finally:
        stop(server)
    rows = {lines - 1 for lines, _, _ in results}
    if rows != {size}:
        raise RuntimeError(f"{export} of {size}: {rows} rows")
    rates = [size / seconds for _, _, seconds in results]
    return {
        "backend": backend,
        "size": size,
        "export": export,
        "rates": rates,
        "mb": results[0][1] / 1e6,
        "before": before,
        "after": after,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--backends", nargs="+", choices=["sqlite", "postgresql"], default=["postgresql", "sqlite"]
    )
    parser.add_argument(
        "--sizes", nargs="+", type=int, default=[10_000, 100_000], help="signups per shop"
    )
    parser.add_argument("--runs", type=int, default=3, help="downloads per server (3)")
    parser.add_argument(
        "--keep", action="store_true", help="do not drop the bench database at the end"
    )
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-export-") as tmp:
        for backend in args.backends:
            with admin_seed.bench_database(backend, keep=args.keep, name=NAME) as url:
                figures = seed(backend, url, args.sizes)
                print(
                    f"{backend}: seeded {figures['signups']:,} signups and {figures['deliveries']:,} deliveries "
                    f"in {figures['seconds']:.0f} s",
                    flush=True,
                )
                for size in args.sizes:
                    for export in EXPORTS:
                        r = measure(backend, url, size, export, args.runs, Path(tmp))
                        results.append(r)
                        print(
                            f"  {backend} {export} {size:,}: "
                            + "/".join(f"{x:,.0f}" for x in r["rates"])
                            + f" rows/s, VmHWM {r['before']:.0f} -> {r['after']:.0f} MB",
                            flush=True,
                        )
    print(
        f"\n{'backend':<12}{'export':<16}{'rows':>9}{'CSV MB':>8}{'rows/s (range over runs)':>28}"
        f"{'median':>9}{'VmHWM before':>14}{'after':>7}{'growth':>8}"
    )
    for r in results:
        span = f"{min(r['rates']):,.0f}-{max(r['rates']):,.0f}"
        print(
            f"{r['backend']:<12}{r['export']:<16}{r['size']:>9,}{r['mb']:>8.1f}"
            f"{span:>28}{statistics.median(r['rates']):>9,.0f}"
            f"{r['before']:>12.0f}MB{r['after']:>5.0f}MB{r['after'] - r['before']:>6.0f}MB"
        )
    print(
        f"\nserver peak RSS (VmHWM) after {args.runs} downloads, per server process; 'growth' is what the exports "
        "added to the peak after one small request.\nStreamed: the growth at the largest size should be about "
        "the growth at the smallest."
    )


if __name__ == "__main__":
    main()
