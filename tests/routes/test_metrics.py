"""`GET /metrics`: off without METRICS_TOKEN, refused without it, and the Prometheus text of what the
app did (requests, webhook lag, sends through a real SMTP server, token refreshes, the outbox's
depth), summed across real processes sharing PROMETHEUS_MULTIPROC_DIR."""

import json
import logging
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select, update
from starlette.testclient import TestClient

from shopify_app import metrics
from shopify_app.app import create_app
from shopify_app.db import session_scope
from shopify_app.models import Notification, Shop, utcnow
from shopify_app.notify.channels import build_channels
from shopify_app.notify.worker import Worker

from ..fakes.shopify import CatalogItem
from ..fakes.smtp import SmtpServer
from ..notify.helpers import (
    ITEM,
    LOCATION,
    PRODUCT,
    SHOP,
    level_webhook,
    recording_channels,
    run,
    setup_shop,
    signup,
)
from ..processes import answers, serve_process, stop_process, wait_for, worker_process
from ..support import free_port, webhook_headers

TOKEN = "metrics-token-" + "k" * 24
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture
def metered(settings):
    return settings.model_copy(update={"METRICS_TOKEN": TOKEN})


@pytest.fixture
def app_client(metered):
    with TestClient(create_app(metered), base_url="https://app.example.test") as client:
        yield client


def parse(text: str) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def scrape(client) -> Samples:
    response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return parse(response.text)


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((f"backinstock_{name}", frozenset(labels.items())), 0.0)


def test_metrics_is_not_there_while_metrics_token_is_unset(client):
    response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    unknown = client.get("/no-such-path")
    assert response.status_code == unknown.status_code == 404
    assert response.text == unknown.text  # as if the route were not there


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer wrong-token", f"Basic {TOKEN}", f"Bearer {TOKEN}x", "Bearer ", TOKEN],
)
def test_a_missing_or_wrong_token_is_refused_and_no_token_is_logged(
    app_client, authorization, caplog
):
    caplog.set_level(logging.DEBUG)
    headers = {"Authorization": authorization} if authorization is not None else {}
    response = app_client.get("/metrics", headers=headers)
    assert response.status_code == 401 and response.headers["www-authenticate"] == "Bearer"
    [message] = response.json()["errors"]
    assert "METRICS_TOKEN" in message and TOKEN not in response.text
    scrape(app_client)
    logged = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert "/metrics" in logged and TOKEN not in logged and "wrong-token" not in logged


def test_a_signup_and_a_webhook_move_the_request_counter_and_the_webhook_lag(
    app_client, engine, settings, fake_shopify
):
    setup_shop(engine, settings, fake_shopify)
    before = scrape(app_client)
    signup(app_client)
    body = json.dumps(
        {"inventory_item_id": ITEM, "location_id": LOCATION, "available": 0, "updated_at": None}
    ).encode()
    headers = webhook_headers(
        body, "inventory_levels/update", SHOP, webhook_id=uuid.uuid4().hex, event_id="e1"
    )
    triggered = datetime.now(UTC) - timedelta(seconds=5)
    headers["X-Shopify-Triggered-At"] = triggered.isoformat().replace("+00:00", "Z")
    response = app_client.post("/webhooks/inventory_levels/update", content=body, headers=headers)
    assert response.status_code == 200
    after = scrape(app_client)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    signups = {"route": "/api/v1/intents.json", "method": "POST"}
    hook = {"route": "/webhooks/inventory_levels/update", "method": "POST"}
    assert moved("http_requests_total", **signups, status="201") == 1
    assert moved("http_requests_total", **hook, status="200") == 1
    assert moved("http_request_duration_seconds_count", **signups) == 1
    assert 0 < moved("http_request_duration_seconds_sum", **signups) < 5
    assert moved("http_request_duration_seconds_bucket", **signups, le="+Inf") == 1
    topic = {"topic": "inventory_levels/update"}
    assert moved("webhook_lag_seconds_count", **topic) == 1
    assert 5 <= moved("webhook_lag_seconds_sum", **topic) < 30
    assert moved("webhook_lag_seconds_bucket", **topic, le="2.5") == 0
    assert moved("webhook_lag_seconds_bucket", **topic, le="30.0") == 1


