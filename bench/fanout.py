"""Fan-out: N signups on one variant, one restock webhook, and the time until the last message is
accepted by the local receivers, per channel; the worker's peak memory; each alert's latency as
the app records it (webhook received -> sent: p50, p99); and how long deciding a restock takes
when many other variants have signups.

    .venv/bin/python bench/fanout.py                       # 10,000 and 100,000, every channel, PostgreSQL
    .venv/bin/python bench/fanout.py --sizes 10000 --channels email --backend sqlite

Email goes to Postfix's smtp-sink (Debian package `postfix`), whose own capacity is measured with
smtp-source and printed beside the result; SMS and push go to bench/receivers.py.
"""

import argparse
import base64
import contextlib
import json
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy import func, insert, select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    app_env,
    cpu_seconds,
    free_port,
    fresh_database,
    peak_rss_mb,
    shopify_app,
    start,
    stop,
    wait_http,
)
from shopify_app import migrate, oauth
from shopify_app.config import Settings
from shopify_app.db import make_engine, session_scope
from shopify_app.models import Customer, Intent, InventoryLevel, Notification, RestockEvent, Variant
from shopify_app.verify import webhook_hmac

SHOP, ITEM, VARIANT, PRODUCT, LOCATION = "bench-shop.myshopify.com", 5001, 7001, 9001, 1
CHUNK = 10_000


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def vapid_private() -> str:
    return b64(
        ec.generate_private_key(ec.SECP256R1()).private_numbers().private_value.to_bytes(32, "big")
    )


def vapid_public(private_b64: str) -> str:
    scalar = int.from_bytes(base64.urlsafe_b64decode(private_b64 + "=="), "big")
    key = ec.derive_private_key(scalar, ec.SECP256R1())
    return b64(key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint))


def seed(
    engine,
    settings: Settings,
    n: int,
    channel: str,
    receivers: str,
    *,
    variants: int = 1,
    variant0: int = VARIANT,
    domain: str = SHOP,
    first: int = 0,
) -> None:
    """The shop, the variant (sold out, every location known) and n signups spread over `variants`
    (shoppers numbered from `first`)."""
    shop = oauth.store_shop(
        engine, settings, domain, oauth.Grant("shpat_bench", settings.SHOPIFY_SCOPES)
    )
    now = datetime.now(UTC) - timedelta(days=1)
    browser = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    )
    keys = {"p256dh": b64(browser), "auth": b64(b"0123456789abcdef")}
    with session_scope(engine) as session:
        session.execute(
            insert(Variant),
            [
                {
                    "shop_id": shop.id,
                    "shopify_variant_id": variant0 + v,
                    "shopify_product_id": PRODUCT,
                    "inventory_item_id": ITEM + v,
                    "product_title": "Linen Shirt",
                    "variant_title": "Sage / M",
                    "handle": "linen-shirt",
                    "price": "49.00",
                    "image_url": "https://cdn.example.com/shirt.jpg",
                    "sellable": 0,
                    "levels_synced_at": now,
                    "updated_at": now,
                }
                for v in range(variants)
            ],
        )
        session.execute(
            insert(InventoryLevel),
            [
                {
                    "shop_id": shop.id,
                    "inventory_item_id": ITEM + v,
                    "location_id": LOCATION,
                    "available": 0,
                    "updated_at": now,
                }
                for v in range(variants)
            ],
        )
    for start_at in range(first, first + n, CHUNK):
        rows = range(start_at, min(first + n, start_at + CHUNK))
        customers = [
            {
                "id": f"{i:08d}-0000-4000-8000-000000000000",
                "shop_id": shop.id,
                "email": f"shopper{i}@example.com",
                "phone": f"+1415{i:07d}",
                "accepts_marketing": False,
                "created_at": now,
                "updated_at": now,
            }
            for i in rows
        ]
        intents = []
        for i in rows:
            contact = {
                "email": f"shopper{i}@example.com",
                "phone": f"+1415{i:07d}",
                "push_subscription": json.dumps(
                    {"endpoint": f"{receivers}/push/{i}", "keys": keys}
                ),
            }
            intents.append(
                {
                    "shop_id": shop.id,
                    "customer_id": customers[i - start_at]["id"],
                    "channel": channel,
                    "email": contact["email"] if channel == "email" else None,
                    "phone": contact["phone"] if channel == "sms" else None,
                    "push_subscription": contact["push_subscription"]
                    if channel == "push"
                    else None,
                    "quantity": 1,
                    "source": "api",
                    "status": "pending",
                    "shopify_variant_id": variant0 + i % variants,
                    "shopify_product_id": PRODUCT,
                    "optin_confirmed": True,
                    "sent_notifications_count": 0,
                    "created_at": now,
                    "updated_at": now,
                }
            )
        with session_scope(engine) as session:
            session.execute(insert(Customer), customers)
            session.execute(insert(Intent), intents)


