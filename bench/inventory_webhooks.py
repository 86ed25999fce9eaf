"""Throughput and latency of `POST /webhooks/inventory_levels/update` on one `shopify-app serve`
process (worker off), against the bare endpoint (bench/bare_app.py) and the signup API
(bench/intents_api.py) measured in the same run, on the same machine.

    .venv/bin/python bench/inventory_webhooks.py                          # both backends, 32 clients, 10 s
    .venv/bin/python bench/inventory_webhooks.py --backends postgresql --profile /tmp/webhooks.txt
    .venv/bin/python bench/inventory_webhooks.py --client python --requests 20000

Every request carries a valid HMAC over one of `--bodies` (4,000) distinct bodies (1,000 items at
4 locations) and its own `X-Shopify-Webhook-Id` and `X-Shopify-Event-Id`, so each one is a new
delivery that must be verified, de-duplicated and recorded before its 200. Afterwards the
deliveries the run recorded are counted, and the worker's part (applying the recorded levels in
batches and enqueueing one job per item) is timed in this process. Load comes from `wrk` (apt-get
install wrk) with a Lua script, else from bench/intents_api.py's asyncio client shape. The goal:
>= 1,500 webhooks/s with p99 < 50 ms at 32 connections on PostgreSQL.
"""

import argparse
import asyncio
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import intents_api
from bench.common import ROOT, app_env, free_port, fresh_database, percentile, stop, wait_http
from shopify_app.config import Settings
from shopify_app.db import make_engine
from shopify_app.oauth import Grant, store_shop
from shopify_app.verify import webhook_hmac

SHOP = "bench-shop.myshopify.com"
PATH = "/webhooks/inventory_levels/update"
TOPIC = "inventory_levels/update"
LOCATIONS = 4
LUA = """
local threads, next_id = {}, 0
function setup(thread)
  next_id = next_id + 1
  thread:set("tid", next_id)
  table.insert(threads, thread)
end
function init(args)
  run, path, n, ok, other = args[1], args[2], 0, 0, 0
  headers = {["Content-Type"] = "application/json", ["X-Shopify-Topic"] = "TOPIC",
             ["X-Shopify-Shop-Domain"] = args[3], ["X-Shopify-API-Version"] = "2026-10",
             ["X-Shopify-Triggered-At"] = "2026-11-22T17:00:00.000Z"}
end
function request()
  n = n + 1
  local b = BODIES[(n * 7919 + tid * 131) % #BODIES + 1]
  headers["X-Shopify-Hmac-Sha256"] = b[2]
  headers["X-Shopify-Webhook-Id"] = string.format("%s-%d-%d", run, tid, n)
  headers["X-Shopify-Event-Id"] = string.format("e%s-%d-%d", run, tid, n)
  return wrk.format("POST", path, headers, b[1])
end
function response(status, headers, body)
  if status == 200 then ok = ok + 1 else other = other + 1 end
end
function done(summary, latency, requests)
  local c, o = 0, 0
  for _, t in ipairs(threads) do c, o = c + t:get("ok"), o + t:get("other") end
  local e = summary.errors
  io.write(string.format("RESULT %d %d %d %d %d %.1f %.1f\\n", summary.duration, c, o,
    e.connect + e.read + e.write + e.timeout, summary.requests, latency:percentile(50), latency:percentile(99)))
end
""".replace("TOPIC", TOPIC)


def bodies(count: int, secret: str) -> list[tuple[bytes, str]]:
    """`count` distinct payloads as Shopify sends them, each with its HMAC."""
    found = []
    for n in range(count):
        item, location = 43_000_000_000 + n // LOCATIONS, 61_000_000_000 + n % LOCATIONS
        body = (
            f'{{"inventory_item_id":{item},"location_id":{location},"available":{(n * 7) % 13},'
            f'"updated_at":"2026-11-22T12:{n % 60:02d}:{(n // 60) % 60:02d}-05:00",'
            f'"admin_graphql_api_id":"gid://shopify/InventoryLevel/{location}?inventory_item_id={item}"}}'
        ).encode()
        found.append((body, webhook_hmac(secret, body)))
    return found


def lua_script(signed: list[tuple[bytes, str]]) -> str:
    table = ",\n".join(f'{{[[{body.decode()}]], "{digest}"}}' for body, digest in signed)
    return f"BODIES = {{\n{table}\n}}\n" + LUA


def wrk_load(signed):
    def load(port: int, shop: str, run: str, seconds: float, requests, args, workdir: Path) -> dict:
        script = workdir / "webhooks.lua"
        if not script.exists():
            script.write_text(lua_script(signed))
        command = [
            "wrk",
            f"-t{args.threads}",
            f"-c{args.concurrency}",
            f"-d{max(1, round(seconds))}s",
            "--timeout",
            "5s",
            "-s",
            str(script),
            f"http://127.0.0.1:{port}{PATH}",
            "--",
            run,
            PATH,
            shop,
        ]
        out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
        line = next((line for line in out.splitlines() if line.startswith("RESULT")), None)
        if line is None:
            raise RuntimeError(f"wrk printed no result:\n{out}")
        micros, ok, other, socket_errors, total, p50, p99 = (float(x) for x in line.split()[1:])
        return {
            "seconds": micros / 1e6,
            "created": int(ok),
            "other": int(other),
            "socket_errors": int(socket_errors),
            "requests": int(total),
            "p50": p50 / 1000,
            "p99": p99 / 1000,
        }

    return load


