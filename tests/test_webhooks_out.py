"""Outbound webhooks (issue 18 item 10): the merchant sets `webhook_url` (https to a public host;
loopback only as WEBHOOK_LOCAL_HOSTS lists it), gets a signing secret once, and receives signed
`signup.created`, `alert.sent` and `alert.failed` events at a local receiver, retried on 5xx and
network errors, with a delivery log in the admin's API."""

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass, field

import pytest
from sqlalchemy import select, update
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from shopify_app.app import create_app
from shopify_app.crypto import decrypt_token
from shopify_app.db import session_scope
from shopify_app.models import EventDelivery, Job, SettingsChange, Shop, utcnow
from shopify_app.notify.base import PermanentError

from .admin.tokens import bearer
from .notify.helpers import (
    SHOP,
    VARIANT,
    drain,
    level_webhook,
    recording_channels,
    run,
    setup_shop,
    signup,
)
from .support import free_port, serve_in_thread


@dataclass
class Receiver:
    """The merchant's system: records each POST's headers and raw body; answers the queued
    statuses first, then 200."""

    statuses: list[int] = field(default_factory=list)
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    url: str = ""

    async def hook(self, request: Request) -> JSONResponse:
        self.received.append((dict(request.headers), await request.body()))
        status = self.statuses.pop(0) if self.statuses else 200
        return JSONResponse({"ok": status < 300}, status_code=status)

    def events(self) -> list[dict]:
        return [json.loads(body) for _, body in self.received]


@pytest.fixture(scope="module")
def receiver():
    found = Receiver()
    app = Starlette(routes=[Route("/hook", found.hook, methods=["POST"])])
    with serve_in_thread(app, free_port()) as url:
        found.url = url + "/hook"
        yield found


@pytest.fixture
def local(settings, receiver):
    receiver.statuses.clear()
    receiver.received.clear()
    return settings.model_copy(update={"WEBHOOK_LOCAL_HOSTS": "127.0.0.1"})


@pytest.fixture
def app_client(local):
    with TestClient(create_app(local), base_url="https://app.example.test") as client:
        yield client


def put(client, body):
    return client.put("/app/api/settings", json=body, headers=bearer())


def verify(secret: str, headers: dict[str, str], body: bytes) -> bool:
    expected = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
    return hmac.compare_digest(expected, headers["x-back-in-stock-hmac-sha256"])


def deliveries(engine) -> list[EventDelivery]:
    with session_scope(engine) as session:
        return list(session.execute(select(EventDelivery).order_by(EventDelivery.id)).scalars())


def make_jobs_due(engine) -> None:
    with session_scope(engine) as session:
        session.execute(update(Job).where(Job.status == "pending").values(run_at=utcnow()))