def sink_capacity(port: int) -> float:
    """What smtp-sink itself accepts per second, driven by Postfix's smtp-source."""
    count = 20_000
    started = time.perf_counter()
    subprocess.run(
        [
            "smtp-source",
            "-c",
            "-m",
            str(count),
            "-s",
            "32",
            "-l",
            "2000",
            "-f",
            "a@example.com",
            "-t",
            "b@example.com",
            f"127.0.0.1:{port}",
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return count / (time.perf_counter() - started)


def worker_env(url: str, smtp_port: int, receivers: str) -> tuple[dict[str, str], Settings]:
    """The environment of the bench's serve and worker processes (every channel at the local
    receivers), and the same as Settings."""
    private = vapid_private()
    env = app_env(
        url,
        WORKER_IN_PROCESS="false",
        RECONCILE_INTERVAL_SECONDS="0",
        WORKER_POLL_INTERVAL="0.05",
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=str(smtp_port),
        SMTP_STARTTLS="false",
        MAIL_FROM="Bench Shop <alerts@bench.example>",
        TWILIO_ACCOUNT_SID="AC" + "0" * 32,
        TWILIO_AUTH_TOKEN="bench",
        TWILIO_FROM_NUMBER="+15005550006",
        TWILIO_API_BASE_URL=receivers,
        VAPID_PRIVATE_KEY=private,
        VAPID_PUBLIC_KEY=vapid_public(private),
        VAPID_SUBJECT="mailto:ops@bench.example",
        PUSH_ENDPOINT_ALLOWLIST="127.0.0.1",
    )
    return env, Settings(**{k: v for k, v in env.items() if k in Settings.model_fields})


def restock(port: int, settings: Settings, domain: str, webhook_id: str) -> None:
    """Shopify's inventory_levels/update for the bench item: 5 units back."""
    body = json.dumps(
        {
            "inventory_item_id": ITEM,
            "location_id": LOCATION,
            "available": 5,
            "updated_at": datetime.now(UTC).isoformat(),
        }
    ).encode()
    httpx.post(
        f"http://127.0.0.1:{port}/webhooks/inventory_levels/update",
        content=body,
        headers={
            "X-Shopify-Hmac-Sha256": webhook_hmac(settings.SHOPIFY_API_SECRET, body),
            "X-Shopify-Topic": "inventory_levels/update",
            "X-Shopify-Shop-Domain": domain,
            "X-Shopify-Webhook-Id": webhook_id,
            "Content-Type": "application/json",
        },
    ).raise_for_status()


def fairness_case(backend: str, smtp_port: int, receivers: str, big: int, small: int) -> dict:
    """Shop A's restock of `big` email alerts, then, once A's are going out, shop B's of `small`:
    how long B's alerts take from B's webhook (the app's recorded latency), and how far A had got."""
    other = "other-bench-shop.myshopify.com"
    with fresh_database(backend) as url:
        env, settings = worker_env(url, smtp_port, receivers)
        migrate.upgrade(url)
        engine = make_engine(url)
        seed(engine, settings, big, "email", receivers)
        seed(engine, settings, small, "email", receivers, domain=other, first=big)
        port = free_port()
        server = start(shopify_app("serve", "--port", str(port)), env)
        worker = start(shopify_app("worker"), env)
        try:
            wait_http(f"http://127.0.0.1:{port}/healthz")
            time.sleep(0.5)
            restock(port, settings, SHOP, "bench-a")
            while True:  # A's alerts are going out: its queue is ahead of anything B has
                with session_scope(engine) as session:
                    if session.execute(
                        select(func.count())
                        .select_from(Notification)
                        .where(Notification.status == "sent")
                    ).scalar_one() >= min(1000, big // 10):
                        break
                time.sleep(0.02)
            restock(port, settings, other, "bench-b")
            deadline = time.perf_counter() + 600
            while time.perf_counter() < deadline:
                with session_scope(engine) as session:
                    waiting = session.execute(
                        select(func.count())
                        .select_from(Notification)
                        .join(Intent, Intent.id == Notification.intent_id)
                        .where(Intent.email >= f"shopper{big}", Notification.status != "sent")
                    ).scalar_one()
                    b_events = session.execute(
                        select(func.count()).select_from(RestockEvent)
                    ).scalar_one()
                if b_events == 2 and waiting == 0:
                    break
                time.sleep(0.02)
            with session_scope(engine) as session:
                b_received = session.execute(
                    select(func.max(RestockEvent.received_at))
                ).scalar_one()
                b_last = session.execute(
                    select(func.max(Notification.sent_at))
                    .join(Intent, Intent.id == Notification.intent_id)
                    .where(Intent.shop_id != 1)
                ).scalar_one()
                a_sent_by_then = session.execute(
                    select(func.count())
                    .select_from(Notification)
                    .where(Notification.shop_id == 1, Notification.sent_at <= b_last)
                ).scalar_one()
        finally:
            stop(worker)
            stop(server)
            engine.dispose()
    return {
        "b_all_sent_after": (b_last - b_received).total_seconds(),
        "a_sent_by_then": a_sent_by_then,
        "big": big,
        "small": small,
    }


def run_case(
    backend: str,
    n: int,
    channel: str,
    smtp_port: int,
    receivers: str,
    profile: str | None = None,
    workers: int = 1,
) -> dict:
    with fresh_database(backend) as url:
        env, settings = worker_env(url, smtp_port, receivers)
        migrate.upgrade(url)
        engine = make_engine(url)
        seed(engine, settings, n, channel, receivers)
        port = free_port()
        server = start(shopify_app("serve", "--port", str(port)), env)
        others = [start(shopify_app("worker"), env) for _ in range(workers - 1)]
        worker = start(shopify_app("worker"), env)
        try:
            wait_http(f"http://127.0.0.1:{port}/healthz")
            time.sleep(0.5 + 0.3 * len(others))  # the workers are up
            profiler = None
            if profile:
                # --gil: a sample is a moment the worker held the GIL, so shares are of its Python CPU.
                profiler = subprocess.Popen(
                    [
                        str(Path(sys.executable).parent / "py-spy"),
                        "record",
                        "--pid",
                        str(worker.pid),
                        "--rate",
                        "200",
                        "--format",
                        "raw",
                        "--gil",
                        "--nonblocking",
                        "-o",
                        f"{profile}/fanout-{channel}-{n}.txt",
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                time.sleep(1.0)
            started = datetime.now(UTC)
            cpu0 = sum(cpu_seconds(p.pid) for p in (worker, *others))
            t0 = time.perf_counter()
            restock(port, settings, SHOP, "bench")
            done = 0
            while time.perf_counter() - t0 < 900:
                with session_scope(engine) as session:
                    done = session.execute(
                        select(func.count())
                        .select_from(Notification)
                        .where(Notification.status.in_(["sent", "failed"]))
                    ).scalar_one()
                if done >= n:
                    break
                time.sleep(0.05)
            elapsed = time.perf_counter() - t0
            # the workers' CPU for the whole send (all of them, per message sent): noisy
            # neighbours change wall time, not this
            cpu = sum(cpu_seconds(p.pid) for p in (worker, *others)) - cpu0
            rss = peak_rss_mb(worker.pid)
            if profiler:
                profiler.send_signal(signal.SIGINT)
                profiler.wait(30)
            with session_scope(engine) as session:
                event = session.execute(select(RestockEvent)).scalar_one()
                sent = session.execute(
                    select(func.count())
                    .select_from(Notification)
                    .where(Notification.status == "sent")
                ).scalar_one()
                first = session.execute(select(func.min(Notification.sent_at))).scalar_one()
                # each alert's latency as the app records it: webhook received -> sent
                took = sorted(
                    (at - event.received_at).total_seconds()
                    for at in session.execute(
                        select(Notification.sent_at).where(Notification.status == "sent")
                    ).scalars()
                )
        finally:
            for process in (worker, *others):
                stop(process)
            stop(server)
            engine.dispose()
        return {
            "workers": workers,
            "backend": backend,
            "n": n,
            "channel": channel,
            "sent": sent,
            "seconds": elapsed,
            "per_second": sent / elapsed,
            "cpu_us_per_message": cpu / sent * 1e6 if sent else None,
            "decided_after": (event.created_at - started).total_seconds(),
            "first_sent_after": (first - started).total_seconds() if first else None,
            "worker_peak_mb": rss,
            "latency_p50": _percentile(took, 0.50),
            "latency_p99": _percentile(took, 0.99),
        }


def _percentile(sorted_values: list[float], share: float) -> float | None:
    if not sorted_values:
        return None
    return sorted_values[min(len(sorted_values) - 1, int(share * len(sorted_values)))]


def decide_scaling(backend: str) -> list[tuple[int, float]]:
    """Median time to decide one variant's restock (100 signups) with 10,000 vs 1,000,000 signups stored."""
    from shopify_app.notify import outbox
    from shopify_app.restock import Policy

    results = []
    for total in (10_000, 1_000_000):
        with fresh_database(backend) as url:
            migrate.upgrade(url)
            engine = make_engine(url)
            settings = Settings(
                **{k: v for k, v in app_env(url).items() if k in Settings.model_fields}
            )
            seed(
                engine,
                settings,
                total,
                "email",
                "http://127.0.0.1:1",
                variants=total // 100,
                variant0=100_000,
            )
            if backend == "postgresql":
                with engine.connect() as conn:
                    conn.exec_driver_sql("ANALYZE")
            timings = []
            for attempt in range(7):
                with engine.connect() as conn:
                    transaction = conn.begin()
                    from sqlalchemy.orm import Session

                    session = Session(bind=conn)
                    t = time.perf_counter()
                    decision = outbox.decide(
                        session, 1, Policy(), 100_000 + attempt, before=0, after=5, trigger="bench"
                    )
                    timings.append(time.perf_counter() - t)
                    assert decision.chosen == 100, decision
                    transaction.rollback()
            engine.dispose()
            results.append((total, sorted(timings)[len(timings) // 2]))
    return results


@contextlib.contextmanager
def receiving(email: bool) -> Iterator[tuple[int, str, float | None]]:
    """Postfix's smtp-sink (when `email`) and bench/receivers.py (SMS, push) running: the sink's
    port, the receivers' URL, and the sink's own capacity (smtp-source, 32 sessions)."""
    if email and not shutil.which("smtp-sink"):
        sys.exit(
            "smtp-sink not found: apt-get install postfix (the email sink); or pass --channels sms push"
        )
    smtp_port, receiver_port = free_port(), free_port()
    sink = (
        start(["smtp-sink", "-c", "-u", "root", f"127.0.0.1:{smtp_port}", "1024"])
        if email
        else None
    )
    receivers = start([sys.executable, "bench/receivers.py", "--port", str(receiver_port)])
    try:
        wait_http(f"http://127.0.0.1:{receiver_port}/count")
        time.sleep(0.3)
        rate = sink_capacity(smtp_port) if email else None
        yield smtp_port, f"http://127.0.0.1:{receiver_port}", rate
    finally:
        stop(receivers)
        if sink is not None:
            stop(sink)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backend", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--channels", nargs="+", default=["email", "sms", "push"])
    parser.add_argument(
        "--workers", type=int, nargs="+", default=[1], help="worker processes (each count a run)"
    )
    parser.add_argument(
        "--skip-decide", action="store_true", help="skip the 1M-signup decide comparison"
    )
    parser.add_argument(
        "--fairness",
        type=int,
        metavar="N",
        help="only: shop A's N email alerts going out, then shop B's 10 (fair sending)",
    )
    parser.add_argument(
        "--profile",
        metavar="DIR",
        help="record the worker with py-spy into DIR/fanout-CHANNEL-N.txt "
        "(read with bench/profile_summary.py)",
    )
    args = parser.parse_args()
    with receiving("email" in args.channels) as (smtp_port, receivers, sink_rate):
        if args.fairness:
            r = fairness_case(args.backend, smtp_port, receivers, args.fairness, 10)
            print(
                f"fairness: shop A's {r['big']:,} alerts going out, then shop B's {r['small']}: "
                f"all of B's sent {r['b_all_sent_after']:.2f} s after B's webhook reached the app "
                f"(A had {r['a_sent_by_then']:,} sent by then)"
            )
            return
        if sink_rate is not None:
            print(
                f"smtp-sink's own capacity (smtp-source, 32 sessions): {sink_rate:,.0f} messages/s"
            )
        print(
            f"{'workers':<8}{'backend':<11}{'signups':>9} {'channel':<7}{'sent':>9}{'seconds':>9}{'per s':>8}"
            f"{'decided':>9}{'1st sent':>9}{'worker MB':>10}{'alert p50':>10}{'alert p99':>10}"
            f"{'CPU µs/msg':>11}"
        )
        for n, channel, workers in (
            (n, c, w) for n in args.sizes for c in args.channels for w in args.workers
        ):
            r = run_case(args.backend, n, channel, smtp_port, receivers, args.profile, workers)
            print(
                f"{r['workers']:<8}{r['backend']:<11}{r['n']:>9,} {r['channel']:<7}{r['sent']:>9,}{r['seconds']:>9.2f}"
                f"{r['per_second']:>8.0f}{r['decided_after']:>8.2f}s{r['first_sent_after'] or 0:>8.2f}s"
                f"{r['worker_peak_mb']:>10.0f}"
                f"{r['latency_p50'] or 0:>9.2f}s{r['latency_p99'] or 0:>9.2f}s"
                f"{r['cpu_us_per_message'] or 0:>11.0f}",
                flush=True,
            )
    if not args.skip_decide:
        for total, seconds in decide_scaling(args.backend):
            print(
                f"decide one restock (100 signups) with {total:>9,} signups stored: {seconds * 1000:.1f} ms"
            )


if __name__ == "__main__":
    main()
