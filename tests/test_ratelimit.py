"""Abuse limits on signups: per client address and per shop and contact, 429 with Retry-After,
nothing stored, and counted where every server process sees them."""

import json
from types import SimpleNamespace

import pytest
import redis
from sqlalchemy import func, select
from starlette.datastructures import Headers
from starlette.testclient import TestClient

from shopify_app.app import create_app
from shopify_app.db import session_scope
from shopify_app.models import Intent, IntentSource
from shopify_app.ratelimit import client_address, trusted_networks

from .processes import serving_processes
from .support import proxy_query

SHOP = "demo-shop.myshopify.com"
URL = "/api/v1/intents.json"


def body(email: str, variant: int = 1) -> str:
    return json.dumps(
        {
            "intent": {
                "shopify_variant_id": variant,
                "shopify_product_id": 2,
                "channel": "email",
                "quantity": 1,
                "source": "api",
            },
            "customer": {"email": email},
        }
    )


def stored(engine) -> int:
    with session_scope(engine) as session:
        return session.execute(select(func.count()).select_from(Intent)).scalar_one()


@pytest.fixture
def limited(settings):
    def make(**limits) -> TestClient:
        return TestClient(
            create_app(settings.model_copy(update=limits)), base_url="https://app.example.test"
        )

    return make


def test_per_address_limit(limited, engine, shop):
    with limited(SIGNUP_RATE_LIMIT="3/minute") as client:
        answers = [
            client.post(
                URL, content=body(f"s{i}@example.com"), headers={"X-Shopify-Shop-Domain": SHOP}
            )
            for i in range(4)
        ]
    assert [a.status_code for a in answers] == [201, 201, 201, 429]
    assert 1 <= int(answers[3].headers["retry-after"]) <= 60
    assert answers[3].json()["errors"][0].startswith("Too many signups")
    assert stored(engine) == 3


def test_the_largest_limits_fit_the_counters(limited, engine, shop):
    with limited(
        SIGNUP_RATE_LIMIT="999999999/second", SIGNUP_CONTACT_LIMIT="999999999/hour"
    ) as client:
        response = client.post(
            URL, content=body("big@example.com"), headers={"X-Shopify-Shop-Domain": SHOP}
        )
    assert response.status_code == 201, response.text


def test_per_contact_limit(limited, engine, shop):
    with limited(SIGNUP_CONTACT_LIMIT="2/hour") as client:

        def post(email: str, variant: int) -> int:
            headers = {"X-Shopify-Shop-Domain": SHOP}
            return client.post(URL, content=body(email, variant), headers=headers).status_code

        assert [post("Flood@Example.com", v) for v in (1, 2)] == [201, 201]
        assert post("flood@example.com", 3) == 429  # the same address, normalised
        assert post("other@example.com", 3) == 201
    assert stored(engine) == 3


def test_the_proxy_door_counts_each_shopper_not_shopifys_servers(limited, engine, shop):
    with limited(SIGNUP_RATE_LIMIT="2/minute") as client:

        def post(shopper: str, n: int) -> int:
            return client.post(
                f"/proxy/intents?{proxy_query(SHOP)}",
                headers={"X-Forwarded-For": shopper},
                data={
                    "shopify_variant_id": "1",
                    "shopify_product_id": "2",
                    "channel": "email",
                    "email": f"{shopper}-{n}@example.com",
                },
            ).status_code

        assert [post("203.0.113.7", n) for n in range(3)] == [201, 201, 429]
        assert [post("198.51.100.9", n) for n in range(2)] == [201, 201]


def test_forwarded_for_on_several_lines_is_one_list_so_a_spoofed_first_line_does_not_escape(
    settings, engine, shop
):
    """RFC 9110 5.3: field lines of one name combine, in order, into one comma-separated list. A
    proxy of ours that adds its own line after the client's cannot be bypassed by that line."""
    app = create_app(settings.model_copy(update={"SIGNUP_RATE_LIMIT": "2/minute"}))
    with TestClient(
        app, base_url="https://app.example.test", client=("127.0.0.1", 50000)
    ) as client:

        def post(n: int) -> int:
            headers = [
                ("X-Shopify-Shop-Domain", SHOP),
                ("Content-Type", "application/json"),
                ("X-Forwarded-For", f"6.6.6.{n}"),
                ("X-Forwarded-For", "198.51.100.2"),
            ]
            return client.post(URL, content=body(f"s{n}@example.com"), headers=headers).status_code

        assert [post(n) for n in range(3)] == [201, 201, 429]
    assert stored(engine) == 2


