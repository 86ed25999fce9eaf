"""Where the time goes, from a py-spy raw (collapsed stacks) profile: samples grouped into a few
categories, then the functions with the most samples of their own.

    .venv/bin/python bench/profile_summary.py /tmp/intents.txt

Recorded with `--gil` (as bench/intents_api.py --profile does), a sample is a moment a thread held
the GIL, so the shares are of the server's Python CPU, not of wall time.
"""

import argparse
import re
from collections import Counter

# First match wins: a mark ending in "@" is looked for in the sampled (innermost) frame only, the others
# anywhere in the stack, most specific first.
CATEGORIES = [
    ("pool: pre-ping SELECT 1", ("do_ping",)),
    (
        "pool: checkout / new connection",
        ("Pool.connect", "_ConnectionFairy._checkout", "Pool._create_connection"),
    ),
    (
        "SQL: building statements + cache keys",
        (
            "ValuesBase.values",
            "_generate_cache_key",
            "insert_ignoring_conflicts",
            "coercions.py",
            "operators.py",
            "Select.where",
        ),
    ),
    ("SQL: commit", ("Connection.commit", "SessionTransaction.commit")),
    ("psycopg: send / prepare / wait", ("psycopg/",)),
    ("SQLAlchemy: execute, compile, results, session", ("sqlalchemy/", "sqlmodel/")),
    ("email validation", ("email_validator/",)),
    (
        "worker: push encryption (pywebpush, ECDH, AES-GCM)",
        ("pywebpush/", "http_ece/", "WebPusher", "py_vapid/"),
    ),
    ("worker: rendering (Jinja2, email writer)", ("jinja2/", "render.py", "EmailWriter")),
    ("worker: SMTP (aiosmtplib)", ("aiosmtplib/",)),
    ("worker: HTTP client (httpx, httpcore, h11)", ("httpx/", "httpcore/", "h11/")),
    ("pydantic: parse, validate, response model", ("pydantic/", "to_public", "_parse (")),
    ("logging", ("logging/", "shopify_app/logs.py")),
    (
        "threadpool hop (anyio, queue, threading)",
        ("anyio/@", "queue.py@", "threading.py@", "concurrency.py@"),
    ),
    (
        "HTTP: uvicorn, starlette, middleware, event loop",
        ("uvicorn/@", "starlette/@", "middleware.py@", "asyncio/@"),
    ),
    ("our own code (shopify_app, own lines)", ("shopify_app/@",)),
]


def matches(mark: str, stack: str, leaf: str) -> bool:
    return mark[:-1] in leaf if mark.endswith("@") else mark in stack


def read(path: str) -> list[tuple[list[str], int]]:
    samples = []
    with open(path) as lines:
        for line in lines:
            stack, _, count = line.rstrip("\n").rpartition(" ")
            if stack:
                samples.append(([re.sub(r":\d+\)$", ")", f) for f in stack.split(";")], int(count)))
    return samples


def summarise(path: str, top: int = 15) -> None:
    samples = read(path)
    total = sum(n for _, n in samples) or 1
    by_category, by_self = Counter(), Counter()
    for frames, n in samples:
        stack = ";".join(frames)
        name = next(
            (
                name
                for name, marks in CATEGORIES
                if any(matches(m, stack, frames[-1]) for m in marks)
            ),
            "other",
        )
        by_category[name] += n
        by_self[frames[-1]] += n
    print(f"{total} samples in {path}")
    for name, n in by_category.most_common():
        print(f"  {n / total:6.1%}  {name}")
    print("functions with the most samples of their own:")
    for name, n in by_self.most_common(top):
        print(f"  {n / total:6.1%}  {name}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("profile", help="py-spy record --format raw output")
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args()
    summarise(args.profile, args.top)


if __name__ == "__main__":
    main()
