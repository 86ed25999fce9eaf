""" "Notify now" under real concurrency (issue 14 item 8): a real server (uvicorn on 127.0.0.1), eight
requests for one signup released at one moment by a barrier, each on its own connection, mixing the
admin's `POST /app/api/intents/{id}/notify` and the merchant API's `notify_intent` (and deletes from
both doors). Whatever the interleaving, one request wins and writes one alert, the others are told
why not (422, or 404 for a signup deleted meanwhile), none answers 500; the worker then sends
exactly one message per winning signup. Repeated many times, on SQLite and on PostgreSQL."""

import threading
from collections import Counter

import httpx
import pytest
from sqlalchemy import select

from shopify_app.app import create_app
from shopify_app.models import Intent

from ..admin.tokens import bearer
from ..support import serve_in_thread
from .helpers import (
    LOCATION,
    LOCATION2,
    drain,
    level_webhook,
    recording_channels,
    run,
    setup_shop,
    signup,
)

ROUNDS = 12
AT_ONCE = 8
MERCHANT = "/api/v1/external/intents"


@pytest.fixture
def racing(settings):
    """Settings without the merchant API's rate limit in the way of many rounds."""
    return settings.model_copy(update={"MERCHANT_API_RATE_LIMIT": "100000/minute"})


@pytest.fixture
def server(racing, engine, fake_shopify):
    setup_shop(engine, racing, fake_shopify, automatic_sending=False)
    with (
        serve_in_thread(create_app(racing, run_worker=False)) as url,
        httpx.Client(base_url=url, timeout=60) as http,
    ):
        key = http.post("/app/api/api-key", headers=bearer()).json()["api_key"]
        yield http, key


def at_once(base_url: str, calls: list[tuple[str, str, dict]]) -> list[httpx.Response]:
    """Every (method, path, options) from a thread and connection of its own, all sent together."""
    barrier, answers, failures = threading.Barrier(len(calls)), [None] * len(calls), []

    def send(n: int, method: str, path: str, options: dict) -> None:
        try:
            with httpx.Client(base_url=base_url, timeout=60) as http:
                http.get("/healthz")  # connected before the barrier: the requests leave together
                barrier.wait(timeout=30)
                answers[n] = http.request(method, path, **options)
        except Exception as exc:
            failures.append(exc)

    threads = [threading.Thread(target=send, args=(n, *call)) for n, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(90)
    assert not failures, failures
    return answers


def notify_calls(intent_id: int, key: str, **options) -> list[tuple[str, str, dict]]:
    """Half from the admin, half from the merchant API, interleaved."""
    admin = (
        "POST",
        f"/app/api/intents/{intent_id}/notify",
        {"headers": bearer(), "json": options or None},
    )
    merchant = (
        "POST",
        f"{MERCHANT}/notify_intent",
        {"headers": {"X-Auth-Token": key}, "json": {"id": intent_id, **options}},
    )
    return [admin if n % 2 == 0 else merchant for n in range(AT_ONCE)]


def send_everything(settings, engine) -> Counter:
    """What one worker sends of all that is due: messages per address."""
    channels = recording_channels()
    run(drain(settings, engine, channels))
    return Counter(m.to for channel in channels.values() for m in channel.sent)


@pytest.mark.slow
def test_eight_concurrent_notify_nows_for_a_waiting_signup_send_one_alert(server, racing, engine):
    http, key = server
    for n in range(ROUNDS):
        intent_id = signup(http, email=f"race{n}@example.com")["id"]
        statuses = sorted(
            r.status_code for r in at_once(str(http.base_url), notify_calls(intent_id, key))
        )
        assert statuses == [200] + [422] * (AT_ONCE - 1), (n, statuses)
    assert send_everything(racing, engine) == {f"race{n}@example.com": 1 for n in range(ROUNDS)}


@pytest.mark.slow
def test_eight_concurrent_notify_nows_for_a_held_alert_release_it_once(
    server, racing, engine, fake_shopify
):
    http, key = server
    ids = [signup(http, email=f"held{n}@example.com")["id"] for n in range(ROUNDS)]
    [item] = fake_shopify.items.values()
    item.levels = {LOCATION: ROUNDS, LOCATION2: 0}
    level_webhook(http, ROUNDS)
    assert send_everything(racing, engine) == {}  # decided, held for the merchant
    for n, intent_id in enumerate(ids):
        statuses = sorted(
            r.status_code for r in at_once(str(http.base_url), notify_calls(intent_id, key))
        )
        assert statuses == [200] + [422] * (AT_ONCE - 1), (n, statuses)
    assert send_everything(racing, engine) == {f"held{n}@example.com": 1 for n in range(ROUNDS)}


@pytest.mark.slow
def test_eight_concurrent_resends_of_a_notified_signup_send_one_more_alert(server, racing, engine):
    """A merchant's double click on "send again" is one resend, not two."""
    http, key = server
    ids = [signup(http, email=f"again{n}@example.com")["id"] for n in range(ROUNDS)]
    for intent_id in ids:
        assert (
            http.post(f"/app/api/intents/{intent_id}/notify", headers=bearer()).status_code == 200
        )
    assert send_everything(racing, engine) == {f"again{n}@example.com": 1 for n in range(ROUNDS)}
    for n, intent_id in enumerate(ids):
        calls = notify_calls(intent_id, key, allow_resend=True)
        statuses = sorted(r.status_code for r in at_once(str(http.base_url), calls))
        assert statuses == [200] + [422] * (AT_ONCE - 1), (n, statuses)
    assert send_everything(racing, engine) == {f"again{n}@example.com": 1 for n in range(ROUNDS)}


@pytest.mark.slow
def test_deletes_racing_notify_nows_never_answer_500_and_one_side_wins(server, racing, engine):
    http, key = server
    notified = set()
    for n in range(ROUNDS):
        intent_id = signup(http, email=f"either{n}@example.com")["id"]
        admin_notify, merchant_notify = notify_calls(intent_id, key)[:2]
        admin_delete = ("DELETE", f"/app/api/intents/{intent_id}", {"headers": bearer()})
        merchant_delete = (
            "DELETE",
            f"{MERCHANT}/bulk_destroy",
            {"headers": {"X-Auth-Token": key}, "json": {"intent_ids": [intent_id]}},
        )
        calls = [admin_notify, admin_delete, merchant_notify, merchant_delete] * (AT_ONCE // 4)
        answers = at_once(str(http.base_url), calls)
        kinds = [
            ("notify" if c[0] == "POST" else "delete", a.status_code)
            for c, a in zip(calls, answers, strict=False)
        ]
        assert all(status < 500 for _, status in kinds), (n, kinds)
        won_notify = [s for kind, s in kinds if kind == "notify" and s == 200]
        with engine.connect() as connection:
            left = connection.execute(
                select(Intent.__table__.c.status).where(Intent.__table__.c.id == intent_id)
            ).all()
        if left:  # the alert won: one notify succeeded, every delete was refused
            assert left == [("notified",)] and len(won_notify) == 1, (n, kinds)
            assert {s for kind, s in kinds if kind == "delete"} == {422}, (n, kinds)
            notified.add(f"either{n}@example.com")
        else:  # the delete won: no notify succeeded
            assert won_notify == [] and {s for kind, s in kinds if kind == "notify"} <= {
                404,
                422,
            }, (n, kinds)
    assert send_everything(racing, engine) == dict.fromkeys(notified, 1)
