import json

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import select

from shopify_app import inventory_deliveries
from shopify_app.db import session_scope
from shopify_app.models import InventoryLevel, Job, WebhookDelivery

from ..support import cases, webhook_headers
from .strategies import EXAMPLES, INVENTORY_LEVEL, post, shaped, tally

SHOP = "demo-shop.myshopify.com"
ITEM, LOCATION = 808950810, 905684977


def deliver(
    client, available, updated_at, *, webhook_id, item=ITEM, shop=SHOP, body: bytes | None = None
):
    body = (
        body
        if body is not None
        else json.dumps(
            {
                "inventory_item_id": item,
                "location_id": LOCATION,
                "available": available,
                "updated_at": updated_at,
            }
        ).encode()
    )
    return client.post(
        "/webhooks/inventory_levels/update",
        content=body,
        headers=webhook_headers(body, "inventory_levels/update", shop, webhook_id=webhook_id),
    )


def apply_recorded(engine) -> int:
    """What the worker does first each round: apply the recorded deliveries."""
    with engine.begin() as connection:
        return inventory_deliveries.apply_pending(connection)


def stored(engine) -> tuple[list[tuple], list[tuple]]:
    apply_recorded(engine)
    with session_scope(engine) as session:
        levels = [
            (lv.inventory_item_id, lv.location_id, lv.available)
            for lv in session.execute(select(InventoryLevel)).scalars()
        ]
        jobs = [
            (j.kind, j.key, json.loads(j.payload)) for j in session.execute(select(Job)).scalars()
        ]
    return levels, jobs


def test_records_the_level_and_enqueues_a_job_without_calling_shopify(
    client, engine, shop, fake_shopify
):
    response = deliver(client, 7, "2026-11-22T12:00:00-05:00", webhook_id="w1")
    assert response.status_code == 200
    levels, jobs = stored(engine)
    assert levels == [(ITEM, LOCATION, 7)]
    [(kind, _, payload)] = jobs
    with engine.connect() as connection:
        received = connection.execute(select(WebhookDelivery.received_at)).scalar_one()
    # with when the webhook reached the app: its alerts are timed from it
    assert (kind, payload) == (
        "inventory",
        {"inventory_item_id": ITEM, "received_at": received.isoformat()},
    )
    assert fake_shopify.graphql_calls == []  # the worker asks Shopify, never the webhook


def test_an_older_update_never_moves_stock_back(client, engine, shop):
    assert deliver(client, 0, "2026-11-22T12:10:00Z", webhook_id="newer").status_code == 200
    assert deliver(client, 9, "2026-11-22T12:00:00Z", webhook_id="older").status_code == 200
    assert stored(engine)[0] == [(ITEM, LOCATION, 0)]
    assert deliver(client, 3, "2026-11-22T12:20:00Z", webhook_id="later").status_code == 200
    levels, jobs = stored(engine)
    assert levels == [(ITEM, LOCATION, 3)] and len(jobs) == 1  # pending jobs for one item coalesce


@pytest.mark.slow
def test_a_redelivery_is_applied_once(client, engine, shop):
    for _ in range(3):
        assert deliver(client, 4, "2026-11-22T12:00:00Z", webhook_id="same").status_code == 200
    with session_scope(engine) as session:
        assert len(session.execute(select(WebhookDelivery)).all()) == 1
    assert stored(engine)[0] == [(ITEM, LOCATION, 4)]


@pytest.mark.parametrize(
    "payload",
    [
        {"location_id": LOCATION, "available": 4},  # no item
        {"inventory_item_id": "x", "location_id": LOCATION, "available": 4},
        {"inventory_item_id": ITEM, "available": 4},  # no location
        [1, 2, 3],
    ],
)
def test_a_level_that_names_no_item_and_location_changes_nothing(payload, client, engine, shop):
    response = deliver(client, None, None, webhook_id="odd", body=json.dumps(payload).encode())
    assert response.status_code == 200
    assert stored(engine) == ([], [])


def test_an_unknown_shop_changes_nothing(client, engine, shop):
    assert (
        deliver(
            client, 4, "2026-11-22T12:00:00Z", webhook_id="w", shop="other-shop.myshopify.com"
        ).status_code
        == 200
    )
    assert stored(engine) == ([], [])