async def _client(port, shop, run, worker, until, budget, signed, out) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = (
        f"POST {PATH} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
        f"X-Shopify-Topic: {TOPIC}\r\nX-Shopify-Shop-Domain: {shop}\r\nX-Shopify-API-Version: 2026-10\r\n"
        "X-Shopify-Triggered-At: 2026-11-22T17:00:00.000Z\r\n"
    )
    n = 0
    try:
        while time.perf_counter() < until and budget[0] > 0:
            budget[0] -= 1
            n += 1
            body, digest = signed[(n * 7919 + worker * 131) % len(signed)]
            started = time.perf_counter()
            writer.write(
                f"{head}X-Shopify-Hmac-Sha256: {digest}\r\nX-Shopify-Webhook-Id: {run}-{worker}-{n}\r\n"
                f"X-Shopify-Event-Id: e{run}-{worker}-{n}\r\nContent-Length: {len(body)}\r\n\r\n".encode()
                + body
            )
            headers = await reader.readuntil(b"\r\n\r\n")
            length = next(
                (
                    int(h[15:])
                    for h in headers.lower().split(b"\r\n")
                    if h.startswith(b"content-length:")
                ),
                0,
            )
            await reader.readexactly(length)
            out["latencies"].append(time.perf_counter() - started)
            out["created" if headers[9:12] == b"200" else "other"] += 1
    except (OSError, asyncio.IncompleteReadError):
        out["socket_errors"] += 1
    finally:
        writer.close()


def python_load(signed):
    def load(port: int, shop: str, run: str, seconds: float, requests, args, workdir: Path) -> dict:
        out = {"created": 0, "other": 0, "socket_errors": 0, "latencies": []}
        budget = [requests or 1 << 62]

        async def main() -> float:
            started = time.perf_counter()
            until = started + (3600 if requests else seconds)
            await asyncio.gather(
                *(
                    _client(port, shop, run, w, until, budget, signed, out)
                    for w in range(args.concurrency)
                )
            )
            return time.perf_counter() - started

        elapsed = asyncio.run(main())
        lat = out.pop("latencies")
        return {
            **out,
            "seconds": elapsed,
            "requests": len(lat),
            "p50": percentile(lat, 50) * 1000,
            "p99": percentile(lat, 99) * 1000,
        }

    return load


def apply_backlog(engine) -> dict | None:
    """The worker's part, timed: apply every recorded level in batches (None if this version has no
    such step: levels were applied inside the request)."""
    try:
        from webhooks.inventory_levels_update import apply_pending
    except ImportError:
        return None
    started, applied = time.perf_counter(), 0
    while True:
        with engine.begin() as connection:
            done = apply_pending(connection, limit=1000)
        if not done:
            break
        applied += done
    return {"applied": applied, "seconds": time.perf_counter() - started}