def test_the_secret_is_made_with_the_url_shown_once_stored_encrypted(
    app_client, engine, local, fake_shopify, receiver
):
    setup_shop(engine, local, fake_shopify)
    first = put(app_client, {"webhook_url": receiver.url})
    assert first.status_code == 200, first.text
    secret = first.json()["webhook_secret"]
    assert secret.startswith("bisw_") and len(secret) > 40
    assert first.json()["webhook_url"] == receiver.url and first.json()["webhook_secret_set"]
    again = app_client.get("/app/api/settings", headers=bearer()).json()
    assert "webhook_secret" not in again and again["webhook_secret_set"] is True
    # changing another setting, or the URL, keeps the secret and does not show it
    other = put(app_client, {"webhook_url": receiver.url + "?v=2", "sender_name": "Shop"})
    assert "webhook_secret" not in other.json()
    with session_scope(engine) as session:
        shop = session.execute(select(Shop)).scalars().one()
        assert shop.webhook_secret_encrypted and secret not in shop.webhook_secret_encrypted
        assert decrypt_token(local.secret_keys, shop.webhook_secret_encrypted) == secret
        logged = " ".join(c.changes for c in session.execute(select(SettingsChange)).scalars())
    assert secret not in logged and "(new secret)" in logged
    rotated = put(app_client, {"rotate_webhook_secret": True})
    assert rotated.json()["webhook_secret"] not in (None, secret)
    # removing the URL removes the secret; setting one again makes a new one
    cleared = put(app_client, {"webhook_url": None}).json()
    assert cleared["webhook_url"] is None and cleared["webhook_secret_set"] is False
    assert put(app_client, {"rotate_webhook_secret": True}).json() == {
        "errors": ["rotate_webhook_secret: set webhook_url first"]
    }


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://example.com/hook", "must start with https://"),
        ("https://10.0.0.5/hook", "public host"),
        ("https://192.168.1.1/hook", "public host"),
        ("https://169.254.169.254/latest/meta-data", "public host"),
        ("https://[::1]/hook", "public host"),
        ("https://[::ffff:127.0.0.1]/hook", "public host"),
        ("https://localhost/hook", "public host"),
        ("https://printer.local/hook", "public host"),
        ("https://user:pw@example.com/hook", "public host"),
        ("https://example.com:8443/hook", "public host"),
        ("https://127.0.0.2/hook", "public host"),
        ("http://127.0.0.2/hook", "must start with https://"),
        ("ftp://example.com/", "must start with https://"),
        (42, "must be a web address"),
        ("https://exa mple.com/", "without spaces"),
    ],
)
def test_unsafe_webhook_urls_are_refused_and_change_nothing(
    app_client, engine, local, fake_shopify, url, why
):
    setup_shop(engine, local, fake_shopify)
    response = put(app_client, {"webhook_url": url, "sender_name": "Changed"})
    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert error.startswith("webhook_url: ") and why in error
    now = app_client.get("/app/api/settings", headers=bearer()).json()
    assert now["webhook_url"] is None and now["sender_name"] is None


def test_a_public_https_url_is_accepted(app_client, engine, local, fake_shopify):
    setup_shop(engine, local, fake_shopify)
    response = put(app_client, {"webhook_url": "https://hooks.example.com/back-in-stock"})
    assert response.status_code == 200 and response.json()["webhook_secret"]


def test_signup_and_alert_events_arrive_signed(app_client, engine, local, fake_shopify, receiver):
    setup_shop(engine, local, fake_shopify)
    secret = put(app_client, {"webhook_url": receiver.url}).json()["webhook_secret"]
    shopper = signup(app_client, email="ada@example.com")
    sms = signup(app_client, channel="sms", phone="+14155550101")
    channels = recording_channels()
    run(drain(local, engine, channels))
    # delivered concurrently: in either order
    events = sorted(receiver.events(), key=lambda e: e["data"]["signup"]["id"])
    assert [e["topic"] for e in events] == ["signup.created", "signup.created"]
    for headers, body in receiver.received:
        assert verify(secret, headers, body)
        assert headers["x-back-in-stock-shop-domain"] == SHOP
        assert headers["x-back-in-stock-topic"] == "signup.created"
        assert headers["content-type"] == "application/json"
    first = events[0]
    assert first["shop"] == SHOP
    assert {h["x-back-in-stock-event-id"] for h, _ in receiver.received} == {
        e["id"] for e in events
    }
    assert first["data"]["signup"] == {
        **first["data"]["signup"],
        "id": shopper["id"],
        "channel": "email",
        "email": "ada@example.com",
        "phone": None,
        "variant_id": VARIANT,
        "product_title": "Linen Shirt",
        "variant_title": "Green / M",
        "quantity": 1,
    }
    assert events[1]["data"]["signup"]["phone"] == "+14155550101"
    assert events[1]["data"]["signup"]["id"] == sms["id"]
    assert "push" not in json.dumps(events)  # no push subscription ever
    with session_scope(engine) as session:
        kinds = set(session.execute(select(Job.kind)).scalars())
    if engine.dialect.name == "postgresql":  # first signups: one statement, its event by a job
        assert "signup_event" in kinds

    receiver.received.clear()
    channels["sms"].fail_with.append(PermanentError("the number cannot receive SMS"))
    level_webhook(app_client, 5)
    run(drain(local, engine, channels))
    by_topic = {e["topic"]: e["data"]["alert"] for e in receiver.events()}
    assert set(by_topic) == {"alert.sent", "alert.failed"}
    assert by_topic["alert.sent"]["email"] == "ada@example.com"
    assert by_topic["alert.sent"]["signup_id"] == shopper["id"]
    assert by_topic["alert.sent"]["sent_at"] and by_topic["alert.sent"]["error"] is None
    assert by_topic["alert.failed"]["phone"] == "+14155550101"
    assert "cannot receive SMS" in by_topic["alert.failed"]["error"]
    assert all(verify(secret, h, b) for h, b in receiver.received)
    assert all(d.status == "delivered" and d.body is None for d in deliveries(engine))

    log = app_client.get("/app/api/events/deliveries", headers=bearer()).json()["deliveries"]
    assert [d["topic"] for d in log][-2:] == ["signup.created", "signup.created"]
    assert {d["status"] for d in log} == {"delivered"} and {d["target"] for d in log} == {"webhook"}
    assert all(d["status_code"] == 200 and d["attempts"] == 1 for d in log)
    assert "ada@example.com" not in json.dumps(log)  # the log holds no contact