def test_a_bad_hmac_is_refused_before_anything_is_read(client, engine, shop):
    body = json.dumps({"inventory_item_id": ITEM, "location_id": LOCATION, "available": 4}).encode()
    headers = webhook_headers(
        body, "inventory_levels/update", SHOP, webhook_id="forged", secret="not-the-secret"
    )
    assert (
        client.post("/webhooks/inventory_levels/update", content=body, headers=headers).status_code
        == 401
    )
    assert stored(engine) == ([], [])


# -- recorded in the request, applied by the worker in batches ----------------------------------


def delivery_rows(engine) -> list[tuple]:
    with session_scope(engine) as session:
        return [
            (d.webhook_id, d.state, d.payload is not None)
            for d in session.execute(select(WebhookDelivery).order_by(WebhookDelivery.id)).scalars()
        ]


def pending_jobs(engine) -> list[str]:
    with session_scope(engine) as session:
        return [
            j.key for j in session.execute(select(Job).where(Job.status == "pending")).scalars()
        ]


def level(engine, item=ITEM, location=LOCATION):
    with session_scope(engine) as session:
        row = session.get(InventoryLevel, (1, item, location))
        return None if row is None else row.available


def test_the_request_records_the_delivery_and_the_worker_applies_it(client, engine, shop):
    assert deliver(client, 7, "2026-11-22T12:00:00Z", webhook_id="w1").status_code == 200
    assert delivery_rows(engine) == [("w1", "pending", True)]
    assert level(engine) is None and pending_jobs(engine) == []
    assert apply_recorded(engine) == 1
    assert delivery_rows(engine) == [
        ("w1", "applied", False)
    ]  # the payload is dropped once applied
    assert level(engine) == 7 and pending_jobs(engine) == [f"1:{ITEM}"]
    assert apply_recorded(engine) == 0


def test_redelivered_and_older_updates_never_win_in_one_batch(client, engine, shop):
    deliver(client, 0, "2026-11-22T12:10:00Z", webhook_id="newer")
    deliver(client, 9, "2026-11-22T12:00:00Z", webhook_id="older")
    deliver(client, 9, "2026-11-22T12:00:00Z", webhook_id="older")  # the same delivery again
    deliver(client, 8, "2026-11-22T12:05:00-05:00", webhook_id="older-tz")  # 17:05Z is newer: wins
    deliver(client, 5, "2026-11-22T11:59:00Z", webhook_id="oldest")
    assert apply_recorded(engine) == 4
    assert level(engine) == 8


def test_redelivered_and_older_updates_never_win_across_batches(client, engine, shop):
    headers = lambda body, webhook_id: webhook_headers(  # noqa: E731
        body, "inventory_levels/update", SHOP, webhook_id=webhook_id, event_id="restock"
    )
    body = json.dumps(
        {
            "inventory_item_id": ITEM,
            "location_id": LOCATION,
            "available": 4,
            "updated_at": "2026-11-22T12:20:00Z",
        }
    ).encode()
    assert (
        client.post(
            "/webhooks/inventory_levels/update", content=body, headers=headers(body, "a")
        ).status_code
        == 200
    )
    assert apply_recorded(engine) == 1 and level(engine) == 4
    deliver(client, 0, "2026-11-22T12:30:00Z", webhook_id="sold-out")
    assert apply_recorded(engine) == 1 and level(engine) == 0
    # The restock event again (another delivery id, same event id), then an older update: neither wins.
    assert (
        client.post(
            "/webhooks/inventory_levels/update", content=body, headers=headers(body, "b")
        ).status_code
        == 200
    )
    deliver(client, 6, "2026-11-22T12:25:00Z", webhook_id="late")
    apply_recorded(engine)
    assert level(engine) == 0
    assert [w for w, *_ in delivery_rows(engine)] == ["a", "sold-out", "late"]


def test_an_equal_updated_at_goes_to_the_later_delivery_as_one_by_one_would(client, engine, shop):
    deliver(client, 1, "2026-11-22T12:00:00Z", webhook_id="first")
    deliver(client, 2, "2026-11-22T12:00:00Z", webhook_id="second")
    apply_recorded(engine)
    assert level(engine) == 2


