"""Fault: Shopify's delivery is at least once and in no order. 1,000 `inventory_levels/update`
webhooks for 100 variants, each delivered three times, all shuffled, signed and sent over HTTP to
a real `serve` process, with a real `worker` applying them: one restock event per real restock,
one alert per signup, none for a variant that never came back."""

import random
import time
from collections import Counter

import pytest
from sqlalchemy import func, select

from shopify_app.db import session_scope
from shopify_app.models import InventoryLevel, Job, RestockEvent, Variant, WebhookDelivery

from ..fakes.smtp import SmtpServer
from ..faults.seed import provider_settings
from ..notify.helpers import ITEM, VARIANT
from ..processes import answers, serve_process, stop_process, wait_for, worker_process
from ..support import free_port
from .seed import shop_with_sold_out_variants, waiting_signups
from .traffic import an_hour_ago, level_webhook, send_all

VARIANTS, UPDATES, COPIES, SIGNUPS_EACH, NEVER_BACK = 100, 10, 3, 5, 20


def timeline(restocks: bool) -> list[int]:
    """One variant's ten levels in the order they happened: sold out for a while, then (if it
    restocks) in stock from the first positive level on, selling down but never to zero."""
    if not restocks:
        return [random.choice([0, 0, -1]) for _ in range(UPDATES)]
    sold_out = random.randint(1, UPDATES - 1)
    return [0] * sold_out + [random.randint(1, 20) for _ in range(UPDATES - sold_out)]


@pytest.mark.timeout(300)
def test_a_thousand_level_webhooks_each_delivered_three_times_shuffled(
    postgres_only, engine, settings, figures, tmp_path
):
    with SmtpServer() as smtp:
        config = provider_settings(settings, smtp=smtp, WORKER_POLL_INTERVAL=0.05)
        shop_id = shop_with_sold_out_variants(engine, settings, VARIANTS)
        expected: set[str] = set()
        latest: dict[int, int] = {}  # item -> its newest level
        requests = []
        for v in range(VARIANTS):
            emails = [f"v{v}-s{n}@example.com" for n in range(SIGNUPS_EACH)]
            waiting_signups(engine, shop_id, emails, variant=VARIANT + v)
            restocks = v >= NEVER_BACK
            if restocks:
                expected.update(emails)
            levels = timeline(restocks)
            latest[ITEM + v] = levels[-1]
            for step, available in enumerate(levels):
                path, body, headers = level_webhook(
                    available, item=ITEM + v, updated_at=an_hour_ago(step)
                )
                requests += [(path, body, headers)] * COPIES
        random.shuffle(requests)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        with open(tmp_path / "processes.log", "w") as log:
            server = serve_process(config, port, log_to=log, WORKER_IN_PROCESS="false")
            worker = worker_process(config, log_to=log)
            try:
                assert wait_for(lambda: answers(base), 30), "serve did not start"
                started = time.monotonic()
                results = send_all([(base, *r) for r in requests], concurrency=16)
                sent_in = time.monotonic() - started
                assert wait_for(
                    lambda: len(smtp.recorder.received) >= len(expected) and _settled(engine), 120
                )
                time.sleep(2 * config.WORKER_POLL_INTERVAL + 1)  # anything more would come now
            finally:
                stop_process(worker)
                stop_process(server)

        statuses = Counter(r[0] for r in results)
        with session_scope(engine) as session:
            events = Counter(
                session.execute(select(RestockEvent.__table__.c.shopify_variant_id)).scalars()
            )
            deliveries = session.execute(
                select(func.count()).select_from(WebhookDelivery)
            ).scalar_one()
            stored = dict(
                session.execute(
                    select(
                        InventoryLevel.__table__.c.inventory_item_id,
                        InventoryLevel.__table__.c.available,
                    )
                ).all()
            )
            sellable = dict(
                session.execute(
                    select(Variant.__table__.c.inventory_item_id, Variant.__table__.c.sellable)
                ).all()
            )
        per_recipient = Counter(m.recipients[0] for m in smtp.recorder.received)
        figures.update(
            webhooks=VARIANTS * UPDATES,
            deliveries_sent=len(requests),
            answers=dict(statuses),
            deliveries_stored=deliveries,
            restocking_variants=VARIANTS - NEVER_BACK,
            restock_events=sum(events.values()),
            alerts=sum(per_recipient.values()),
            signups_alerted=len(per_recipient),
            signups_expected=len(expected),
            seconds_to_send=round(sent_in, 1),
        )
        assert statuses == {200: len(requests)}
        assert deliveries == VARIANTS * UPDATES  # each re-delivery recognised
        assert stored == latest and sellable == latest  # the newest level wins, whatever the order
        assert events == {
            VARIANT + v: 1 for v in range(NEVER_BACK, VARIANTS)
        }  # one per real restock
        assert set(per_recipient) == expected and set(per_recipient.values()) == {1}


def _settled(engine) -> bool:
    jobs, deliveries = Job.__table__, WebhookDelivery.__table__
    with session_scope(engine) as session:
        busy = session.execute(
            select(func.count()).select_from(jobs).where(jobs.c.status.in_(["pending", "running"]))
        ).scalar_one()
        waiting = session.execute(
            select(func.count()).select_from(deliveries).where(deliveries.c.state == "pending")
        ).scalar_one()
    return busy == 0 and waiting == 0