def test_routes_are_counted_by_their_template_not_the_raw_path(app_client):
    before = scrape(app_client)
    for n in range(3):
        app_client.get(f"/unsubscribe/not-a-token-{n}")
        app_client.get(f"/nothing/here/{n}")
        app_client.request("BREW", "/healthz")
    after = scrape(app_client)
    routes = {dict(labels).get("route") for _, labels in after}
    assert not {r for r in routes if r and ("not-a-token" in r or "/here/" in r)}
    links = [
        v
        for (name, labels), v in after.items()
        if name == "backinstock_http_requests_total"
        and dict(labels)["route"] == "/unsubscribe/{token}"
    ]
    assert (
        sum(links)
        - sum(
            v
            for (name, labels), v in before.items()
            if name == "backinstock_http_requests_total"
            and dict(labels)["route"] == "/unsubscribe/{token}"
        )
        == 3
    )

    def moved(**labels: str) -> float:
        return value(after, "http_requests_total", **labels) - value(
            before, "http_requests_total", **labels
        )

    assert moved(route="unmatched", method="GET", status="404") == 3
    assert moved(route="/healthz", method="other", status="405") == 3


def test_a_real_email_send_counts_as_email_sent_with_its_time(
    app_client, engine, settings, fake_shopify
):
    with SmtpServer() as smtp:
        wired = settings.model_copy(
            update={
                "SMTP_HOST": "127.0.0.1",
                "SMTP_PORT": smtp.port,
                "SMTP_STARTTLS": False,
                "MAIL_FROM": "Shop <alerts@shop.example>",
            }
        )
        item = setup_shop(engine, settings, fake_shopify)
        signup(app_client, email="ann@example.com")
        before = scrape(app_client)
        item.levels = {LOCATION: 3}
        level_webhook(app_client, 3)

        async def drain() -> None:
            async with httpx.AsyncClient() as http:
                channels = build_channels(wired)
                await Worker(wired, engine, http, channels).drain()
                for channel in channels.values():
                    await channel.aclose()

        run(drain())
        [mail] = smtp.recorder.received
    assert mail.recipients == ["ann@example.com"]
    after = scrape(app_client)
    sent = {"channel": "email", "result": "sent"}
    assert value(after, "sends_total", **sent) - value(before, "sends_total", **sent) == 1
    count = "send_duration_seconds_count"
    assert value(after, count, channel="email") - value(before, count, channel="email") == 1


def install_by_oauth(client, fake, shop: str = SHOP) -> None:
    """The merchant installs: the app's /auth, Shopify's consent, the callback with its code."""
    begin = client.get(f"/auth?shop={shop}", follow_redirects=False)
    authorize = httpx.get(begin.headers["location"], follow_redirects=False)
    callback = urlsplit(authorize.headers["location"])
    assert (
        client.get(f"{callback.path}?{callback.query}", follow_redirects=False).status_code == 302
    )


def test_the_outbox_depth_is_what_waits_and_a_token_refresh_is_counted(
    app_client, engine, settings, fake_shopify
):
    install_by_oauth(app_client, fake_shopify)
    shops = Shop.__table__
    with engine.begin() as connection:  # the merchant sends by hand; the token has reached its end
        connection.execute(
            update(shops).values(
                automatic_sending=False, access_token_expires_at=utcnow() - timedelta(seconds=1)
            )
        )
    item = fake_shopify.add_item(CatalogItem(9001, 9101, PRODUCT, levels={LOCATION: 0}))
    for n in range(3):
        signup(app_client, variant=item.variant_id, email=f"held{n}@example.com")
    before = scrape(app_client)
    assert value(before, "outbox_depth", status="held") == 0
    item.levels = {LOCATION: 5}
    level_webhook(app_client, 5, item=item.inventory_item_id)

    async def drain() -> None:
        async with httpx.AsyncClient() as http:
            await Worker(settings, engine, http, recording_channels()).drain(100)

    run(drain())
    with session_scope(engine) as session:
        held = session.execute(
            select(func.count()).where(Notification.status == "held")
        ).scalar_one()
    after = scrape(app_client)
    assert held == 3 and len(fake_shopify.refreshes) == 1
    assert value(after, "outbox_depth", status="held") == 3
    assert value(after, "outbox_depth", status="pending") == 0
    assert value(after, "outbox_depth", status="sending") == 0
    renewed = {"result": "renewed"}
    assert (
        value(after, "token_refreshes_total", **renewed)
        - value(before, "token_refreshes_total", **renewed)
        == 1
    )


