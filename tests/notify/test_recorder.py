"""The outcome recorder (notify/recorder.py): what a kill can re-send is bounded by its places,
and a database that refuses a group for a moment loses no record."""

import asyncio

import pytest
from sqlalchemy.exc import OperationalError

from shopify_app.notify import recorder as recorder_module
from shopify_app.notify.attempts import Outcome
from shopify_app.notify.recorder import GROUP, OutcomeRecorder, places


def outcome(n: int) -> Outcome:
    return Outcome(notification_id=n, intent_id=n, attempt=1, outcome="sent")


def test_sends_wait_for_places_while_the_database_is_slow():
    async def scenario():
        release = asyncio.Event()
        recorded: list[int] = []

        async def slow_record(group):
            await release.wait()
            recorded.extend(o.notification_id for o in group)

        recorder = OutcomeRecorder(slow_record, limit=10)
        started = 0

        async def send(n):
            nonlocal started
            await recorder.acquire()
            started += 1
            recorder.add(outcome(n))

        tasks = [asyncio.create_task(send(n)) for n in range(25)]
        await asyncio.sleep(0.3)
        assert started == 10  # the rest wait: at most `limit` sent without a record
        release.set()
        await asyncio.gather(*tasks)
        await recorder.close()
        assert sorted(recorded) == list(range(25))

    asyncio.run(scenario())


def test_a_group_refused_for_a_moment_is_recorded_again(monkeypatch):
    monkeypatch.setattr(recorder_module, "RETRY_SECONDS", 5.0)

    async def scenario():
        calls, recorded = [], []

        async def flaky_record(group):
            calls.append(len(group))
            if len(calls) <= 2:
                raise OperationalError("INSERT", {}, Exception("connection refused"))
            recorded.extend(group)

        recorder = OutcomeRecorder(flaky_record, limit=places(4, 1))
        for n in range(GROUP):
            await recorder.acquire()
            recorder.add(outcome(n))
        await recorder.close()
        assert len(recorded) == GROUP and calls == [GROUP, GROUP, GROUP]

    asyncio.run(scenario())


def test_a_value_the_database_refuses_is_not_retried():
    async def scenario():
        async def refuse(group):
            raise ValueError("bad row")

        recorder = OutcomeRecorder(refuse, limit=4)
        await recorder.acquire()
        recorder.add(outcome(1))
        with pytest.raises(ValueError, match="bad row"):
            await recorder.close()
        for _ in range(8):  # a failed recorder no longer holds sends back
            await asyncio.wait_for(recorder.acquire(), 1)

    asyncio.run(scenario())
