"""Latency of the dashboard's figures with a large shop: `GET /app/api/stats?days=30` and `days=90`,
and the dashboard page itself (`GET /app?shop=…&id_token=…`, which adds the five most wanted
products), with 1,000,000 signups and 100,000 notifications stored for one shop and 10,000 other
shops' signups (bench/admin_seed.py writes them). Goal on PostgreSQL: p99 under 100 ms, by indexes,
query shape and the closed days' figures kept (admin/kept_days.py: the first request counts and
keeps them, which the warm-up request before the runs does; the runs count today from the rows).

    .venv/bin/python bench/admin_stats.py                          # both backends, seeded afresh
    .venv/bin/python bench/admin_stats.py --backends postgresql --reuse --keep --explain
    .venv/bin/python bench/admin_stats.py --signups 100000 --other-rows 1000 --duration 5

Each backend gets its own bench database (PostgreSQL `bench_admin`, /tmp/bench_admin.sqlite3),
replaced unless --reuse finds one (then --signups is what it was seeded with), dropped at the end
unless --keep. The server is a real `shopify-app serve` (WORKER_IN_PROCESS=false); load comes from
`wrk` (one connection by default: a merchant's browser, not a crowd), `--runs` times per endpoint,
and the range over runs is printed. --explain runs the same queries in this process and prints each
one's time and, on PostgreSQL, its EXPLAIN (ANALYZE, BUFFERS).
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

import httpx
from sqlalchemy import event

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import contextlib

from bench import admin_seed
from bench.common import SECRETS, free_port, stop, wait_http
from bench.intents_api import cpu_seconds, launch
from shopify_app.admin import listings, stats
from shopify_app.db import make_engine

LUA = """
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) ok, bad = 0, 0 end
function response(status, headers, body)
  if status == 200 then ok = ok + 1 else bad = bad + 1 end
end
function done(summary, latency, requests)
  local o, b = 0, 0
  for _, t in ipairs(threads) do o, b = o + t:get("ok"), b + t:get("bad") end
  local e = summary.errors
  io.write(string.format("RESULT %d %d %d %d %.1f %.1f %.1f\\n", summary.duration, o, b,
    e.connect + e.read + e.write + e.timeout, latency:percentile(50), latency:percentile(99), latency.max))