def test_a_rate_limit_pause_is_counted_by_channel(app_client):
    before = scrape(app_client)
    metrics.record_rate_limit_pause("sms")
    metrics.record_rate_limit_pause("sms")
    after = scrape(app_client)
    pauses = "rate_limit_pauses_total"
    assert value(after, pauses, channel="sms") - value(before, pauses, channel="sms") == 2
    assert value(after, pauses, channel="email") == value(before, pauses, channel="email")


@pytest.mark.slow
def test_two_serve_processes_and_a_worker_sharing_the_directory_add_up(
    backend, engine, settings, fake_shopify, tmp_path
):
    """Requests at each of two `serve` processes and an email a `worker` process sent: one scrape of
    either server counts all of them."""
    if backend == "sqlite":
        pytest.skip("SQLite runs one process")
    shared = tmp_path / "prometheus"  # not there yet: the first process to start makes it
    item = setup_shop(engine, settings, fake_shopify)
    with SmtpServer() as smtp, open(tmp_path / "processes.log", "w") as log:
        config = settings.model_copy(
            update={
                "METRICS_TOKEN": TOKEN,
                "WORKER_POLL_INTERVAL": 0.05,
                "RECONCILE_INTERVAL_SECONDS": 0,
                "SMTP_HOST": "127.0.0.1",
                "SMTP_PORT": smtp.port,
                "SMTP_STARTTLS": False,
                "MAIL_FROM": "Shop <alerts@shop.example>",
            }
        )
        ports = [free_port(), free_port()]
        extra = {"PROMETHEUS_MULTIPROC_DIR": str(shared), "WORKER_IN_PROCESS": "false"}
        processes = [serve_process(config, port, log_to=log, **extra) for port in ports]
        try:
            bases = [f"http://127.0.0.1:{port}" for port in ports]
            assert all(wait_for(lambda b=b: answers(b), 30) for b in bases), "serve did not start"
            processes.append(worker_process(config, log_to=log, **extra))
            a, b = (httpx.Client(base_url=base, timeout=10) for base in bases)
            for _ in range(3):
                assert a.get("/healthz").status_code == 200
            for _ in range(4):
                assert b.get("/healthz").status_code == 200
            signup(a, email="multi@example.com")
            item.levels = {LOCATION: 2}
            level_webhook(b, 2)
            assert wait_for(lambda: len(smtp.recorder.received) == 1, 30), "nothing was sent"
            assert wait_for(
                lambda: value(scrape(a), "sends_total", channel="email", result="sent") == 1, 10
            )
            from_a, from_b = scrape(a), scrape(b)
        finally:
            for process in processes:
                stop_process(process)
    health = {"route": "/healthz", "method": "GET", "status": "200"}
    for seen in (from_a, from_b):
        assert value(seen, "http_requests_total", **health) == 7  # 3 at a, 4 at b
        signups = {"route": "/api/v1/intents.json", "method": "POST", "status": "201"}
        assert value(seen, "http_requests_total", **signups) == 1  # made at a, counted at b too
        assert value(seen, "webhook_lag_seconds_count", topic="inventory_levels/update") == 1
        assert value(seen, "sends_total", channel="email", result="sent") == 1  # the worker's
        assert value(seen, "send_duration_seconds_count", channel="email") == 1
    assert (
        value(from_b, "http_requests_total", route="/metrics", method="GET", status="200")
        > value(from_a, "http_requests_total", route="/metrics", method="GET", status="200")
        >= 1
    )
    assert len({path.stem.split("_")[-1] for path in shared.glob("*.db")}) == 3  # one per process
