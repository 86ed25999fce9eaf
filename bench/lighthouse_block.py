"""What the "Notify me" block costs a product page's Lighthouse performance score (Shopify's rule for
storefront impact: under 10 points). Lighthouse (mobile preset, performance only, headless
Chromium /usr/bin/chromium) runs against the development storefront (`APP_ENV=development
shopify-app serve`) on a sold-out variant, with the block and without it (`?block=0`), K runs
each; the medians are printed, with LCP, TBT and CLS.

    .venv/bin/python bench/lighthouse_block.py            # 3 runs each
    .venv/bin/python bench/lighthouse_block.py --runs 5

Lighthouse comes from the npm registry, installed into /tmp/bench-npm when missing.
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import ROOT, app_env, free_port, fresh_database, stop, wait_http
from bench.intents_api import launch
from shopify_app import devshop

CHROMIUM = "/usr/bin/chromium"
NPM_DIR = Path("/tmp/bench-npm")
LIGHTHOUSE = NPM_DIR / "node_modules" / ".bin" / "lighthouse"
SOLD_OUT = devshop.PRODUCTS[0].variants[1]  # Linen Shirt, Sage / M: the block shows its form
GOAL = 10


def lighthouse() -> Path:
    if not LIGHTHOUSE.exists():
        NPM_DIR.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["npm", "install", "--prefix", str(NPM_DIR), "--no-audit", "--no-fund", "lighthouse"],
            check=True,
        )
    return LIGHTHOUSE


def run_once(url: str) -> dict:
    out = subprocess.run(
        [
            str(lighthouse()),
            url,
            "--only-categories=performance",
            "--output=json",
            "--output-path=stdout",
            "--quiet",
            "--chrome-flags=--headless=new --no-sandbox",
        ],
        env={**os.environ, "CHROME_PATH": CHROMIUM},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    result = json.loads(out)
    audits = result["audits"]
    return {
        "score": result["categories"]["performance"]["score"] * 100,
        "lcp": audits["largest-contentful-paint"]["numericValue"],
        "tbt": audits["total-blocking-time"]["numericValue"],
        "cls": audits["cumulative-layout-shift"]["numericValue"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=3, help="Lighthouse runs per page (3)")
    args = parser.parse_args()
    lighthouse()
    port = free_port()
    base = f"http://127.0.0.1:{port}/dev/storefront?variant={SOLD_OUT.id}"
    pages = {"with the block": base, "without (?block=0)": base + "&block=0"}
    results: dict[str, list[dict]] = {}
    with fresh_database("sqlite") as url, tempfile.TemporaryDirectory() as tmp:
        env = app_env(url, APP_ENV="development", APP_URL=f"http://127.0.0.1:{port}")
        server = launch(
            [str(Path(sys.executable).parent / "shopify-app"), "serve", "--port", str(port)],
            env,
            Path(tmp) / "server.log",
        )
        try:
            wait_http(f"http://127.0.0.1:{port}/healthz", timeout=60)
            for _ in range(args.runs):  # alternated, so both see the same machine load
                for name, page in pages.items():
                    results.setdefault(name, []).append(run_once(page))
                    print(f"  {name}: score {results[name][-1]['score']:.0f}", flush=True)
        finally:
            stop(server)
    version = subprocess.run(
        [str(lighthouse()), "--version"], capture_output=True, text=True
    ).stdout.strip()
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    print(
        f"\n{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, commit {commit}, {platform.node()} "
        f"({platform.machine()}, {os.cpu_count()} cores), Lighthouse {version} mobile preset "
        f"(simulated throttling), {args.runs} runs each, medians; /dev/storefront?variant={SOLD_OUT.id}"
    )
    print(f"{'page':<22}{'score':>7}{'LCP ms':>9}{'TBT ms':>9}{'CLS':>8}")
    medians = {}
    for name, runs in results.items():
        medians[name] = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        m = medians[name]
        print(f"{name:<22}{m['score']:>7.0f}{m['lcp']:>9.0f}{m['tbt']:>9.0f}{m['cls']:>8.3f}")
    with_block, without = (medians[name]["score"] for name in pages)
    cost = without - with_block
    print(
        f"the block costs {cost:.0f} points (goal: under {GOAL}): {'met' if cost < GOAL else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