end
"""


def session_token(shop: str, ttl: int = 3600) -> str:
    import jwt

    now = int(time.time())
    claims = {
        "iss": f"https://{shop}/admin",
        "dest": f"https://{shop}",
        "aud": SECRETS["SHOPIFY_API_KEY"],
        "sub": "1",
        "exp": now + ttl,
        "nbf": now - 1,
        "iat": now,
        "jti": "bench",
        "sid": "bench",
    }
    return jwt.encode(claims, SECRETS["SHOPIFY_API_SECRET"], algorithm="HS256")


def endpoints(shop: str, token: str) -> list[tuple[str, str, dict]]:
    bearer = {"Authorization": f"Bearer {token}"}
    page = urlencode({"shop": shop, "id_token": token})
    return [
        ("stats days=30", "/app/api/stats?days=30", bearer),
        ("stats days=90", "/app/api/stats?days=90", bearer),
        ("dashboard page (30 days)", f"/app?{page}", {}),
        ("dashboard page (90 days)", f"/app/dashboard?days=90&{page}", {}),
    ]


def wrk(port: int, path: str, headers: dict, args, script: Path) -> dict:
    command = [
        "wrk",
        "-t1",
        f"-c{args.concurrency}",
        f"-d{args.duration}s",
        "--timeout",
        "10s",
        "-s",
        str(script),
    ]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    out = subprocess.run(
        [*command, f"http://127.0.0.1:{port}{path}"], capture_output=True, text=True, check=True
    ).stdout
    line = next(line for line in out.splitlines() if line.startswith("RESULT"))
    micros, ok, bad, errors, p50, p99, peak = (float(x) for x in line.split()[1:])
    return {
        "rate": (ok + bad) / (micros / 1e6),
        "ok": int(ok),
        "bad": int(bad),
        "errors": int(errors),
        "p50": p50 / 1000,
        "p99": p99 / 1000,
        "max": peak / 1000,
    }


def backend_cpu(backend: str) -> float:
    """CPU seconds of the PostgreSQL backends serving the bench database (their parallel workers,
    short-lived, are not counted); 0 on SQLite (it runs inside the server)."""
    if backend != "postgresql":
        return 0.0
    import psycopg

    from bench.common import PG_ADMIN

    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        pids = [
            row[0]
            for row in conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s AND "
                "backend_type = 'client backend'",
                (admin_seed.NAME,),
            )
        ]
    total = 0.0
    for pid in pids:
        with contextlib.suppress(OSError):
            total += cpu_seconds(pid)
    return total


def timed_wrk(
    port: int, path: str, headers: dict, args, script: Path, backend: str, server
) -> dict:
    before = cpu_seconds(server.pid), backend_cpu(backend), os.getloadavg()[0]
    result = wrk(port, path, headers, args, script)
    after = cpu_seconds(server.pid), backend_cpu(backend), os.getloadavg()[0]
    n = max(1, result["ok"] + result["bad"])
    return {
        **result,
        "server_ms": (after[0] - before[0]) * 1000 / n,
        "pg_ms": (after[1] - before[1]) * 1000 / n,
        "load": max(before[2], after[2]),
    }


def measure(backend: str, url: str, args, workdir: Path) -> list[dict]:
    env, _ = admin_seed.settings_for(url)
    env["LOG_LEVEL"] = "WARNING"
    port = free_port()
    server = launch(
        [str(Path(sys.executable).parent / "shopify-app"), "serve", "--port", str(port)],
        env,
        workdir / f"{backend}.log",
    )
    script = workdir / "get.lua"
    script.write_text(LUA)
    results = []
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", timeout=60)
        token = session_token(admin_seed.SHOP)
        body = httpx.get(
            f"http://127.0.0.1:{port}/app/api/stats?days=90",
            timeout=30,
            headers={"Authorization": f"Bearer {token}"},
        ).json()
        print(
            f"  {backend}: stats for 90 days: "
            + ", ".join(
                f"{k} {body[k]}"
                for k in (
                    "signups",
                    "pending",
                    "notified",
                    "conversions",
                    "conversion_rate",
                    "recovered_revenue",
                    "currency",
                )
            ),
            flush=True,
        )
        for name, path, headers in endpoints(admin_seed.SHOP, token):
            probe = httpx.get(f"http://127.0.0.1:{port}{path}", headers=headers, timeout=30)
            if probe.status_code != 200:
                raise RuntimeError(f"{name} answered {probe.status_code}: {probe.text[:300]}")
            runs = [
                timed_wrk(port, path, headers, args, script, backend, server)
                for _ in range(args.runs)
            ]
            results.append({"backend": backend, "name": name, "runs": runs})
            print(
                f"  {backend} {name}: p50 "
                + "/".join(f"{r['p50']:.1f}" for r in runs)
                + " ms, p99 "
                + "/".join(f"{r['p99']:.1f}" for r in runs)
                + " ms",
                flush=True,
            )
    finally:
        stop(server)
    return results


def explain(backend: str, url: str, days_list=(30, 90)) -> None:
    """Each query the stats and the dashboard run: its time (median of 5, in this process) and plan."""
    engine = make_engine(url)
    seen: list[tuple[str, object]] = []

    @event.listens_for(engine, "before_cursor_execute")
    def record(conn, cursor, statement, parameters, context, executemany):
        conn.info["started"] = time.perf_counter()

    @event.listens_for(engine, "after_cursor_execute")
    def timed(conn, cursor, statement, parameters, context, executemany):
        seen.append((statement, parameters, time.perf_counter() - conn.info["started"]))

    with engine.connect() as connection:
        shop_id = connection.exec_driver_sql(
            f"SELECT id FROM shop WHERE domain = '{admin_seed.SHOP}'"
        ).scalar_one()
    for days in days_list:
        timings: dict[str, list[float]] = {}
        plans: dict[str, tuple] = {}
        for _ in range(5):
            seen.clear()
            stats.compute(engine, shop_id, days, time.time())
            with engine.connect() as connection:
                listings.list_demand(connection, shop_id, {"per_page": "5"})
            for statement, parameters, seconds in seen:
                timings.setdefault(statement, []).append(seconds * 1000)
                plans[statement] = parameters
        print(
            f"\n{backend}, days={days}: queries of the stats (and the dashboard's most wanted), 5 times:"
        )
        total = 0.0
        least = 0.0
        print("    median    fastest")
        for statement, ms in timings.items():
            total += statistics.median(ms)
            least += min(ms)
            print(
                f"  {statistics.median(ms):8.2f} {min(ms):8.2f} ms  {' '.join(statement.split())[:140]}"
            )
        print(f"  {total:8.2f} {least:8.2f} ms  in all")
        if days != days_list[-1] and backend == "sqlite":
            continue
        for statement, parameters in plans.items():
            raw = engine.raw_connection()
            try:
                cursor = raw.cursor()
                if backend == "postgresql":
                    cursor.execute("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + statement, parameters)
                else:
                    cursor.execute("EXPLAIN QUERY PLAN " + statement, parameters)
                lines = [str(row[-1]) for row in cursor.fetchall()]
            finally:
                raw.close()
            print(f"\n  -- {' '.join(statement.split())[:200]}")
            print("\n".join(f"     {line}" for line in compact(lines)))
    engine.dispose()


def compact(lines: list[str]) -> list[str]:
    """A plan with one sub-plan per day (InitPlan 1..N, the same scan each) printed once, with the
    rows and time over all of them."""
    import re

    if sum("InitPlan" in line for line in lines) < 3:
        return lines
    scans: dict[str, list[float]] = {}
    for line in lines:
        match = re.search(
            r"->  (.*?) on (\w+)(?: \w+)? \(actual time=[\d.]+\.\.([\d.]+) rows=(\d+)", line
        )
        if match:
            totals = scans.setdefault(f"{match[1]} on {match[2]}", [0, 0.0, 0])
            totals[0] += 1
            totals[1] += float(match[3])
            totals[2] += int(match[4])
    out = [
        f"{n} x {scan}: {rows:,} rows, {ms:.1f} ms in all" for scan, (n, ms, rows) in scans.items()
    ]
    return out + [
        line.strip()
        for line in lines
        if line.strip().startswith(("Planning Time", "Execution Time"))
    ]


def report(results: list[dict], args) -> None:
    print(
        f"\nwrk, {args.concurrency} connection(s), {args.duration} s per run, {args.runs} runs; "
        "ranges are over runs (lowest-highest); 'srv cpu' and 'pg cpu' are CPU ms per request of the server\n"
        "process and of the PostgreSQL backends serving it (parallel workers not counted); 'load' is the host's "
        "1-minute load average (2 cores)"
    )
    print(
        f"{'backend':<12}{'endpoint':<27}{'req/s':>10}{'p50 ms':>14}{'p99 ms':>15}{'max ms':>9}{'non-200':>8}"
        f"{'srv cpu ms':>12}{'pg cpu ms':>11}{'load':>10}"
    )
    for r in results:
        runs = r["runs"]

        def span(key: str, fmt: str = ".1f", runs: list = runs) -> str:
            values = [run[key] for run in runs]
            return (
                f"{min(values):{fmt}}-{max(values):{fmt}}"
                if len(values) > 1
                else f"{values[0]:{fmt}}"
            )

        bad = sum(run["bad"] + run["errors"] for run in runs)
        pg = span("pg_ms") if r["backend"] == "postgresql" else "-"
        print(
            f"{r['backend']:<12}{r['name']:<27}{span('rate', '.0f'):>10}{span('p50'):>14}{span('p99'):>15}"
            f"{max(run['max'] for run in runs):>9.1f}{bad:>8}{span('server_ms'):>12}{pg:>11}{span('load'):>10}"
        )
    pg = [r for r in results if r["backend"] == "postgresql"]
    if pg:
        worst = max(run["p99"] for r in pg for run in r["runs"])
        print(
            f"goal (PostgreSQL, every endpoint p99 < 100 ms in every run): {'met' if worst < 100 else 'NOT met'} "
            f"(worst p99 {worst:.1f} ms)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--backends", nargs="+", choices=["sqlite", "postgresql"], default=["postgresql", "sqlite"]
    )
    parser.add_argument(
        "--signups", type=int, default=1_000_000, help="the measured shop's signups (1,000,000)"
    )
    parser.add_argument(
        "--other-rows", type=int, default=10_000, help="signups of 200 other shops (10,000)"
    )
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run (10)")
    parser.add_argument("--runs", type=int, default=3, help="wrk runs per endpoint (3)")
    parser.add_argument("--concurrency", type=int, default=1, help="wrk connections (1)")
    parser.add_argument(
        "--reuse", action="store_true", help="keep an existing bench database instead of seeding"
    )
    parser.add_argument(
        "--keep", action="store_true", help="do not drop the bench database at the end"
    )
    parser.add_argument("--explain", action="store_true", help="print each query's time and plan")
    parser.add_argument(
        "--no-load", action="store_true", help="seed (and --explain) only, no server"
    )
    args = parser.parse_args()
    if not shutil.which("wrk") and not args.no_load:
        parser.error("wrk is not installed (apt-get install wrk)")
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-admin-") as tmp:
        for backend in args.backends:
            with admin_seed.bench_database(backend, keep=args.keep) as url:
                if args.reuse and admin_seed.exists(backend):
                    admin_seed.upgrade(backend, url)
                    print(f"{backend}: reusing {url} (migrated, analyzed)")
                else:
                    figures = admin_seed.seed(backend, url, args.signups, args.other_rows)
                    print(
                        f"{backend}: seeded in {figures.pop('seconds'):.0f} s ("
                        f"{figures.pop('generate_seconds'):.0f} s generating): "
                        + ", ".join(f"{v:,} {k}" for k, v in figures.items()),
                        flush=True,
                    )
                print(f"  {backend}: database size {admin_seed.database_size(backend)}", flush=True)
                if args.explain:
                    explain(backend, url)
                if not args.no_load:
                    results += measure(backend, url, args, Path(tmp))
    if results:
        report(results, args)


if __name__ == "__main__":
    main()
