"""Scale-out: two `serve` and three `worker` processes on one PostgreSQL database. Signups arrive
at both servers, the restock webhook at one; every message is sent once (counted per recipient at
a real SMTP server), and the workers share the sending (SKIP LOCKED claims)."""

import time
from collections import Counter

import pytest
from sqlalchemy import func, select

from shopify_app.db import session_scope
from shopify_app.models import Intent, SendAttempt

from ..fakes.smtp import SmtpServer
from ..faults.seed import provider_settings
from ..processes import answers, serve_process, stop_process, wait_for, worker_process
from ..support import free_port
from .seed import shop_with_sold_out_variants, statuses
from .traffic import post_restock, send_all, signup_request

SIGNUPS, SERVERS, WORKERS = 3000, 2, 3


@pytest.mark.timeout(300)
def test_two_servers_and_three_workers_send_each_message_once(
    postgres_only, engine, settings, figures, tmp_path
):
    with SmtpServer() as smtp:
        smtp.recorder.delay = 0.005
        config = provider_settings(
            settings,
            smtp=smtp,
            WORKER_BATCH_SIZE=100,
            SEND_CONCURRENCY=8,
            WORKER_POLL_INTERVAL=0.05,
        )
        shop_with_sold_out_variants(engine, settings)
        ports = [free_port() for _ in range(SERVERS)]
        bases = [f"http://127.0.0.1:{port}" for port in ports]
        with open(tmp_path / "processes.log", "w") as log:
            servers = [
                serve_process(config, port, log_to=log, WORKER_IN_PROCESS="false") for port in ports
            ]
            workers = []
            try:
                assert all(wait_for(lambda b=b: answers(b), 30) for b in bases), (
                    "serve did not start"
                )
                emails = [f"shopper{n}@example.com" for n in range(SIGNUPS)]
                results = send_all(
                    [(bases[n % SERVERS], *signup_request(e)) for n, e in enumerate(emails)],
                    concurrency=16,
                )
                created = Counter(bases[i % SERVERS] for status, _, i in results if status == 201)
                workers = [worker_process(config, log_to=log) for _ in range(WORKERS)]
                time.sleep(1.0)  # all three are polling
                started = time.monotonic()
                assert post_restock(bases[0], SIGNUPS) == 200
                assert wait_for(lambda: statuses(engine) == {"sent": SIGNUPS}, 180), statuses(
                    engine
                )
                elapsed = time.monotonic() - started
            finally:
                for process in workers + servers:
                    stop_process(process)

        attempts = SendAttempt.__table__
        with session_scope(engine) as session:
            stored = session.execute(select(func.count()).select_from(Intent)).scalar_one()
            by_worker = dict(
                session.execute(
                    select(attempts.c.worker, func.count())
                    .where(attempts.c.outcome == "sent")
                    .group_by(attempts.c.worker)
                ).all()
            )
        per_recipient = Counter(m.recipients[0] for m in smtp.recorder.received)
        figures.update(
            signups=SIGNUPS,
            answered_201_per_server=list(created.values()),
            stored=stored,
            messages=sum(per_recipient.values()),
            recipients=len(per_recipient),
            sent_per_worker=sorted(by_worker.values(), reverse=True),
            seconds=round(elapsed, 1),
        )
        assert sum(created.values()) == SIGNUPS and len(created) == SERVERS and stored == SIGNUPS
        assert set(per_recipient) == set(emails) and set(per_recipient.values()) == {1}  # each once
        assert sum(by_worker.values()) == SIGNUPS and len(by_worker) == WORKERS
        assert min(by_worker.values()) >= SIGNUPS // (WORKERS * 10), (
            by_worker
        )  # each did a real share
