"""What the outside sends the fault tests' processes: signups (the public API, as a storefront
would) and signed `inventory_levels/update` webhooks (as Shopify would), many at once over HTTP."""

import asyncio
import json
import time
import uuid
from datetime import UTC, datetime, timedelta

import httpx

from ..notify.helpers import ITEM, LOCATION, PRODUCT, SHOP, VARIANT
from ..support import webhook_headers


def signup_request(email: str, variant: int = VARIANT) -> tuple[str, dict, dict]:
    body = {
        "intent": {
            "shopify_variant_id": variant,
            "shopify_product_id": PRODUCT,
            "channel": "email",
            "quantity": 1,
            "source": "api",
        },
        "customer": {"email": email},
        "product": {"title": "Linen Shirt", "variant_title": "Green / M"},
    }
    return "/api/v1/intents.json", body, {"X-Shopify-Shop-Domain": SHOP}


def level_webhook(
    available: int,
    *,
    item: int = ITEM,
    updated_at: datetime | None = None,
    webhook_id: str | None = None,
) -> tuple[str, bytes, dict]:
    """A signed inventory_levels/update: (path, body, headers). The same webhook_id is a re-delivery."""
    at = (updated_at or datetime.now(UTC)).isoformat()
    body = json.dumps(
        {
            "inventory_item_id": item,
            "location_id": LOCATION,
            "available": available,
            "updated_at": at,
            "admin_graphql_api_id": f"gid://shopify/InventoryLevel/{LOCATION}?inventory_item_id={item}",
        }
    ).encode()
    headers = webhook_headers(
        body,
        "inventory_levels/update",
        SHOP,
        webhook_id=webhook_id or uuid.uuid4().hex,
        event_id=webhook_id or uuid.uuid4().hex,
    )
    return "/webhooks/inventory_levels/update", body, headers


def post_restock(base_url: str, available: int, *, item: int = ITEM) -> int:
    path, body, headers = level_webhook(available, item=item)
    return httpx.post(base_url + path, content=body, headers=headers, timeout=30).status_code


def an_hour_ago(seconds: float = 0) -> datetime:
    return datetime.now(UTC) - timedelta(hours=1) + timedelta(seconds=seconds)


async def _send_all(
    requests: list[tuple[str, str, object, dict]], concurrency: int, timeout: float
) -> list[tuple]:
    """(base_url, path, json-or-bytes, headers) each; (status or exception name, seconds, request index)."""
    queue: asyncio.Queue = asyncio.Queue()
    for index, request in enumerate(requests):
        queue.put_nowait((index, request))
    results: list[tuple] = []
    async with httpx.AsyncClient(
        timeout=timeout, limits=httpx.Limits(max_connections=concurrency)
    ) as client:

        async def one_client():
            while not queue.empty():
                index, (base, path, body, headers) = queue.get_nowait()
                started = time.perf_counter()
                try:
                    if isinstance(body, bytes):
                        response = await client.post(base + path, content=body, headers=headers)
                    else:
                        response = await client.post(base + path, json=body, headers=headers)
                    outcome = response.status_code
                except httpx.HTTPError as exc:
                    outcome = type(exc).__name__
                results.append((outcome, time.perf_counter() - started, index))

        await asyncio.gather(*(one_client() for _ in range(concurrency)))
    return sorted(results, key=lambda r: r[2])


def send_all(
    requests: list[tuple[str, str, object, dict]], *, concurrency: int = 16, timeout: float = 30.0
) -> list[tuple]:
    return asyncio.run(_send_all(requests, concurrency, timeout))


async def _signups_for(
    bases: list[str],
    seconds: float,
    concurrency: int,
    rate: float | None,
    prefix: str,
    variant: int = VARIANT,
) -> list[tuple]:
    """New signups for `seconds`, spread over `bases`, from `concurrency` clients, paced to `rate` a
    second if given: (status or exception name, seconds taken, email, started at (epoch))."""
    results: list[tuple] = []
    deadline = time.monotonic() + seconds
    interval = concurrency / rate if rate else 0.0
    # Idle connections are dropped by the client before uvicorn's 5 s keep-alive timeout closes them
    # (else a request can race the server's close and read nothing: a client-side artefact).
    limits = httpx.Limits(max_connections=concurrency, keepalive_expiry=2.0)
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:

        async def one_client(number: int):
            count, next_at = 0, time.monotonic() + (interval * number / concurrency)
            while time.monotonic() < deadline:
                if interval:
                    await asyncio.sleep(max(0.0, next_at - time.monotonic()))
                    next_at += interval
                email = f"{prefix}-{number}-{count}@example.com"
                count += 1
                path, body, headers = signup_request(email, variant)
                started, wall = time.perf_counter(), time.time()
                try:
                    outcome = (
                        await client.post(
                            bases[count % len(bases)] + path, json=body, headers=headers
                        )
                    ).status_code
                except httpx.HTTPError as exc:
                    outcome = type(exc).__name__
                results.append((outcome, time.perf_counter() - started, email, wall))

        await asyncio.gather(*(one_client(n) for n in range(concurrency)))
    return results


def signups_for(
    bases: list[str],
    seconds: float,
    *,
    concurrency: int = 8,
    rate: float | None = None,
    prefix: str = "s",
    variant: int = VARIANT,
) -> list[tuple]:
    return asyncio.run(_signups_for(bases, seconds, concurrency, rate, prefix, variant))


if (
    __name__ == "__main__"
):  # a load generator of its own: python -m tests.faults.traffic OUT SECONDS CLIENTS RATE VARIANT BASE...
    import sys

    out, seconds, concurrency, rate, variant, *bases = sys.argv[1:]
    found = signups_for(
        bases,
        float(seconds),
        concurrency=int(concurrency),
        rate=float(rate),
        prefix="load",
        variant=int(variant),
    )
    with open(out, "w") as file:
        json.dump(found, file)