@pytest.mark.parametrize(
    ("peer", "forwarded", "door", "expected"),
    [
        ("203.0.113.1", "", IntentSource.api, "203.0.113.1"),
        (
            "203.0.113.1",
            "6.6.6.6",
            IntentSource.api,
            "203.0.113.1",
        ),  # not our proxy: header not believed
        (
            "127.0.0.1",
            "6.6.6.6, 198.51.100.2",
            IntentSource.api,
            "198.51.100.2",
        ),  # our proxy appended the client
        ("127.0.0.1", "", IntentSource.api, "127.0.0.1"),
        (
            "35.1.1.1",
            "203.0.113.7",
            IntentSource.proxy,
            "203.0.113.7",
        ),  # Shopify connected directly
        ("35.1.1.1", "6.6.6.6, 203.0.113.7", IntentSource.proxy, "203.0.113.7"),
        (
            "127.0.0.1",
            "203.0.113.7, 35.1.1.1",
            IntentSource.proxy,
            "203.0.113.7",
        ),  # through our proxy
        ("35.1.1.1", "", IntentSource.proxy, None),  # no shopper address: contact limit only
    ],
)
def test_client_address(peer, forwarded, door, expected):
    request = SimpleNamespace(
        client=SimpleNamespace(host=peer), headers=Headers({"x-forwarded-for": forwarded})
    )
    assert client_address(request, trusted_networks("127.0.0.1"), door=door) == expected


def test_client_address_reads_every_line_of_forwarded_for():
    headers = Headers(
        raw=[(b"x-forwarded-for", b"6.6.6.6"), (b"x-forwarded-for", b"203.0.113.7, 35.1.1.1")]
    )
    request = SimpleNamespace(client=SimpleNamespace(host="127.0.0.1"), headers=headers)
    assert (
        client_address(request, trusted_networks("127.0.0.1"), door=IntentSource.proxy)
        == "203.0.113.7"
    )
    assert (
        client_address(request, trusted_networks("127.0.0.1"), door=IntentSource.api) == "35.1.1.1"
    )


def _redis_up() -> bool:
    try:
        return redis.Redis(host="127.0.0.1", port=6379, socket_connect_timeout=0.5).ping()
    except redis.RedisError:
        return False


@pytest.mark.slow
@pytest.mark.parametrize("store", ["database", "redis"])
def test_limits_hold_across_two_server_processes(store, database_url, engine, settings, shop):
    if store == "redis" and not _redis_up():
        pytest.skip("no Redis on 127.0.0.1:6379")
    limits = {"SIGNUP_CONTACT_LIMIT": "5/hour", "SIGNUP_RATE_LIMIT": "1000/minute"}
    if store == "redis":
        limits["REDIS_URL"] = "redis://127.0.0.1:6379/15"
        redis.Redis(host="127.0.0.1", port=6379, db=15).flushdb()
    with serving_processes(database_url, **limits) as clients:
        codes = [
            clients[i % 2]
            .post(
                URL,
                content=body("both@example.com", 100 + i),
                headers={"X-Shopify-Shop-Domain": SHOP, "Content-Type": "application/json"},
            )
            .status_code
            for i in range(8)
        ]
    assert codes == [201] * 5 + [429] * 3
    assert stored(engine) == 5


def test_concurrent_increments_share_statements_and_each_gets_its_own_count(engine, database_url):
    import asyncio

    from shopify_app.db import make_async_engine
    from shopify_app.ratelimit import DatabaseStorage

    async def work():
        async_engine = make_async_engine(database_url)
        storage = DatabaseStorage(engine, async_engine)
        try:
            counts = await asyncio.gather(
                *(storage.incr("LIMITER/k/5/1/minute", 60) for _ in range(40)),
                storage.incr("LIMITER/other/5/1/minute", 60),
            )
            return counts, await storage.get("LIMITER/k/5/1/minute")
        finally:
            if async_engine is not None:
                await async_engine.dispose()

    counts, stored = asyncio.run(work())
    assert sorted(counts[:40]) == list(range(1, 41)) and counts[40] == 1 and stored == 40