def test_a_burst_for_one_item_leaves_one_pending_job(client, engine, shop):
    for n in range(60):
        body = json.dumps(
            {
                "inventory_item_id": ITEM,
                "location_id": LOCATION + n % 3,
                "available": n,
                "updated_at": f"2026-11-22T12:{n:02d}:00Z",
            }
        ).encode()
        assert deliver(client, None, None, webhook_id=f"b{n}", body=body).status_code == 200
        if n % 25 == 24:  # some applied while the burst goes on, in batches of ten
            with engine.begin() as connection:
                inventory_deliveries.apply_pending(connection, limit=10)
    while apply_recorded(engine):
        pass
    assert pending_jobs(engine) == [f"1:{ITEM}"]
    assert [level(engine, location=LOCATION + k) for k in range(3)] == [57, 58, 59]


def test_deliveries_that_say_nothing_usable_are_marked_skipped(client, engine, shop):
    deliver(
        client, 4, "2026-11-22T12:00:00Z", webhook_id="other-shop", shop="other-shop.myshopify.com"
    )
    deliver(client, None, None, webhook_id="no-item", body=b'{"location_id": 1, "available": 4}')
    deliver(
        client,
        None,
        None,
        webhook_id="float",
        body=b'{"inventory_item_id": 1, "location_id": 1, "available": 4.5}',
    )
    apply_recorded(engine)
    assert delivery_rows(engine) == [
        ("other-shop", "skipped", True),
        ("no-item", "skipped", True),
        ("float", "skipped", True),
    ]
    assert level(engine) is None and pending_jobs(engine) == []


def test_levels_are_coerced_to_their_columns(client, engine, shop):
    deliver(client, 2**31, "9999-12-31T23:59:59-14:00", webhook_id="huge")
    apply_recorded(engine)
    assert level(engine) == 2**31 - 1
    # No usable updated_at: X-Shopify-Triggered-At instead, the same as the first; a tie goes to the later delivery.
    deliver(client, -(2**40), "0001-01-01T00:00:00+14:00", webhook_id="negative")
    apply_recorded(engine)
    assert level(engine) == -(2**31)


def test_a_delivery_that_cannot_be_applied_is_marked_failed_and_not_retried(
    client, engine, settings, shop, monkeypatch, caplog
):
    real_parse = inventory_deliveries.parse

    def parse(payload, fallback):  # a value past what coercion guards, as a bug would let through
        update, why = real_parse(payload, fallback)
        if update is not None and update.available == 13:
            update = inventory_deliveries.LevelUpdate(
                2**64, update.location_id, 13, update.updated_at
            )
        return update, why

    monkeypatch.setattr(inventory_deliveries, "parse", parse)
    deliver(client, 3, "2026-11-22T12:00:00Z", webhook_id="good", item=ITEM)
    deliver(client, 13, "2026-11-22T12:00:00Z", webhook_id="bad", item=ITEM + 1)
    deliver(client, 5, "2026-11-22T12:00:00Z", webhook_id="good-too", item=ITEM + 2)
    with caplog.at_level("WARNING"):
        assert inventory_deliveries.apply_recorded(engine) == 3
    assert delivery_rows(engine) == [
        ("good", "applied", False),
        ("bad", "failed", True),
        ("good-too", "applied", False),
    ]
    assert level(engine) == 3 and level(engine, item=ITEM + 2) == 5
    assert any("marked failed" in r.getMessage() and r.webhook_id == "bad" for r in caplog.records)
    assert inventory_deliveries.apply_recorded(engine) == 0  # never retried


