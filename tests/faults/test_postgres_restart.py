"""Fault: PostgreSQL restarted (`pg_ctl restart -m fast`: every connection cut) while signups
arrive and while a fan-out runs. On a private cluster (tests/faults/postgres.py), never the shared
server. `serve` and `worker` must reconnect by themselves: every signup answered 201 is stored,
signups succeed again after the restart, and no alert is lost."""

import random
import threading
import time
from collections import Counter

import pytest
from sqlalchemy import func, select

from shopify_app import migrate
from shopify_app.db import make_engine, session_scope
from shopify_app.models import Intent
from shopify_app.notify.recorder import places

from ..fakes.smtp import SmtpServer
from ..faults.seed import provider_settings
from ..processes import answers, serve_process, stop_process, wait_for, worker_process
from ..support import free_port
from .postgres import private_postgres
from .seed import shop_with_sold_out_variants, statuses, waiting_signups
from .traffic import post_restock, signups_for

SIGNUP_SECONDS, FAN_OUT = 12.0, 5000


@pytest.mark.timeout(400)
def test_postgres_restarted_during_signups_and_during_a_fan_out(
    postgres_only, settings, figures, tmp_path
):
    with private_postgres() as pg, SmtpServer() as smtp:
        smtp.recorder.delay = 0.01
        migrate.upgrade(pg.url)
        engine = make_engine(pg.url)
        config = provider_settings(
            settings.model_copy(update={"DATABASE_URL": pg.url}),
            smtp=smtp,
            WORKER_LEASE_SECONDS=5.0,
            SEND_CONCURRENCY=8,
            WORKER_POLL_INTERVAL=0.05,
        )
        shop_id = shop_with_sold_out_variants(engine, config)
        seeded = [f"waiting{n}@example.com" for n in range(FAN_OUT)]
        waiting_signups(engine, shop_id, seeded)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        with open(tmp_path / "processes.log", "w") as log:
            server = serve_process(config, port, log_to=log, WORKER_IN_PROCESS="false")
            worker = worker_process(config, log_to=log)
            try:
                assert wait_for(lambda: answers(base), 30), "serve did not start"
                # 1. Restarted while signups arrive (8 clients, as fast as the server answers).
                restarted: list[float] = []
                results: list[tuple] = []

                def restart_later():
                    time.sleep(random.uniform(3.0, 6.0))
                    restarted.append(time.time())
                    pg.restart()
                    restarted.append(time.time())

                restarter = threading.Thread(target=restart_later)
                restarter.start()
                results = signups_for([base], SIGNUP_SECONDS, concurrency=8, prefix="live")
                restarter.join()
                # 2. Restarted during the fan-out of the waiting signups (and the live ones).
                assert post_restock(base, FAN_OUT + len(results)) == 200
                assert wait_for(lambda: len(smtp.recorder.received) >= FAN_OUT // 3, 120), (
                    "the fan-out did not start"
                )
                sent_before = len(smtp.recorder.received)
                pg.restart()
                assert wait_for(lambda: _all_sent(engine), 240), statuses(engine)
            finally:
                stop_process(worker)
                stop_process(server)
        engine.dispose()
        engine = make_engine(pg.url)
        with session_scope(engine) as session:
            stored = set(session.execute(select(Intent.__table__.c.email)).scalars())
            total = session.execute(select(func.count()).select_from(Intent)).scalar_one()
        engine.dispose()

    answered = Counter(r[0] for r in results)
    created = {r[2] for r in results if r[0] == 201}
    after = [r for r in results if r[3] > restarted[-1] + 1.0]
    per_recipient = Counter(m.recipients[0] for m in smtp.recorder.received)
    lost = (set(seeded) | created) - set(per_recipient)
    duplicates = sum(n - 1 for n in per_recipient.values())
    figures.update(
        signups_sent=len(results),
        answers={str(k): v for k, v in answered.items()},
        answered_201_not_stored=len(created - stored),
        restart_seconds=round(restarted[1] - restarted[0], 2),
        signups_after_restart=len(after),
        failed_after_restart=sum(1 for r in after if r[0] != 201),
        fan_out=total,
        sent_before_restart=sent_before,
        alerts_lost=len(lost),
        duplicates=duplicates,
        duplicate_bound=places(config.SEND_CONCURRENCY, 1),
    )
    assert created and not created - stored  # every 201 is stored
    assert after and all(r[0] == 201 for r in after)  # reconnected by itself
    assert set(answered) <= {201, 503}, answered  # a refusal during the restart says "try again"
    assert not lost
    assert duplicates <= places(config.SEND_CONCURRENCY, 1)


def _all_sent(engine) -> bool:
    try:
        found = statuses(engine)
    except Exception:
        return False
    return set(found) == {"sent"}
