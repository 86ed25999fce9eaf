"""The `shopify-app` command: serve, worker, migrate, demo, api-key, shops, rotate-keys."""

import argparse
import os
import sys

from .config import ConfigError, Settings, load_settings


def _settings() -> Settings:
    try:
        return load_settings()
    except ConfigError as exc:
        print(f"shopify-app: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


# Seconds `serve` waits for requests in flight after SIGTERM before cancelling them (then the
# in-process worker, if any, gets its own notify.service.STOP_GRACE_SECONDS).
SERVE_GRACE_SECONDS = 25


def serve_app():
    """The app of one `serve` process (uvicorn's factory: each of `--workers N` builds its own)."""
    import gc

    from .app import configure_logging, create_app

    settings = _settings()
    configure_logging(settings)
    app = create_app(settings)
    # What start-up loaded lives as long as the process: keep it out of the collector's full passes.
    gc.collect()
    gc.freeze()
    return app


def _exit_cleanly_after_a_graceful_stop() -> None:
    """uvicorn stops gracefully on SIGTERM/SIGINT, then raises the signal again under the handler
    it found. With this one the process then exits 0 (a stop asked for is not a crash) instead of
    dying of the signal (143) or a KeyboardInterrupt traceback."""
    import signal

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: None)


def cmd_serve(args: argparse.Namespace) -> None:
    import uvicorn

    from . import migrate
    from .app import configure_logging

    settings = _settings()
    configure_logging(settings)
    sqlite = settings.DATABASE_URL.startswith("sqlite")
    if args.workers < 1:
        print("shopify-app: --workers must be at least 1", file=sys.stderr)
        raise SystemExit(2)
    if sqlite and args.workers > 1:
        print(
            "shopify-app: --workers must be 1 on SQLite (one process); "
            "set DATABASE_URL to PostgreSQL to run more",
            file=sys.stderr,
        )
        raise SystemExit(2)
    if sqlite:
        migrate.upgrade(settings.DATABASE_URL)
    _exit_cleanly_after_a_graceful_stop()
    uvicorn.run(
        # An import string with more than one worker: uvicorn starts each in a process of its own.
        "shopify_app.cli:serve_app" if args.workers > 1 else serve_app(),
        factory=args.workers > 1,
        workers=args.workers,
        host=args.host,
        port=args.port,
        log_config=None,
        access_log=False,
        # X-Forwarded-For is read by the app itself (ratelimit.client_address, FORWARDED_ALLOW_IPS):
        # the app proxy needs the hop before Shopify's, which uvicorn's rewrite would lose.
        proxy_headers=False,
        server_header=False,
        timeout_graceful_shutdown=SERVE_GRACE_SECONDS,
    )


def cmd_worker(args: argparse.Namespace) -> None:
    import uvloop

    from .app import configure_logging
    from .notify.service import run_standalone

    settings = _settings()
    configure_logging(settings)
    # uvloop, as `serve` runs on (uvicorn picks it): the send loop's sockets, callbacks and timers
    # cost less CPU per message than on asyncio's own loop (docs/performance.md)
    uvloop.run(run_standalone(settings))


def cmd_demo(args: argparse.Namespace) -> None:
    import asyncio

    from .demo import run_demo

    asyncio.run(run_demo(keep=args.keep))


def cmd_migrate(args: argparse.Namespace) -> None:
    from . import migrate

    settings = _settings()
    migrate.upgrade(settings.DATABASE_URL, args.revision)
    print(f"shopify-app: database is at revision {args.revision}")


def cmd_api_key(args: argparse.Namespace) -> None:
    from .db import make_engine
    from .external_api import api_keys

    settings = _settings()
    engine = make_engine(settings.DATABASE_URL)
    try:
        with engine.begin() as connection:
            key = api_keys.rotate(connection, args.shop)
    except api_keys.UnknownShop:
        print(f"shopify-app: no shop named {args.shop!r} has the app installed", file=sys.stderr)
        raise SystemExit(1) from None
    finally:
        engine.dispose()
    print(
        f"A new merchant API key for {args.shop.strip().lower()} (send it as X-Auth-Token; the previous key "
        "no longer works). It is shown only this once:"
    )
    print(key)


