"""Fault: the worker SIGKILLed at random moments, five times, during a 10,000-message email fan-out
(issue 10, items 1 and 4). A `serve` process takes the restock webhook; one `shopify-app worker`
at a time sends; each is killed and a new one started at once; WORKER_LEASE_SECONDS=5, so a dead
worker's claimed rows are taken over five seconds later. Every message is counted per recipient at
a real SMTP server."""

import random
import time
from collections import Counter

import httpx
import pytest

from shopify_app.notify.recorder import places

from ..fakes.smtp import SmtpServer
from ..faults.seed import provider_settings
from ..notify.helpers import ITEM, LOCATION, SHOP
from ..processes import answers, serve_process, stop_process, wait_for, worker_process
from ..support import free_port, webhook_headers
from .seed import shop_with_sold_out_variants, statuses, waiting_signups

MESSAGES, KILLS = 10_000, 5


def restock_webhook(
    base_url: str, available: int, *, item: int = ITEM, webhook_id: str | None = None
) -> int:
    import json
    import uuid

    body = json.dumps(
        {
            "inventory_item_id": item,
            "location_id": LOCATION,
            "available": available,
            "updated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
    ).encode()
    headers = webhook_headers(
        body, "inventory_levels/update", SHOP, webhook_id=webhook_id or uuid.uuid4().hex
    )
    return httpx.post(
        f"{base_url}/webhooks/inventory_levels/update", content=body, headers=headers, timeout=10
    ).status_code


@pytest.mark.timeout(600)
def test_worker_killed_five_times_in_a_10000_message_fan_out(
    postgres_only, engine, settings, figures, tmp_path
):
    with SmtpServer() as smtp:
        smtp.recorder.delay = (
            0.02  # the provider's pace: SEND_CONCURRENCY / 0.02 s = at most 400 messages/s
        )
        config = provider_settings(
            settings,
            smtp=smtp,
            WORKER_LEASE_SECONDS=5.0,
            SEND_CONCURRENCY=8,
            WORKER_POLL_INTERVAL=0.05,
        )
        shop_id = shop_with_sold_out_variants(engine, settings)
        emails = [f"s{n}@example.com" for n in range(MESSAGES)]
        waiting_signups(engine, shop_id, emails)
        port = free_port()
        log = open(tmp_path / "processes.log", "w")  # noqa: SIM115 (closed in the finally below)
        server = serve_process(config, port, log_to=log, WORKER_IN_PROCESS="false")
        received = smtp.recorder.received
        lives: list[tuple[float, float]] = []  # (started, killed) of each killed worker
        try:
            assert wait_for(lambda: answers(f"http://127.0.0.1:{port}"), 30), "serve did not start"
            started = time.monotonic()
            assert restock_webhook(f"http://127.0.0.1:{port}", MESSAGES) == 200
            for _ in range(KILLS):
                before = len(received)
                worker = worker_process(config, log_to=log)
                born = time.monotonic()
                try:
                    assert wait_for(lambda before=before: len(received) > before + 5, 60), (
                        "the worker sent nothing"
                    )
                    time.sleep(random.uniform(0.5, 3.0))  # a random moment of its sending
                    worker.kill()
                    worker.wait(10)
                    lives.append((born, time.monotonic()))
                finally:
                    if worker.poll() is None:
                        worker.kill()
            worker = worker_process(config, log_to=log)
            try:
                assert wait_for(lambda: statuses(engine) == {"sent": MESSAGES}, 240), statuses(
                    engine
                )
                elapsed = time.monotonic() - started
            finally:
                stop_process(worker)
        finally:
            stop_process(server)
            log.close()

        counts = Counter(m.recipients[0] for m in received)
        lost = set(emails) - set(counts)
        duplicates = sum(n - 1 for n in counts.values())
        # Each duplicate was first sent by a worker that was then killed before recording it (the
        # last worker is never killed, so it makes none of its own). Its earliest copy falls in that
        # worker's life, or a little after: the server may still be finishing messages whose sender
        # has died, later still on a busy machine. So a duplicate counts against the last kill
        # whose worker was started before its earliest copy arrived.
        # A message sent three times (its re-sender killed too) has two such copies: every copy but
        # the last was sent by a worker killed before recording it, and counts against that kill.
        copies: dict[str, list[float]] = {}
        for message in received:
            copies.setdefault(message.recipients[0], []).append(message.at)
        starts = [born for born, _ in lives] + [float("inf")]
        per_kill = [
            sum(
                1
                for times in copies.values()
                for at in times[:-1]
                if starts[i] <= at < starts[i + 1]
            )
            for i in range(len(lives))
        ]
        in_flight = places(
            config.SEND_CONCURRENCY, 1
        )  # sends under way + the groups not yet recorded
        figures.update(
            messages=MESSAGES,
            kills=KILLS,
            delivered=len(counts),
            lost=len(lost),
            duplicates=duplicates,
            duplicates_per_kill=per_kill,
            bound_per_kill=in_flight,
            seconds=round(elapsed, 1),
            lease_seconds=config.WORKER_LEASE_SECONDS,
            send_concurrency=config.SEND_CONCURRENCY,
        )
        assert not lost
        assert sum(per_kill) == duplicates, (per_kill, duplicates)
        assert max(per_kill) <= in_flight, per_kill
