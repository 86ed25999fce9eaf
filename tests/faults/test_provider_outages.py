"""Fault: every outside service unavailable for FAULT_OUTAGE_SECONDS (30 s) in the middle of a
fan-out: the SMTP server stops listening (connections refused), Twilio's Messages API and the push
service answer 503, and the Shopify Admin API answers 503 while the worker must read the stock of
a variant it has not seen (an unknown item's webhook arrives during the outage). Nothing may be
lost, everything is sent once the services are back, and the retries keep the designed spacing:
send attempts at least `0.5 * 2**attempt` seconds apart (attempts.backoff, full jitter) and Admin
API calls at least a second apart (admin_api's waits and the job's backoff). One `serve` process
with its worker inside: the embedded deployment, so this runs on SQLite as well."""

import itertools
import json
import time
from collections import Counter

import pytest

from shopify_app.notify.attempts import MAX_SEND_ATTEMPTS

from ..fakes.server import Switchable
from ..fakes.shopify import CatalogItem, FakeShopify
from ..faults.seed import provider_settings, seconds_setting
from ..notify.helpers import ITEM, LOCATION, PRODUCT, SHOP, TOKEN, VARIANT
from ..processes import answers, serve_process, stop_process, wait_for
from ..support import API_KEY, API_SECRET, free_port
from .seed import attempts_by_notification, shop_with_sold_out_variants, statuses, waiting_signups
from .traffic import post_restock

EACH, LATE = (
    150,
    50,
)  # signups per channel on the first variant; email signups on the one Shopify must be asked about
PACE = 0.05  # each provider takes this long per message: the fan-out lasts long enough to be cut


@pytest.mark.timeout(420)
def test_smtp_sms_push_and_shopify_down_during_a_fan_out(
    engine, settings, providers, figures, tmp_path
):
    outage = seconds_setting("FAULT_OUTAGE_SECONDS", 30)
    smtp, twilio, push = providers["smtp"], providers["twilio"], providers["push"]
    twilio_server, push_server = providers["twilio_server"], providers["push_server"]
    smtp.recorder.delay = twilio_server.delay = push_server.delay = PACE
    shopify = FakeShopify(api_key=API_KEY, api_secret=API_SECRET)
    shopify.tokens[SHOP] = TOKEN
    shopify.add_item(CatalogItem(ITEM + 1, VARIANT + 1, PRODUCT, levels={LOCATION: LATE}))
    with Switchable(shopify.app) as shopify_server:
        shopify.base_url = shopify_server.url
        config = provider_settings(
            settings,
            smtp=smtp,
            twilio=twilio,
            twilio_url=twilio_server.url,
            push=True,
            SHOPIFY_ADMIN_BASE_URL=shopify_server.url + "/{shop}",
            SEND_CONCURRENCY=2,
            SHOPIFY_HTTP_TIMEOUT=5.0,
        )
        shop_id = shop_with_sold_out_variants(
            engine, settings
        )  # VARIANT known and sold out; VARIANT + 1 never seen
        emails = [f"e{n}@example.com" for n in range(EACH)]
        phones = [f"+1415555{n:04d}" for n in range(EACH)]
        browsers = [push.new_browser() for _ in range(EACH)]
        for start in range(
            0, EACH, 10
        ):  # interleaved, so every channel is mid-way when the outage comes
            waiting_signups(engine, shop_id, emails[start : start + 10], "email")
            waiting_signups(engine, shop_id, phones[start : start + 10], "sms")
            waiting_signups(
                engine,
                shop_id,
                [json.dumps(b.subscription) for b in browsers[start : start + 10]],
                "push",
            )
        late = [f"late{n}@example.com" for n in range(LATE)]
        waiting_signups(engine, shop_id, late, "email", variant=VARIANT + 1)
        total = 3 * EACH + LATE

        port = free_port()
        base = f"http://127.0.0.1:{port}"
        with open(tmp_path / "serve.log", "w") as log:
            server = serve_process(config, port, log_to=log, WORKER_IN_PROCESS="true")
            try:
                assert wait_for(lambda: answers(base), 30), "serve did not start"
                started = time.monotonic()
                assert post_restock(base, 3 * EACH) == 200
                assert wait_for(lambda: len(smtp.recorder.received) >= EACH // 5, 60), (
                    "the fan-out did not start"
                )
                smtp.stop_listening()
                twilio_server.available = push_server.available = shopify_server.available = False
                down_at = time.monotonic()
                before = {
                    "email": len(smtp.recorder.received),
                    "sms": len(twilio.messages),
                    "push": len(push.delivered),
                }
                assert (
                    post_restock(base, LATE, item=ITEM + 1) == 200
                )  # the worker must ask Shopify about it
                time.sleep(outage)
                smtp.listen_again()
                twilio_server.available = push_server.available = shopify_server.available = True
                up_at = time.monotonic()
                assert wait_for(lambda: statuses(engine) == {"sent": total}, 180), statuses(engine)
                done_at = time.monotonic()
            finally:
                stop_process(server)

    # Each message once, over its own channel.
    mail = Counter(m.recipients[0] for m in smtp.recorder.received)
    texts = Counter(m["To"] for m in twilio.messages)
    pushes = Counter(d["id"] for d in push.delivered)
    assert set(mail) == set(emails) | set(late) and set(mail.values()) == {1}
    assert set(texts) == set(phones) and set(texts.values()) == {1}
    assert set(pushes) == {b.id for b in browsers} and set(pushes.values()) == {1}
    assert min(before.values()) < EACH, (
        before
    )  # every channel still had messages to send when it went down

    # Retries spaced as designed, from the attempts the worker wrote down.
    attempts = attempts_by_notification(engine)
    too_soon, retried, most = [], 0, 0
    for rows in attempts.values():
        most = max(most, len(rows))
        retried += len(rows) > 1
        for (attempt, outcome, at, _), (_, _, next_at, _) in itertools.pairwise(rows):
            assert outcome == "retry"
            if (next_at - at).total_seconds() < 0.5 * 2**attempt - 0.01:
                too_soon.append((attempt, (next_at - at).total_seconds()))
    assert not too_soon, too_soon[:5]
    assert most < MAX_SEND_ATTEMPTS  # no message came near giving up

    # Shopify: refused calls at least a second apart, and read again once it answered.
    refused = [t for t, ok in shopify_server.arrivals if not ok]
    served = [t for t, ok in shopify_server.arrivals if ok]
    gaps = [b - a for a, b in itertools.pairwise(refused)]
    assert refused and min(gaps, default=1.0) >= 0.95, gaps
    assert served and served[0] >= up_at

    # After recovery: the longest wait a retried message can be owed is backoff(6) <= 64 s.
    last_at = max(max(m.at for m in smtp.recorder.received), up_at)
    figures.update(
        outage_seconds=outage,
        messages=total,
        lost=0,
        duplicates=0,
        retried_messages=retried,
        most_attempts=most,
        failed_attempts=sum(len(r) - 1 for r in attempts.values()),
        sent_before_outage=before,
        shopify_refused_calls=len(refused),
        shopify_min_gap_seconds=round(min(gaps, default=0), 2),
        shopify_first_call_after_recovery_s=round(served[0] - up_at, 1),
        seconds_from_recovery_to_last_message=round(done_at - up_at, 1),
        seconds_total=round(done_at - started, 1),
        outage_started_after_s=round(down_at - started, 1),
    )
    assert last_at - up_at <= 64 + 30, last_at - up_at
