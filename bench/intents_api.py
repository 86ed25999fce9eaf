"""Throughput and latency of `POST /api/v1/intents.json` (every request a new signup) on SQLite and
PostgreSQL, against a bare Starlette endpoint on the same server stack (bench/bare_app.py).

    .venv/bin/python bench/intents_api.py                     # both backends, 32 clients, 10 s each
    .venv/bin/python bench/intents_api.py --backends postgresql --concurrency 64 --duration 20
    .venv/bin/python bench/intents_api.py --client python --requests 20000
    .venv/bin/python bench/intents_api.py --backends postgresql --profile /tmp/intents.txt

The app-proxy door (`POST /proxy/intents`, signed as Shopify's proxy signs it) is measured beside the
public API on each backend (--no-proxy-run skips it): the signature check should cost under 5%.

Each server is a real `shopify-app serve` subprocess (WORKER_IN_PROCESS=false, LOG_LEVEL=WARNING,
plus one PostgreSQL run at INFO to show what logging costs). Load comes from `wrk` with a Lua
script when it is installed (apt-get install wrk), else from an asyncio client of raw keep-alive
HTTP/1.1 connections in this process. The goal (issue 17): >= 2,000 signups/s with p99 < 50 ms at
32 clients on PostgreSQL, one process. After the warm-up the database is analyzed (--no-analyze
skips it), as autovacuum does for a running one.
"""

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from functools import partial
from pathlib import Path
from urllib.parse import urlencode

import httpx
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    ROOT,
    SECRETS,
    app_env,
    free_port,
    fresh_database,
    percentile,
    stop,
    wait_http,
)
from shopify_app.config import Settings
from shopify_app.db import make_engine
from shopify_app.oauth import Grant, store_shop
from shopify_app.verify import proxy_signature

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
SHOP = "bench-shop.myshopify.com"
PATH = "/api/v1/intents.json"
BODY = (
    '{"intent":{"shopify_variant_id":%d,"shopify_product_id":%d,"channel":"email","quantity":1,"source":"api"},'
    '"customer":{"email":"%s","name":"Bench Shopper","accepts_marketing":false,"locale":"en"},'
    '"product":{"title":"Linen Shirt","variant_title":"Sage / M"}}'
)
# Same body as BODY; a counter per thread plus the thread id makes every email distinct.
LUA = """
local threads, next_id = {}, 0
function setup(thread)
  next_id = next_id + 1
  thread:set("tid", next_id)
  table.insert(threads, thread)
end
function init(args)
  run, path, n, created, other = args[1], args[2], 0, 0, 0
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["X-Shopify-Shop-Domain"] = args[3]
end
function request()
  n = n + 1
  local variant = 40000000000 + (n * 7919 + tid * 131) % 997
  local body = string.format('BODY', variant, 9000000000 + variant % 50,
                             string.format("%s-%d-%d@example.com", run, tid, n))
  return wrk.format("POST", path, nil, body)
end
function response(status, headers, body)
  if status == 201 then created = created + 1 else other = other + 1 end
end
function done(summary, latency, requests)
  local c, o = 0, 0
  for _, t in ipairs(threads) do c, o = c + t:get("created"), o + t:get("other") end
  local e = summary.errors
  io.write(string.format("RESULT %d %d %d %d %d %.1f %.1f\\n", summary.duration, c, o,
    e.connect + e.read + e.write + e.timeout, summary.requests, latency:percentile(50), latency:percentile(99)))
end
""".replace("BODY", BODY)


def signup(run: str, worker: int, n: int) -> bytes:
    variant = 40_000_000_000 + (n * 7919 + worker * 131) % 997
    return (
        BODY % (variant, 9_000_000_000 + variant % 50, f"{run}-{worker}-{n}@example.com")
    ).encode()


