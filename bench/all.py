"""Every figure issue 17 asks for, in one table, with the date, the commit and the machine: the
signup API and the inventory webhooks against the bare endpoint, the fan-out per channel with one
and two workers and each alert's recorded latency, fair sending across shops, and the dashboard
with 1,000,000 signups (when `bench/admin_stats.py --keep` has seeded its database).

    .venv/bin/python bench/all.py                # ~10 minutes
    .venv/bin/python bench/all.py --quick        # shorter runs, no second worker, no dashboard

Each part is its own script too (bench/intents_api.py, inventory_webhooks.py, fanout.py,
admin_stats.py), with more options; this one runs them with their defaults trimmed to fit.
The table is what docs/performance.md shows.
"""

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import admin_seed, admin_stats, fanout, intents_api, inventory_webhooks
from bench.common import ROOT, app_env

Row = tuple[str, str, str, str]  # what, figure, goal, met


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        model = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
        cpu = model
    except (OSError, StopIteration):
        pass
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores ({cpu}), {memory:.0f} GiB, Python {platform.python_version()}"


def commit() -> str:
    found = subprocess.run(
        ["git", "describe", "--always", "--dirty"], cwd=ROOT, capture_output=True, text=True
    )
    return found.stdout.strip() or "unknown"


def met(ok: bool) -> str:
    return "yes" if ok else "no"


def http_rows(duration: int) -> list[Row]:
    args = argparse.Namespace(
        concurrency=32,
        duration=duration,
        warmup=2,
        requests=None,
        threads=1,
        profile=None,
        no_analyze=False,
    )
    signed = inventory_webhooks.bodies(4000, app_env("")["SHOPIFY_API_SECRET"])
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="bench-all-") as tmp:
        workdir = Path(tmp)
        bare = intents_api.run_bare(args, intents_api.wrk_load, workdir, 0)
        bare_rate = bare["requests"] / bare["seconds"]
        rows.append(("bare Starlette endpoint, 32 clients", f"{bare_rate:,.0f} req/s", "", ""))
        for backend in ("postgresql", "sqlite"):
            s = intents_api.run_backend(backend, args, intents_api.wrk_load, workdir)
            rate = s["created"] / s["seconds"]
            goal = backend == "postgresql"
            rows.append(
                (
                    f"signups, {backend}, 32 clients",
                    f"{rate:,.0f}/s, p99 {s['p99']:.0f} ms ({rate / bare_rate:.2f}x bare)",
                    "≥ 2,000/s, p99 < 50 ms" if goal else "",
                    met(rate >= 2000 and s["p99"] < 50) if goal else "",
                )
            )
        hooks = inventory_webhooks.run_backend(
            "postgresql", args, inventory_webhooks.wrk_load(signed), workdir
        )
        rate = hooks["created"] / hooks["seconds"]
        rows.append(
            (
                "inventory webhooks, postgresql, 32 clients",
                f"{rate:,.0f}/s, p99 {hooks['p99']:.0f} ms ({rate / bare_rate:.2f}x bare)",
                "≥ 3,000/s, p99 < 25 ms",
                met(rate >= 3000 and hooks["p99"] < 25),
            )
        )
    return rows


def fanout_rows(workers: list[int]) -> list[Row]:
    rows: list[Row] = []
    goals = {"email": ("< 3 s", lambda r: r["seconds"] < 3)}
    with fanout.receiving(True) as (smtp_port, receivers, sink_rate):
        rows.append(("smtp-sink's own capacity (smtp-source)", f"{sink_rate:,.0f}/s", "", ""))
        one: dict[str, float] = {}
        for channel in ("email", "sms", "push"):
            for count in workers:
                r = fanout.run_case(
                    "postgresql", 10_000, channel, smtp_port, receivers, None, count
                )
                goal, check = goals.get(channel, ("≥ 2,000/s", lambda r: r["per_second"] >= 2000))
                if count == 1:
                    one[channel] = r["per_second"]
                    scaling = ""
                else:
                    scaling = f", {r['per_second'] / one[channel]:.2f}x one worker"
                rows.append(
                    (
                        f"10,000 {channel}, {count} worker{'s' if count > 1 else ''}",
                        f"{r['seconds']:.2f} s ({r['per_second']:,.0f}/s{scaling}); alert latency "
                        f"p50 {r['latency_p50']:.2f} s, p99 {r['latency_p99']:.2f} s; worker CPU "
                        f"{r['cpu_us_per_message'] or 0:,.0f} µs/message",
                        goal if count == 1 else "≥ 1.6x one worker",
                        met(check(r)) if count == 1 else met(r["per_second"] >= 1.6 * one[channel]),
                    )
                )
        f = fanout.fairness_case("postgresql", smtp_port, receivers, 100_000, 10)
        rows.append(
            (
                "shop B's 10 alerts while shop A's 100,000 go out",
                f"all sent {f['b_all_sent_after']:.2f} s after B's webhook",
                "< 2 s",
                met(f["b_all_sent_after"] < 2),
            )
        )
    return rows


def dashboard_rows() -> list[Row]:
    if not admin_seed.exists("postgresql"):
        return [
            ("dashboard, 1,000,000 signups", "skipped: run bench/admin_stats.py --keep", "", "")
        ]
    args = argparse.Namespace(duration=10, runs=3, concurrency=1)
    rows: list[Row] = []
    with (
        tempfile.TemporaryDirectory(prefix="bench-all-") as tmp,
        admin_seed.bench_database("postgresql", keep=True) as url,
    ):
        admin_seed.upgrade("postgresql", url)
        for result in admin_stats.measure("postgresql", url, args, Path(tmp)):
            if "90" not in result["name"]:
                continue
            worst = max(r["p99"] for r in result["runs"])
            rows.append(
                (
                    f"{result['name']}, 1,000,000 signups, postgresql",
                    f"p99 {worst:.0f} ms (worst of {len(result['runs'])})",
                    "p99 < 100 ms",
                    met(worst < 100),
                )
            )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="5 s runs, one worker, no dashboard")
    args = parser.parse_args()
    for tool in ("wrk", "smtp-sink"):
        if not shutil.which(tool):
            sys.exit(f"{tool} not found: apt-get install wrk postfix")
    started = datetime.now(UTC)
    rows = http_rows(5 if args.quick else 10)
    rows += fanout_rows([1] if args.quick else [1, 2])
    if not args.quick:
        rows += dashboard_rows()
    load = os.getloadavg()
    print(f"\n{started:%Y-%m-%d %H:%M} UTC · commit {commit()} · {machine()}")
    print(f"load average at the end: {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}\n")
    print("| what | figure | goal | met |")
    print("| --- | --- | --- | --- |")
    for what, figure, goal, ok in rows:
        print(f"| {what} | {figure} | {goal} | {ok} |")


if __name__ == "__main__":
    main()
