"""How many messages a second SmtpMailer hands to an SMTP server from one process.

    smtp-sink -c -u root 127.0.0.1:2525 1000 &      # Debian's postfix package: /usr/sbin/smtp-sink
    python bench/smtp_probe.py 127.0.0.1 2525 --pool 8

Messages look like real alerts (plain + html, List-Unsubscribe); every send waits for the
server's 250, as the worker does.
"""

import argparse
import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from shopify_app.notify.base import OutgoingMessage
from shopify_app.notify.email import SmtpMailer

TEXT = (
    "Good news: Linen Shirt (Green / M) is back in stock at Linen & Co.\n\n"
    "Buy it now: https://linen-co.myshopify.com/products/linen-shirt?variant=39072856\n\n"
    "You asked to be told once. Unsubscribe: https://app.example/unsubscribe/{n}\n"
)
HTML = (
    "<!doctype html><html><body><h1>Linen Shirt is back</h1><p>Good news: <b>Linen Shirt (Green / M)</b> "
    'is back in stock.</p><p><a href="https://linen-co.myshopify.com/products/linen-shirt?variant=39072856">'
    "Buy it now</a></p>" + "<p>" + "Lorem ipsum dolor sit amet. " * 40 + "</p>"
    '<p><a href="https://app.example/unsubscribe/{n}">Unsubscribe</a></p></body></html>'
)


def message(n: int) -> OutgoingMessage:
    return OutgoingMessage(
        channel="email",
        to=f"shopper{n}@example.com",
        subject="Linen Shirt is back in stock",
        text=TEXT.format(n=n),
        html=HTML.format(n=n),
        reference=str(n),
        headers={
            "List-Unsubscribe": f"<https://app.example/unsubscribe/{n}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    )


async def probe(host: str, port: int, count: int, pool: int, concurrency: int) -> None:
    mailer = SmtpMailer(
        host, port, sender="Linen & Co <alerts@linen-co.example>", starttls=False, pool_size=pool
    )
    await mailer.send(message(0))  # one connection up before the clock starts
    failures = 0
    queue = iter(range(1, count + 1))

    async def sender() -> None:
        nonlocal failures
        for n in queue:
            try:
                await mailer.send(message(n))
            except Exception as exc:
                failures += 1
                if failures == 1:
                    print(f"first failure: {exc}", file=sys.stderr)

    started = time.perf_counter()
    await asyncio.gather(*(sender() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    await mailer.aclose()
    print(
        f"{count} messages, pool {pool}, {concurrency} senders: {elapsed:.2f} s, {count / elapsed:.0f} messages/s, "
        f"{mailer.connections_opened} connections, {failures} failed"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("host")
    parser.add_argument("port", type=int)
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--pool", type=int, default=8, help="SMTP connections kept open")
    parser.add_argument(
        "--concurrency", type=int, default=0, help="sends in flight (default: 2 x pool)"
    )
    args = parser.parse_args()
    asyncio.run(
        probe(args.host, args.port, args.count, args.pool, args.concurrency or 2 * args.pool)
    )


if __name__ == "__main__":
    main()