def wrk_load(
    port: int, shop: str, run: str, seconds: float, requests: int | None, args, workdir: Path
) -> dict:
    script = workdir / "intents.lua"
    script.write_text(LUA)
    path = args.path
    command = [
        "wrk",
        f"-t{args.threads}",
        f"-c{args.concurrency}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "5s",
        "-s",
        str(script),
        f"http://127.0.0.1:{port}{path}",
        "--",
        run,
        path,
        shop,
    ]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    line = next((line for line in out.splitlines() if line.startswith("RESULT")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no result:\n{out}")
    micros, created, other, socket_errors, total, p50, p99 = (float(x) for x in line.split()[1:])
    return {
        "seconds": micros / 1e6,
        "created": int(created),
        "other": int(other),
        "socket_errors": int(socket_errors),
        "requests": int(total),
        "p50": p50 / 1000,
        "p99": p99 / 1000,
    }


async def _client(
    port: int,
    shop: str,
    run: str,
    worker: int,
    until: float,
    budget: list[int],
    out: dict,
    path: str = PATH,
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
        f"X-Shopify-Shop-Domain: {shop}\r\n"
    )
    n = 0
    try:
        while time.perf_counter() < until and budget[0] > 0:
            budget[0] -= 1
            n += 1
            body = signup(run, worker, n)
            started = time.perf_counter()
            writer.write(f"{head}Content-Length: {len(body)}\r\n\r\n".encode() + body)
            headers = await reader.readuntil(b"\r\n\r\n")
            length = next(
                int(h[15:])
                for h in headers.lower().split(b"\r\n")
                if h.startswith(b"content-length:")
            )
            await reader.readexactly(length)
            out["latencies"].append(time.perf_counter() - started)
            out["created" if headers[9:12] == b"201" else "other"] += 1
    except (OSError, asyncio.IncompleteReadError):
        out["socket_errors"] += 1
    finally:
        writer.close()


def python_load(
    port: int, shop: str, run: str, seconds: float, requests: int | None, args, workdir: Path
) -> dict:
    """Closed loop: `concurrency` keep-alive connections, each sending its next request on an answer."""
    out = {"created": 0, "other": 0, "socket_errors": 0, "latencies": []}
    budget = [requests or 1 << 62]

    async def main() -> float:
        started = time.perf_counter()
        until = started + (3600 if requests else seconds)
        await asyncio.gather(
            *(
                _client(port, shop, run, w, until, budget, out, args.path)
                for w in range(args.concurrency)
            )
        )
        return time.perf_counter() - started

    try:
        import uvloop

        elapsed = uvloop.run(main())
    except ImportError:
        elapsed = asyncio.run(main())
    lat = out.pop("latencies")
    return {
        **out,
        "seconds": elapsed,
        "requests": len(lat),
        "p50": percentile(lat, 50) * 1000,
        "p99": percentile(lat, 99) * 1000,
    }


def launch(command: list[str], env: dict | None, log: Path) -> subprocess.Popen:
    # stderr to a file, not a pipe: at INFO the server writes a line per request and a full pipe would stall it.
    return subprocess.Popen(
        command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=log.open("wb")
    )


def cpu_seconds(pid: int, reaped_children: bool = False) -> float:
    """User + system CPU of a process (all its threads) from /proc; with its reaped children's if asked."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(x) for x in fields[11 : 15 if reaped_children else 13]) / CLOCK_TICKS


def postgres_cpu() -> float:
    """Every postgres process on the host; backends that exited are counted in the postmaster's children."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if " (postgres) " in stat.read_text():
                total += cpu_seconds(int(stat.parent.name), reaped_children=True)
        except (OSError, ValueError):
            pass
    return total


def host_cpu() -> float:
    ticks = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    return (sum(ticks) - ticks[3] - ticks[4]) / CLOCK_TICKS


def measure(
    port: int,
    shop: str,
    run: str,
    args,
    load,
    workdir: Path,
    server,
    profile: str | None = None,
    after_warmup=None,
) -> dict:
    """A warm-up (its signups are not counted), then the measured load, recorded by py-spy if asked; and the
    CPU the server, PostgreSQL and the whole host used meanwhile."""
    load(port, shop, f"{run}w", args.warmup, None, args, workdir)
    if after_warmup is not None:
        after_warmup()
    profiler = None
    if profile:
        # --gil: only the thread holding the GIL is sampled, so the shares are of the server's Python CPU.
        profiler = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "py-spy"),
                "record",
                "--pid",
                str(server.pid),
                "--duration",
                str(args.duration),
                "--rate",
                "250",
                "--format",
                "raw",
                "--gil",
                "--nonblocking",
                "-o",
                profile,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    before = cpu_seconds(server.pid), postgres_cpu(), host_cpu(), time.perf_counter()
    result = load(port, shop, run, args.duration, args.requests, args, workdir)
    after = cpu_seconds(server.pid), postgres_cpu(), host_cpu(), time.perf_counter()
    server_cpu, pg_cpu, host, elapsed = (a - b for a, b in zip(after, before, strict=False))
    if profiler:
        profiler.wait(30)
    n = max(1, result["requests"])
    return {
        **result,
        "server_ms": server_cpu * 1000 / n,
        "pg_ms": pg_cpu * 1000 / n,
        "host_busy": host / (elapsed * os.cpu_count()),
    }


def proxy_path() -> str:
    """`/proxy/intents` as Shopify's app proxy forwards it: signed, and fresh for the next 90 s."""
    params = {
        "shop": SHOP,
        "logged_in_customer_id": "",
        "path_prefix": "/apps/back-in-stock",
        "timestamp": str(int(time.time())),
    }
    params["signature"] = proxy_signature(SECRETS["SHOPIFY_API_SECRET"], params.items())
    return "/proxy/intents?" + urlencode(params)


def analyze(engine) -> None:
    """What autovacuum does for a running database within a minute of its first rows: without
    statistics a fresh database's planner takes every shop_id to be rare and walks the shop's
    rows where an index on (shop_id, contact_key) finds one (the signup's "is this address
    known?"), so the measured seconds would be of a database no production one resembles."""
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("ANALYZE"))