def test_5xx_and_network_errors_are_retried_a_4xx_is_not(
    app_client, engine, local, fake_shopify, receiver
):
    setup_shop(engine, local, fake_shopify)
    put(app_client, {"webhook_url": receiver.url})
    receiver.statuses.extend([503, 500])
    signup(app_client)
    channels = recording_channels()
    run(drain(local, engine, channels))
    [row] = deliveries(engine)
    assert (row.status, row.attempts, row.status_code, row.last_error) == (
        "pending",
        1,
        503,
        "HTTP 503",
    )
    with session_scope(engine) as session:
        job = session.execute(select(Job).where(Job.kind == "event_out")).scalars().one()
    assert job.status == "pending" and 25 < (job.run_at - utcnow()).total_seconds() <= 30
    make_jobs_due(engine)
    run(drain(local, engine, channels))
    make_jobs_due(engine)
    run(drain(local, engine, channels))
    [row] = deliveries(engine)
    assert (row.status, row.attempts, row.status_code) == ("delivered", 3, 200)
    assert len(receiver.received) == 3 and len({b for _, b in receiver.received}) == 1

    receiver.received.clear()
    receiver.statuses.append(410)
    signup(app_client)
    run(drain(local, engine, channels))
    refused = deliveries(engine)[-1]
    assert (refused.status, refused.attempts, refused.status_code) == ("failed", 1, 410)
    assert refused.body is None and len(receiver.received) == 1

    # the receiver gone: a network error, retried
    put(app_client, {"webhook_url": f"http://127.0.0.1:{free_port()}/hook"})
    signup(app_client)
    run(drain(local, engine, channels))
    down = deliveries(engine)[-1]
    assert down.status == "pending" and down.last_error.startswith("network: ")
    log = app_client.get("/app/api/events/deliveries", headers=bearer()).json()["deliveries"]
    assert log[0]["status"] == "pending" and log[0]["error"].startswith("network: ")
    assert log[1]["status"] == "failed" and log[1]["status_code"] == 410


def test_no_url_no_events(app_client, engine, local, fake_shopify, receiver):
    setup_shop(engine, local, fake_shopify)
    signup(app_client)
    run(drain(local, engine, recording_channels()))
    assert deliveries(engine) == [] and receiver.received == []


def test_the_delivery_log_needs_a_session(app_client):
    assert app_client.get("/app/api/events/deliveries").status_code == 401
