"""SIGTERM (what `docker stop` and compose send) while work is in flight (issue 17, item 7):
`worker` starts nothing new, finishes and records the sends under way, gives back what it claimed
but did not start, and exits 0 at once; `serve` stops accepting connections, answers the request
in flight, and exits 0. Real processes, a real SMTP server; every message counted per recipient."""

import json
import signal
import socket
import subprocess
import sys
import time
from collections import Counter

import httpx
import pytest
from sqlalchemy import func, select

from shopify_app.models import Intent

from ..fakes.smtp import SmtpServer
from ..notify.helpers import ITEM, LOCATION, SHOP
from ..processes import answers, app_env, serve_process, stop_process, wait_for, worker_process
from ..support import free_port, install_shop, webhook_headers
from .seed import (
    attempts_by_notification,
    provider_settings,
    shop_with_sold_out_variants,
    statuses,
    waiting_signups,
)

MESSAGES = 600
DELAY, CONCURRENCY = 0.05, 4  # the provider's pace: at most 80 messages/s, a batch of 500 ~6 s


def restock_webhook(base_url: str, available: int) -> int:
    body = json.dumps(
        {
            "inventory_item_id": ITEM,
            "location_id": LOCATION,
            "available": available,
            "updated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
    ).encode()
    headers = webhook_headers(body, "inventory_levels/update", SHOP, webhook_id="restock-1")
    return httpx.post(
        f"{base_url}/webhooks/inventory_levels/update", content=body, headers=headers, timeout=10
    ).status_code


def sender_process(backend: str, config, port: int, log):
    """What sends: a `worker` on PostgreSQL; on SQLite (one process) the worker inside `serve`."""
    if backend == "postgresql":
        return worker_process(config, log_to=log)
    return serve_process(config, port, log_to=log, WORKER_IN_PROCESS="true")


@pytest.mark.timeout(300)
def test_sigterm_while_sending_loses_nothing_sends_nothing_twice_and_exits_0(
    backend, engine, settings, figures, tmp_path
):
    with SmtpServer() as smtp:
        smtp.recorder.delay = DELAY
        config = provider_settings(
            settings, smtp=smtp, SEND_CONCURRENCY=CONCURRENCY, WORKER_POLL_INTERVAL=0.05
        )
        shop_id = shop_with_sold_out_variants(engine, settings)
        emails = [f"s{n}@example.com" for n in range(MESSAGES)]
        waiting_signups(engine, shop_id, emails)
        received = smtp.recorder.received
        log = open(tmp_path / "processes.log", "w")  # noqa: SIM115 (closed in the finally below)
        port, web = free_port(), None
        try:
            if backend == "postgresql":
                web = serve_process(config, port, log_to=log, WORKER_IN_PROCESS="false")
            sender = sender_process(backend, config, port, log)
            assert wait_for(lambda: answers(f"http://127.0.0.1:{port}"), 30), "serve did not start"
            assert restock_webhook(f"http://127.0.0.1:{port}", MESSAGES) == 200
            assert wait_for(lambda: len(received) >= 40, 60), "nothing was sent"

            sender.send_signal(signal.SIGTERM)
            asked = time.monotonic()
            code = sender.wait(30)
            stop_seconds = time.monotonic() - asked
            time.sleep(0.3)  # anything still arriving at the server would be counted below
            at_stop = len(received)
            after_stop = statuses(engine)

            # Another process takes over what was given back, at once (no lease to wait out).
            resumed = time.monotonic()
            sender = sender_process(backend, config, port, log)
            assert wait_for(lambda: statuses(engine) == {"sent": MESSAGES}, 120), statuses(engine)
            resume_seconds = time.monotonic() - resumed
            assert stop_process(sender) == 0
        finally:
            if web is not None:
                stop_process(web)
            log.close()

    counts = Counter(m.recipients[0] for m in received)
    attempts = attempts_by_notification(engine)
    figures.update(
        backend=backend,
        messages=MESSAGES,
        sent_before_sigterm_exit=at_stop,
        stop_seconds=round(stop_seconds, 2),
        resume_seconds=round(resume_seconds, 1),
        statuses_after_stop=after_stop,
    )
    assert code == 0
    # It did not finish its claimed batch of 500 (about 6 s at this pace): it stopped starting sends.
    assert stop_seconds < 3, stop_seconds
    assert at_stop < 500, at_stop
    # What it sent is recorded as sent, the rest is pending again: nothing left claimed.
    assert after_stop == {"sent": at_stop, "pending": MESSAGES - at_stop}, after_stop
    assert set(counts) == set(emails), "lost"
    assert max(counts.values()) == 1, "sent twice"
    # One attempt each: the rows given back were not charged an attempt.
    assert all([a[:2] for a in tried] == [(1, "sent")] for tried in attempts.values())


def _signup_body() -> bytes:
    return json.dumps(
        {
            "intent": {
                "shopify_variant_id": 77,
                "shopify_product_id": 2,
                "channel": "email",
                "quantity": 1,
                "source": "api",
            },
            "customer": {"email": "in-flight@example.com"},
            "product": {"title": "Shirt"},
        }
    ).encode()


def _refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return True
    return False


@pytest.mark.timeout(120)
def test_sigterm_while_a_request_is_in_flight_answers_it_then_exits_0(engine, settings, tmp_path):
    install_shop(engine, settings, SHOP)
    port = free_port()
    log = open(tmp_path / "serve.log", "w")  # noqa: SIM115 (closed in the finally below)
    server = serve_process(settings, port, log_to=log, WORKER_IN_PROCESS="false")
    try:
        assert wait_for(lambda: answers(f"http://127.0.0.1:{port}"), 30), "serve did not start"
        body = _signup_body()
        request = (
            f"POST /api/v1/intents.json HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"X-Shopify-Shop-Domain: {SHOP}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
            conn.sendall(request + body[:20])  # the request is under way, its body half sent
            time.sleep(0.3)
            server.send_signal(signal.SIGTERM)
            assert wait_for(lambda: _refused(port), 5), "still accepting new connections"
            assert server.poll() is None, "exited with a request in flight"
            conn.sendall(body[20:])
            answer = b""
            while chunk := conn.recv(65536):
                answer += chunk
        status = int(answer.split(b" ", 2)[1])
        assert status == 201, answer[:500]
        assert server.wait(30) == 0
    finally:
        stop_process(server)
        log.close()
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(Intent)).scalar() == 1


@pytest.mark.timeout(120)
def test_serve_with_two_workers_answers_and_stops_with_0(postgres_only, settings, tmp_path):
    port = free_port()
    log = open(tmp_path / "serve.log", "w")  # noqa: SIM115 (closed in the finally below)
    server = subprocess.Popen(
        [sys.executable, "-m", "shopify_app", "serve", "--port", str(port), "--workers", "2"],
        env=app_env(settings, WORKER_IN_PROCESS="false", LOG_LEVEL="INFO"),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        assert wait_for(lambda: answers(f"http://127.0.0.1:{port}"), 60), "serve did not start"
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
            assert all(client.get("/readyz").status_code == 200 for _ in range(20))
        server.send_signal(signal.SIGTERM)
        assert server.wait(30) == 0
    finally:
        stop_process(server)
        log.close()
    started = (tmp_path / "serve.log").read_text().count("Started server process")
    assert started == 2, (tmp_path / "serve.log").read_text()[-2000:]