def test_the_200_is_sent_only_once_the_delivery_is_committed(settings, engine, shop):
    import asyncio

    import httpx
    from sqlalchemy.exc import OperationalError

    from shopify_app.app import create_app
    from webhooks.receive import intake

    body = json.dumps({"inventory_item_id": ITEM, "location_id": LOCATION, "available": 1}).encode()

    def recorded() -> int:
        return len(delivery_rows(engine))

    async def scenario():
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            writer = intake(app)
            real_run, gate, writing = writer._insert, asyncio.Event(), asyncio.Event()

            async def held(rows):
                writing.set()
                await gate.wait()
                return await real_run(rows)

            writer._insert = held
            transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
            async with httpx.AsyncClient(
                transport=transport, base_url="https://app.example.test"
            ) as http:
                post = lambda webhook_id: http.post(  # noqa: E731
                    "/webhooks/inventory_levels/update",
                    content=body,
                    headers=webhook_headers(
                        body, "inventory_levels/update", SHOP, webhook_id=webhook_id
                    ),
                )
                answer = asyncio.create_task(post("held"))
                await writing.wait()
                await asyncio.sleep(0.1)
                assert (
                    not answer.done() and recorded() == 0
                )  # no answer while the row is not committed
                gate.set()
                assert (await answer).status_code == 200
                assert recorded() == 1  # committed: another connection sees it

                async def broken(rows):
                    raise OperationalError("INSERT", {}, Exception("server closed the connection"))

                writer._insert = broken
                lost = await post("lost")
                assert (
                    lost.status_code == 503 and lost.headers["retry-after"]
                )  # not recorded: Shopify must retry
                assert recorded() == 1

    asyncio.run(scenario())


# -- properties ----------------------------------------------------------------------------------


def test_any_shaped_payload_is_answered_and_applied(backend, client, engine, shop):
    @EXAMPLES
    @given(payload=shaped(INVENTORY_LEVEL))
    def check(payload):
        response = post(client, "inventory_levels/update", payload)
        tally(f"webhook inventory_levels/update: shaped [{backend}]", response.status_code)
        assert response.status_code == 200
        assert apply_recorded(engine) == 1
        with session_scope(engine) as session:
            assert session.execute(
                select(WebhookDelivery.state).order_by(WebhookDelivery.id.desc())
            ).first()[0] in ("applied", "skipped")
            for row in session.execute(select(InventoryLevel)).scalars():
                assert 1 <= row.inventory_item_id < 2**63 and 1 <= row.location_id < 2**63
                assert row.available is None or -(2**31) <= row.available < 2**31

    check()


def test_the_newest_update_wins_whatever_the_order_and_batching(backend, client, engine, shop):
    items = iter(range(10**9, 2 * 10**9))

    @hypothesis_settings(
        max_examples=cases(60),
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
    )
    @given(
        updates=st.lists(
            st.tuples(st.integers(0, 9), st.integers(-3, 40)), min_size=1, max_size=10
        ),
        batch=st.integers(1, 4),
    )
    def check(updates, batch):
        item = next(items)
        tally(f"webhook inventory_levels/update: order and batching [{backend}]", 200)
        for n, (minute, available) in enumerate(updates):
            body = json.dumps(
                {
                    "inventory_item_id": item,
                    "location_id": LOCATION,
                    "available": available,
                    "updated_at": f"2026-11-22T12:0{minute}:00Z",
                }
            ).encode()
            assert (
                deliver(client, None, None, webhook_id=f"{item}-{n}", body=body).status_code == 200
            )
        while True:
            with engine.begin() as connection:
                if not inventory_deliveries.apply_pending(connection, limit=batch):
                    break
        # Applied one by one in arrival order, the last of the latest updated_at would stand.
        expected = max(enumerate(updates), key=lambda pair: (pair[1][0], pair[0]))[1][1]
        assert level(engine, item=item) == expected
        assert pending_jobs(engine).count(f"1:{item}") == 1

    check()


def test_two_workers_apply_disjoint_batches(backend, client, engine, shop):
    if backend == "sqlite":
        pytest.skip("SQLite runs one worker process")
    for n in range(6):
        deliver(client, n, f"2026-11-22T12:0{n}:00Z", webhook_id=f"w{n}", item=ITEM + n)
    with engine.begin() as first:
        assert inventory_deliveries.apply_pending(first, limit=4) == 4
        with engine.begin() as second:  # while the first holds its rows: the others, not a wait
            assert inventory_deliveries.apply_pending(second, limit=4) == 2
    assert [state for _, state, _ in delivery_rows(engine)] == ["applied"] * 6
    assert sorted(pending_jobs(engine)) == sorted(f"1:{ITEM + n}" for n in range(6))
