"""Group commit (shopify_app/group_insert.py): concurrent rows share statements, each caller learns
its own row's fate only after the commit, and one bad row fails no other."""

import asyncio
import uuid

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from shopify_app.db import make_async_engine
from shopify_app.group_insert import GroupInsert
from shopify_app.models import WebhookDelivery, utcnow

deliveries = WebhookDelivery.__table__


def row(webhook_id: str, event_id: str | None = None, **overrides) -> dict:
    return {
        "shop_domain": "demo-shop.myshopify.com",
        "topic": "inventory_levels/update",
        "webhook_id": webhook_id,
        "event_id": event_id,
        "triggered_at": None,
        "received_at": utcnow(),
        "state": "pending",
        "payload": "{}",
        **overrides,
    }


def stored(engine) -> list[str]:
    with engine.connect() as connection:
        return sorted(connection.execute(select(deliveries.c.webhook_id)).scalars())


async def with_writer(engine, database_url, work):
    async_engine = make_async_engine(database_url)
    try:
        writer = GroupInsert(
            deliveries, "webhook_id", unique=("event_id",), engine=engine, async_engine=async_engine
        )
        statements = []
        real_run = writer._insert

        async def counted(rows):
            statements.append(len(rows))
            return await real_run(rows)

        writer._insert = counted
        return await work(writer), statements
    finally:
        if async_engine is not None:
            await async_engine.dispose()


def test_concurrent_rows_share_statements_and_duplicates_are_reported(engine, database_url):
    async def work(writer):
        first = await asyncio.gather(*(writer.insert(row(f"w{n}", f"e{n}")) for n in range(100)))
        again = await asyncio.gather(
            writer.insert(row("w1")),  # the same delivery
            writer.insert(row("x1", "e2")),  # the same event, another delivery id
            writer.insert(row("x2", "e-new")),
            writer.insert(row("x3", "e-new")),  # a race within one batch
        )
        return first, again

    (first, again), statements = asyncio.run(with_writer(engine, database_url, work))
    assert first == [True] * 100 and again == [False, False, True, False]
    assert (
        len(statements) < 20 and sum(statements) < 104
    )  # many rows per statement; repeats not written twice
    assert len(stored(engine)) == 101


def test_a_bad_row_fails_alone(engine, database_url):
    async def work(writer):
        return await asyncio.gather(
            writer.insert(row("good-1")),
            writer.insert(row("bad", topic=None)),
            writer.insert(row("good-2")),
            return_exceptions=True,
        )

    (outcomes, _) = asyncio.run(with_writer(engine, database_url, work))
    assert outcomes[0] is True and outcomes[2] is True and isinstance(outcomes[1], Exception)
    assert stored(engine) == ["good-1", "good-2"]


def test_a_database_failure_fails_every_row_of_the_batch(engine, database_url):
    async def work(writer):
        async def broken(rows):
            raise OperationalError("INSERT", {}, Exception("the database is restarting"))

        writer._insert = broken
        return await asyncio.gather(
            *(writer.insert(row(uuid.uuid4().hex)) for _ in range(5)), return_exceptions=True
        )

    (outcomes, _) = asyncio.run(with_writer(engine, database_url, work))
    assert all(isinstance(o, OperationalError) for o in outcomes)
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(deliveries)).scalar_one() == 0


@pytest.mark.parametrize("flights", [1, 3])
def test_no_more_statements_in_flight_than_allowed(engine, database_url, flights):
    async def work(writer):
        writer.flights, writer.max_rows = flights, 5
        busy, most = 0, 0
        real_run = writer._insert

        async def tracked(rows):
            nonlocal busy, most
            busy += 1
            most = max(most, busy)
            try:
                await asyncio.sleep(0.01)
                return await real_run(rows)
            finally:
                busy -= 1

        writer._insert = tracked
        await asyncio.gather(*(writer.insert(row(f"f{n}")) for n in range(60)))
        return most

    most, _ = asyncio.run(with_writer(engine, database_url, work))
    assert most == flights