def run_backend(
    backend: str, args, load, workdir: Path, log_level: str = "WARNING", door: str = "api"
) -> dict:
    bin_dir = Path(sys.executable).parent
    with fresh_database(backend) as url:
        # The abuse limits are counted on every signup (their cost is measured), never reached.
        env = app_env(
            url,
            WORKER_IN_PROCESS="false",
            LOG_LEVEL=log_level,
            SIGNUP_RATE_LIMIT="100000000/hour",
            SIGNUP_CONTACT_LIMIT="100000000/hour",
        )
        subprocess.run(
            [str(bin_dir / "shopify-app"), "migrate"],
            env=env,
            cwd=ROOT,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        settings = Settings(**{k: v for k, v in env.items() if k in Settings.model_fields})
        engine = make_engine(url)
        store_shop(
            engine, settings, SHOP, Grant("shpat_" + uuid.uuid4().hex, settings.SHOPIFY_SCOPES)
        )
        port = free_port()
        server = launch(
            [str(bin_dir / "shopify-app"), "serve", "--port", str(port)],
            env,
            workdir / f"{backend}-{log_level}.log",
        )
        try:
            wait_http(f"http://127.0.0.1:{port}/healthz")
            args.path = proxy_path() if door == "proxy" else PATH
            probe = httpx.post(
                f"http://127.0.0.1:{port}{args.path}",
                content=signup("probe", 0, 0),
                headers={"Content-Type": "application/json", "X-Shopify-Shop-Domain": SHOP},
            )
            if probe.status_code != 201:
                raise RuntimeError(f"probe signup answered {probe.status_code}: {probe.text[:300]}")
            run = f"{backend}{uuid.uuid4().hex[:6]}"
            profile = args.profile if backend == "postgresql" and log_level == "WARNING" else None
            result = measure(
                port,
                SHOP,
                run,
                args,
                load,
                workdir,
                server,
                profile,
                after_warmup=None if args.no_analyze else partial(analyze, engine),
            )
        finally:
            stop(server)
        with engine.connect() as conn:
            rows = conn.execute(
                text("SELECT count(*) FROM intent WHERE email LIKE :p"), {"p": f"{run}-%"}
            )
            result["rows"] = rows.scalar_one()
        engine.dispose()
    name = f"{backend} ({log_level})" if door == "api" else f"{backend} proxy"
    return {
        **result,
        "name": name,
        "response_bytes": len(probe.content),
        "concurrency": args.concurrency,
    }


def run_bare(args, load, workdir: Path, size: int) -> dict:
    args.path = PATH
    port = free_port()
    server = launch(
        [
            sys.executable,
            str(ROOT / "bench" / "bare_app.py"),
            "--port",
            str(port),
            "--size",
            str(size),
        ],
        None,
        workdir / "bare.log",
    )
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz")
        result = measure(port, "bare.myshopify.com", "bare", args, load, workdir, server)
    finally:
        stop(server)
    return {
        **result,
        "name": "bare starlette",
        "rows": None,
        "response_bytes": size,
        "concurrency": args.concurrency,
    }


def report(results: list[dict], bare: dict) -> None:
    print(
        f"\n{'server':<22}{'req/s':>8}{'201/s':>8}{'p50 ms':>8}{'p99 ms':>8}{'non-201':>8}{'sockerr':>8}"
        f"{'rows':>7}{'÷ bare':>7}{'srv cpu':>8}{'pg cpu':>7}{'host':>6}"
    )
    for r in [*results, bare]:
        rate, ok = r["requests"] / r["seconds"], r["created"] / r["seconds"]
        # Requests in flight when the client stops are still committed by the server, uncounted.
        in_range = (
            r["rows"] is not None and r["created"] <= r["rows"] <= r["created"] + r["concurrency"]
        )
        rows = "-" if r["rows"] is None else f"{r['rows']}{'' if in_range else '!'}"
        ratio = ok / (bare["requests"] / bare["seconds"])
        pg = f"{r['pg_ms']:.2f}" if r["name"].startswith("postgresql") else "-"
        print(
            f"{r['name']:<22}{rate:>8,.0f}{ok:>8,.0f}{r['p50']:>8.1f}{r['p99']:>8.1f}{r['other']:>8}"
            f"{r['socket_errors']:>8}{rows:>7}{ratio:>7.2f}{r['server_ms']:>8.2f}{pg:>7}{r['host_busy']:>6.0%}"
        )
    print(
        "\n201/s counts only created signups; 'rows' is the measured run's rows in the table: one per 201, plus\n"
        "up to one per connection still in flight at the end ('!' marks a count outside that range);\n"
        "'srv cpu' and 'pg cpu' are CPU ms per request of the server process and of all postgres processes;\n"
        "'host' is how busy all cores were (load generator and anything else running included);\n"
        "'÷ bare' is signups/s over the bare endpoint's requests/s (same uvicorn options, same "
        f"{bare['response_bytes']}-byte body)."
    )
    pg = next((r for r in results if r["name"] == "postgresql (WARNING)"), None)
    if pg:
        met = pg["created"] / pg["seconds"] >= 2000 and pg["p99"] < 50 and pg["other"] == 0
        print(f"goal (PostgreSQL, >= 2,000 signups/s, p99 < 50 ms): {'met' if met else 'NOT met'}")
    for backend in ("sqlite", "postgresql"):
        api = next(
            (r for r in results if r["name"].startswith(backend) and "WARNING" in r["name"]), None
        )
        proxy = next((r for r in results if r["name"] == f"{backend} proxy"), None)
        if api and proxy:
            cost = 1 - (proxy["created"] / proxy["seconds"]) / (api["created"] / api["seconds"])
            print(
                f"{backend}: the app-proxy door (signature check, form of the same signup) costs {cost:.1%} "
                f"of the public API's rate (goal: under 5%)"
            )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--backends", nargs="+", choices=["sqlite", "postgresql"], default=["sqlite", "postgresql"]
    )
    parser.add_argument(
        "--concurrency", type=int, default=32, help="concurrent keep-alive clients (default 32)"
    )
    parser.add_argument(
        "--duration", type=int, default=10, help="seconds per measurement (default 10)"
    )
    parser.add_argument(
        "--warmup", type=int, default=2, help="seconds of unmeasured load first (default 2)"
    )
    parser.add_argument(
        "--requests",
        type=int,
        help="a fixed number of requests per measurement (Python client only)",
    )
    parser.add_argument("--client", choices=["auto", "wrk", "python"], default="auto")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="wrk threads (default 1: leave the cores to the server)",
    )
    parser.add_argument(
        "--no-info-run", action="store_true", help="skip the PostgreSQL run with LOG_LEVEL=INFO"
    )
    parser.add_argument(
        "--no-proxy-run",
        action="store_true",
        help="skip the app-proxy door (POST /proxy/intents, signed as Shopify signs it)",
    )
    parser.add_argument(
        "--no-analyze",
        action="store_true",
        help="skip the ANALYZE after the warm-up (PostgreSQL: measure a database without statistics)",
    )
    parser.add_argument(
        "--profile",
        help="record the PostgreSQL server with py-spy (pip install py-spy) to this file "
        "(raw collapsed stacks) and summarise it",
    )
    args = parser.parse_args()
    use_wrk = args.client == "wrk" or (
        args.client == "auto" and shutil.which("wrk") and not args.requests
    )
    if use_wrk and args.requests:
        parser.error("--requests needs the Python client (wrk is time-based)")
    if use_wrk and not shutil.which("wrk"):
        parser.error("wrk is not installed (apt-get install wrk), use --client python")
    if args.profile and not (Path(sys.executable).parent / "py-spy").exists():
        parser.error("--profile needs py-spy in this virtualenv (.venv/bin/pip install py-spy)")
    load = wrk_load if use_wrk else python_load
    print(
        f"client: {'wrk' if use_wrk else 'python asyncio'}, {args.concurrency} connections, "
        f"{f'{args.requests} requests' if args.requests else f'{args.duration:g} s'} after {args.warmup:g} s warm-up"
    )
    with tempfile.TemporaryDirectory(prefix="bench-intents-") as tmp:
        workdir = Path(tmp)
        results = []
        for backend in args.backends:
            results.append(run_backend(backend, args, load, workdir))
            last = results[-1]
            print(
                f"  {last['name']}: {last['created'] / last['seconds']:,.0f} signups/s", flush=True
            )
        if "postgresql" in args.backends and not args.no_info_run:
            results.append(run_backend("postgresql", args, load, workdir, log_level="INFO"))
        if not args.no_proxy_run:
            for backend in args.backends:
                results.append(run_backend(backend, args, load, workdir, door="proxy"))
        bare = run_bare(args, load, workdir, results[0]["response_bytes"])
    report(results, bare)
    if args.profile and "postgresql" in args.backends:
        from bench.profile_summary import summarise

        print(
            "\nPostgreSQL server profile (py-spy --gil, during the measured load; it slows that run a little):"
        )
        summarise(args.profile)


if __name__ == "__main__":
    main()