def run_backend(backend: str, args, load, workdir: Path) -> dict:
    bin_dir = Path(sys.executable).parent
    with fresh_database(backend) as url:
        env = app_env(url, WORKER_IN_PROCESS="false", LOG_LEVEL="WARNING")
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
        server = intents_api.launch(
            [str(bin_dir / "shopify-app"), "serve", "--port", str(port)],
            env,
            workdir / f"{backend}-webhooks.log",
        )
        try:
            wait_http(f"http://127.0.0.1:{port}/healthz")
            body = b'{"inventory_item_id":1,"location_id":1,"available":1,"updated_at":"2026-11-22T12:00:00Z"}'
            probe = httpx.post(
                f"http://127.0.0.1:{port}{PATH}",
                content=body,
                headers={
                    "Content-Type": "application/json",
                    "X-Shopify-Topic": TOPIC,
                    "X-Shopify-Shop-Domain": SHOP,
                    "X-Shopify-Webhook-Id": "probe",
                    "X-Shopify-Hmac-Sha256": webhook_hmac(settings.SHOPIFY_API_SECRET, body),
                },
            )
            if probe.status_code != 200:
                raise RuntimeError(
                    f"probe webhook answered {probe.status_code}: {probe.text[:300]}"
                )
            run = f"{backend[:2]}{uuid.uuid4().hex[:6]}"
            profile = args.profile if backend == "postgresql" else None
            result = intents_api.measure(port, SHOP, run, args, load, workdir, server, profile)
        finally:
            stop(server)
        with engine.connect() as conn:
            result["rows"] = conn.execute(
                text("SELECT count(*) FROM webhook_delivery WHERE webhook_id LIKE :p"),
                {"p": f"{run}-%"},
            ).scalar_one()
        result["backlog"] = apply_backlog(engine)
        engine.dispose()
    return {**result, "name": f"webhooks {backend}", "concurrency": args.concurrency}


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
        "--bodies", type=int, default=4000, help="distinct signed bodies (default 4,000)"
    )
    parser.add_argument("--no-signups", action="store_true", help="skip the signup API runs")
    parser.add_argument(
        "--profile",
        help="record the PostgreSQL webhook server with py-spy to this file and summarise it",
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
    signed = bodies(args.bodies, app_env("")["SHOPIFY_API_SECRET"])
    load = (wrk_load if use_wrk else python_load)(signed)
    signup_load = intents_api.wrk_load if use_wrk else intents_api.python_load
    print(
        f"client: {'wrk' if use_wrk else 'python asyncio'}, {args.concurrency} connections, "
        f"{f'{args.requests} requests' if args.requests else f'{args.duration:g} s'} after {args.warmup:g} s "
        f"warm-up; {len(signed)} signed bodies"
    )
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-webhooks-") as tmp:
        workdir = Path(tmp)
        for backend in args.backends:
            hooks = run_backend(backend, args, load, workdir)
            print(f"  {hooks['name']}: {hooks['created'] / hooks['seconds']:,.0f}/s", flush=True)
            signups = None
            if not args.no_signups:
                signups = intents_api.run_backend(
                    backend,
                    argparse.Namespace(**{**vars(args), "profile": None}),
                    signup_load,
                    workdir,
                )
                signups["name"] = f"signups {backend}"
                print(
                    f"  {signups['name']}: {signups['created'] / signups['seconds']:,.0f}/s",
                    flush=True,
                )
            rows.append((hooks, signups))
        bare = intents_api.run_bare(args, load, workdir, 0)
    report(rows, bare)
    if args.profile and "postgresql" in args.backends:
        from bench.profile_summary import summarise

        print("\nPostgreSQL webhook server profile (py-spy --gil, during the measured load):")
        summarise(args.profile)


def report(rows: list[tuple[dict, dict | None]], bare: dict) -> None:
    bare_rate = bare["requests"] / bare["seconds"]
    print(
        f"\n{'server':<22}{'ok/s':>8}{'p50 ms':>8}{'p99 ms':>8}{'non-2xx':>8}{'sockerr':>8}{'rows':>8}"
        f"{'÷ bare':>7}{'÷ signups':>10}{'srv cpu':>8}{'pg cpu':>7}{'host':>6}"
    )
    for hooks, signups in rows:
        for r in (hooks, signups):
            if r is None:
                continue
            ok = r["created"] / r["seconds"]
            in_range = r["created"] <= r["rows"] <= r["created"] + r["concurrency"]
            versus = (
                f"{ok / (signups['created'] / signups['seconds']):.2f}"
                if r is hooks and signups
                else "-"
            )
            pg = f"{r['pg_ms']:.2f}" if "postgresql" in r["name"] else "-"
            print(
                f"{r['name']:<22}{ok:>8,.0f}{r['p50']:>8.1f}{r['p99']:>8.1f}{r['other']:>8}{r['socket_errors']:>8}"
                f"{r['rows']:>7}{'' if in_range else '!'}{ok / bare_rate:>7.2f}{versus:>10}{r['server_ms']:>8.2f}"
                f"{pg:>7}{r['host_busy']:>6.0%}"
            )
    print(
        f"{'bare starlette':<22}{bare_rate:>8,.0f}{bare['p50']:>8.1f}{bare['p99']:>8.1f}{bare['other']:>8}"
        f"{bare['socket_errors']:>8}{'-':>8}{1:>7.2f}{'-':>10}{bare['server_ms']:>8.2f}{'-':>7}{bare['host_busy']:>6.0%}"
    )
    print(
        "\nok/s: webhooks answered 200 (signups: 201) per second; 'rows': the measured run's deliveries (signups)\n"
        "stored, one per 2xx plus up to one per connection in flight at the end ('!' outside that range);\n"
        "'÷ bare': over the bare endpoint's requests/s; '÷ signups': webhooks/s over signups/s on the same backend;\n"
        "'srv cpu', 'pg cpu': CPU ms per request of the server and of all postgres processes; 'host': all cores."
    )
    for hooks, _ in rows:
        backlog = hooks.get("backlog")
        if backlog:
            print(
                f"worker, {hooks['name']}: applied {backlog['applied']:,} recorded levels in {backlog['seconds']:.1f} s "
                f"({backlog['applied'] / max(backlog['seconds'], 1e-9):,.0f}/s, batches of 1,000)"
            )
    pg = next((h for h, _ in rows if h["name"] == "webhooks postgresql"), None)
    if pg:
        met = pg["created"] / pg["seconds"] >= 1500 and pg["p99"] < 50 and pg["other"] == 0
        print(f"goal (PostgreSQL, >= 1,500 webhooks/s, p99 < 50 ms): {'met' if met else 'NOT met'}")


if __name__ == "__main__":
    main()