def cmd_rotate_keys(args: argparse.Namespace) -> None:
    from .db import make_engine
    from .token_upkeep import reencrypt_tokens

    settings = _settings()
    engine = make_engine(settings.DATABASE_URL)
    try:
        done, unreadable = reencrypt_tokens(engine, settings)
    finally:
        engine.dispose()
    print(
        f"shopify-app: {done} stored tokens and webhook secrets now under the current SECRET_KEY"
        + (
            f"; {unreadable} open with no key given (set SECRET_KEY_FALLBACKS)"
            if unreadable
            else ""
        )
    )
    if unreadable:
        raise SystemExit(1)


def cmd_shops(args: argparse.Namespace) -> None:
    from .db import make_engine
    from .token_upkeep import describe

    settings = _settings()
    engine = make_engine(settings.DATABASE_URL)
    try:
        found = describe(engine, settings)
    finally:
        engine.dispose()
    if args.json:
        import json

        print(
            json.dumps(
                [
                    {
                        "shop": s.domain,
                        "installed": s.installed,
                        "token": s.kind.value,
                        "access_token_expires_at": s.access_expires_at.isoformat()
                        if s.access_expires_at
                        else None,
                        "refresh_token_expires_at": s.refresh_expires_at.isoformat()
                        if s.refresh_expires_at
                        else None,
                    }
                    for s in found
                ],
                indent=2,
            )
        )
        return

    def when(value) -> str:
        return f"{value:%Y-%m-%d %H:%M} UTC" if value else "-"

    rows = [("SHOP", "TOKEN", "ACCESS TOKEN EXPIRES", "REFRESH TOKEN EXPIRES")]
    rows += [
        (
            s.domain,
            s.kind.value if s.installed else "uninstalled",
            when(s.access_expires_at),
            when(s.refresh_expires_at),
        )
        for s in found
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False)).rstrip()
        )
    if not found:
        print("(no shops)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="shopify-app", description="Back-in-stock alerts for Shopify."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the web app (and the notification worker)")
    serve.add_argument(
        "--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)"
    )
    serve.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("PORT") or 8000),
        help="port to listen on (default $PORT, else 8000; Shopify CLI sets PORT)",
    )
    serve.add_argument(
        "--workers",
        type=int,
        default=int(os.environ.get("WEB_CONCURRENCY") or 1),
        help="web processes (default $WEB_CONCURRENCY, else 1; PostgreSQL only past 1)",
    )
    serve.set_defaults(func=cmd_serve)

    worker = sub.add_parser(
        "worker", help="run a notification worker only (several may run against PostgreSQL)"
    )
    worker.set_defaults(func=cmd_worker)

    demo = sub.add_parser(
        "demo", help="walk through a signup, a restock and its alerts on a throw-away database"
    )
    demo.add_argument(
        "--keep", action="store_true", help="keep the demo's folder (database and emails)"
    )
    demo.set_defaults(func=cmd_demo)

    mig = sub.add_parser("migrate", help="bring the database schema up to date (Alembic)")
    mig.add_argument("--revision", default="head", help="target revision (default head)")
    mig.set_defaults(func=cmd_migrate)

    api_key = sub.add_parser(
        "api-key",
        help="make a new merchant API key for an installed shop (the old one stops working)",
    )
    api_key.add_argument("shop", metavar="SHOP_DOMAIN", help="e.g. my-store.myshopify.com")
    api_key.set_defaults(func=cmd_api_key)

    shops = sub.add_parser(
        "shops",
        help="installed shops with their token kind (expiring / non-expiring / "
        "reconnect needed) and expiry, no secrets",
    )
    shops.add_argument("--json", action="store_true", help="print JSON instead of a table")
    shops.set_defaults(func=cmd_shops)

    rotate = sub.add_parser(
        "rotate-keys",
        help="re-encrypt stored access and refresh tokens and webhook secrets under the current "
        "SECRET_KEY (the previous one in SECRET_KEY_FALLBACKS)",
    )
    rotate.set_defaults(func=cmd_rotate_keys)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    args.func(args)
