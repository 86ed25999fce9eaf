"""`customers/data_request` (issue 10 section 2): answered 200 at once with the request and its job
filed; the worker assembles what the app holds on that customer in that shop as JSON, marks it
ready and emails the merchant (over SMTP, to the shop's email from the Admin API) that it is ready,
without the data; the admin lists and downloads it for that shop only; `customers/redact` removes it."""

import json
import time

import httpx
import pytest
from sqlalchemy import func, select, update

from shopify_app.db import session_scope
from shopify_app.models import DataRequest, Intent, Job, Shop
from shopify_app.notify.channels import build_channels
from shopify_app.notify.worker import Worker

from .admin.tokens import OTHER, bearer
from .notify.helpers import (
    LOCATION,
    LOCATION2,
    SHOP,
    VARIANT,
    RecordingChannel,
    level_webhook,
    run,
    setup_shop,
)
from .support import install_shop, webhook_headers

MERCHANT = "owner@demo-shop.example"
VICTIM = {
    "email": "dora@example.com",
    "phone": "447911123789",
    "name": "Dora Requester",
    "shopify_customer_id": "555000111",
}
REQUEST = {
    "shop_id": 1,
    "shop_domain": SHOP,
    "orders_requested": [299938, 280263],
    "customer": {"id": 555000111, "email": "Dora@Example.com", "phone": "+44 7911 123789"},
    "data_request": {"id": 9999},
}


def signup(client, channel="email", shop=SHOP, variant=VARIANT, **customer):
    response = client.post(
        "/api/v1/intents.json",
        headers={"X-Shopify-Shop-Domain": shop},
        json={
            "intent": {
                "shopify_variant_id": variant,
                "shopify_product_id": 632910392,
                "channel": channel,
                "quantity": 1,
                "source": "api",
            },
            "customer": {**customer, "accepts_marketing": True} if channel == "email" else customer,
            "product": {"title": "Linen Shirt", "variant_title": "Green / M"},
        },
    )
    assert response.status_code == 201, response.text
    return response.json()["intents"][0]


def deliver(client, payload, shop=SHOP, webhook_id="dr-1", topic="customers/data_request"):
    body = json.dumps(payload).encode()
    return client.post(
        f"/webhooks/{topic}",
        content=body,
        headers=webhook_headers(body, topic, shop, webhook_id=webhook_id),
    )


async def work(settings, engine):
    """A worker with the real SMTP channel (shoppers' and merchant's email) and a recorded SMS one."""
    channels = {**build_channels(settings), "sms": RecordingChannel("sms")}
    try:
        async with httpx.AsyncClient() as http:
            await Worker(settings, engine, http, channels).drain()
    finally:
        await channels["email"].aclose()


def requests(engine) -> list[DataRequest]:
    with session_scope(engine) as session:
        return list(session.execute(select(DataRequest).order_by(DataRequest.id)).scalars())


@pytest.fixture
def history(client, engine, settings, mail_settings, smtp, fake_shopify):
    """A double opt-in shop where the customer signed up by email (confirmed) and by SMS, was
    alerted on a restock; a bystander; another shop with a shopper of the same email."""
    item = setup_shop(engine, settings, fake_shopify, double_optin=True)
    install_shop(engine, settings, OTHER)
    email_signup = signup(client, **VICTIM)
    sms_signup = signup(client, "sms", **VICTIM)
    signup(client, email="bystander@example.com", name="Bea")
    signup(client, shop=OTHER, email="dora@example.com")
    run(work(mail_settings, engine))  # the opt-in confirmations
    with session_scope(engine) as session:  # the email signup confirmed (as POST /optin/… does)
        session.execute(
            update(Intent).where(Intent.id == email_signup["id"]).values(optin_confirmed=True)
        )
    item.levels = {LOCATION: 5, LOCATION2: 0}
    level_webhook(client, 5)
    run(work(mail_settings, engine))  # the alert
    smtp.recorder.received.clear()
    return {"email": email_signup, "sms": sms_signup}


@pytest.mark.slow
def test_the_webhook_files_it_and_answers_at_once(client, engine, settings, history, fake_shopify):
    calls = len(fake_shopify.graphql_calls)
    started = time.monotonic()
    response = deliver(client, REQUEST)
    assert response.status_code == 200 and time.monotonic() - started < 3.0
    [request] = requests(engine)
    assert (
        request.status,
        request.shopify_request_id,
        request.email,
        request.phone,
        request.shopify_customer_id,
    ) == ("pending", 9999, "dora@example.com", "+447911123789", "555000111")
    assert (
        request.payload is None and len(fake_shopify.graphql_calls) == calls
    )  # nothing done in the request
    with session_scope(engine) as session:
        job = session.execute(select(Job).where(Job.kind == "data_request")).scalar_one()
        assert (job.status, job.key, job.shop_id) == ("pending", str(request.id), request.shop_id)
    assert deliver(client, REQUEST).status_code == 200  # a redelivery files nothing more
    assert len(requests(engine)) == 1


def test_the_worker_assembles_everything_and_emails_the_merchant(
    client, engine, settings, mail_settings, smtp, history
):
    assert deliver(client, REQUEST).status_code == 200
    run(work(mail_settings, engine))
    [request] = requests(engine)
    assert request.status == "ready" and request.ready_at and request.merchant_notified_at
    data = json.loads(request.payload)
    assert data["shop"] == SHOP and data["data_request"]["shopify_data_request_id"] == 9999

    [customer] = data["customers"]
    assert (
        customer["email"],
        customer["phone"],
        customer["name"],
        customer["shopify_customer_id"],
    ) == ("dora@example.com", "+447911123789", "Dora Requester", "555000111")
    by_channel = {s["channel"]: s for s in data["signups"]}
    # not the bystander's, not the other shop's
    assert sorted(by_channel) == ["email", "sms"] and len(data["signups"]) == 2
    email = by_channel["email"]
    assert (
        email["id"],
        email["email"],
        email["shopify_variant_id"],
        email["product_title"],
        email["status"],
    ) == (history["email"]["id"], "dora@example.com", VARIANT, "Linen Shirt", "notified")
    assert email["consent"]["accepts_marketing"] is True and email["consent"]["consent_at"]
    assert email["consent"]["source"] == "api" and email["created_at"] and email["notified_at"]
    assert (
        by_channel["sms"]["phone"] == "+447911123789" and by_channel["sms"]["status"] == "pending"
    )
    assert by_channel["sms"]["consent"] == {
        "accepts_marketing": False,
        "consent_at": None,
        "source": "api",
    }

    messages = {(m["kind"], m["channel"]): m for m in data["messages"]}
    assert sorted(messages) == [("alert", "email"), ("optin", "email"), ("optin", "sms")]
    alert = messages[("alert", "email")]
    assert (alert["address"], alert["status"], alert["attempts"], alert["signup_id"]) == (
        "dora@example.com",
        "sent",
        1,
        history["email"]["id"],
    )
    assert alert["sent_at"]
    assert messages[("optin", "sms")]["address"] == "+447911123789"
    confirmations = {c["channel"]: c for c in data["optin_confirmations"]}
    assert (
        confirmations["email"]["confirmed"] is True and confirmations["sms"]["confirmed"] is False
    )
    assert (
        confirmations["email"]["sent_to"] == "dora@example.com"
        and confirmations["email"]["status"] == "sent"
    )
    assert "bystander" not in request.payload and "Bea" not in request.payload

    [mail] = smtp.recorder.received
    assert (
        mail.recipients == [MERCHANT]
        and mail.message["Subject"] == "A customer data request is ready to download"
    )
    raw = mail.raw.decode()
    assert (
        f"https://{SHOP}/admin/apps/test-api-key/app/privacy"
        in mail.message.get_body(("plain",)).get_content()
    )
    assert not any(v in raw for v in ("dora@", "Dora", "123789", "555000111")), (
        "the email carries no customer data"
    )

    run(work(mail_settings, engine))
    assert len(smtp.recorder.received) == 1  # emailed once


def test_a_customer_we_do_not_know_gets_an_empty_file(
    client, engine, settings, mail_settings, smtp, fake_shopify
):
    setup_shop(engine, settings, fake_shopify)
    deliver(client, {**REQUEST, "customer": {"id": 1, "email": "nobody@example.com"}})
    run(work(mail_settings, engine))
    [request] = requests(engine)
    data = json.loads(request.payload)
    assert (
        request.status == "ready" and data["customers"] == data["signups"] == data["messages"] == []
    )
    assert data["customer_as_requested"]["email"] == "nobody@example.com"
    assert [m.recipients for m in smtp.recorder.received] == [[MERCHANT]]


def test_an_unknown_shop_files_nothing(client, engine, settings, fake_shopify):
    setup_shop(engine, settings, fake_shopify)
    assert (
        deliver(
            client,
            {**REQUEST, "shop_domain": "stranger.myshopify.com"},
            shop="stranger.myshopify.com",
        ).status_code
        == 200
    )
    assert requests(engine) == []


def test_the_admin_lists_and_downloads_it_for_that_shop_only(
    client, engine, settings, mail_settings, history
):
    deliver(client, REQUEST)
    [pending] = client.get("/app/api/data-requests", headers=bearer()).json()["data_requests"]
    assert pending["status"] == "pending" and pending["download_url"] is None
    assert (
        client.get(f"/app/api/data-requests/{pending['id']}", headers=bearer()).status_code == 409
    )
    run(work(mail_settings, engine))

    listed = client.get("/app/api/data-requests", headers=bearer())
    assert listed.status_code == 200
    [row] = listed.json()["data_requests"]
    assert (
        row["status"] == "ready"
        and row["shopify_data_request_id"] == 9999
        and row["merchant_notified_at"]
    )
    assert "dora" not in listed.text.lower()  # the list names no one; the file does
    download = client.get(row["download_url"], headers=bearer())
    assert download.status_code == 200 and download.headers["content-type"].startswith(
        "application/json"
    )
    disposition = download.headers["content-disposition"]
    assert disposition.startswith("attachment; filename=") and disposition.rstrip('"').endswith(
        ".json"
    )
    assert download.json()["customers"][0]["email"] == "dora@example.com"

    assert (
        client.get(row["download_url"], headers=bearer(OTHER)).status_code == 404
    )  # another shop's id
    assert client.get("/app/api/data-requests", headers=bearer(OTHER)).json() == {
        "data_requests": []
    }
    assert client.get("/app/api/data-requests/999999", headers=bearer()).status_code == 404
    assert client.get("/app/api/data-requests/x", headers=bearer()).status_code == 404
    assert client.get(row["download_url"]).status_code == 401  # no session token


def test_redacting_the_customer_removes_their_data_requests(
    client, engine, settings, mail_settings, history
):
    deliver(client, REQUEST)
    deliver(
        client,
        {
            **REQUEST,
            "customer": {"id": 1, "email": "bystander@example.com"},
            "data_request": {"id": 2},
        },
        webhook_id="dr-2",
    )
    run(work(mail_settings, engine))
    assert len(requests(engine)) == 2
    deliver(
        client,
        {
            "shop_id": 1,
            "shop_domain": SHOP,
            "orders_to_redact": [],
            "customer": {"id": 555000111, "email": "dora@example.com", "phone": None},
        },
        webhook_id="redact-1",
        topic="customers/redact",
    )
    [left] = requests(engine)
    assert left.email == "bystander@example.com"


def test_a_redaction_before_the_worker_gets_to_it(
    client, engine, settings, mail_settings, smtp, history
):
    deliver(client, REQUEST)
    deliver(
        client,
        {
            "shop_id": 1,
            "shop_domain": SHOP,
            "orders_to_redact": [],
            "customer": {"id": 555000111, "email": "dora@example.com"},
        },
        webhook_id="redact-1",
        topic="customers/redact",
    )
    run(work(mail_settings, engine))
    assert requests(engine) == [] and smtp.recorder.received == []
    with session_scope(engine) as session:
        assert (
            session.execute(
                select(func.count()).select_from(Job).where(Job.status == "failed")
            ).scalar_one()
            == 0
        )
        assert session.execute(select(func.count()).select_from(Shop)).scalar_one() == 2


@pytest.mark.slow
def test_shopify_down_delays_the_email_not_the_file(
    client, engine, settings, mail_settings, smtp, fake_shopify, history
):
    deliver(client, REQUEST)
    fake_shopify.graphql_failures.extend(
        [429] * 5
    )  # every attempt of the first job run (AdminApi tries 5 times)
    run(work(mail_settings.model_copy(update={"WORKER_POLL_INTERVAL": 0.05}), engine))
    [request] = requests(engine)
    assert request.status == "ready" and request.payload  # the merchant can download it already
    with session_scope(engine) as session:
        job = session.execute(select(Job).where(Job.kind == "data_request")).scalar_one()
    if request.merchant_notified_at is None:  # the retry was not due within that drain
        assert job.status == "pending" and "HTTP 429" in job.last_error
        time.sleep(max(0.0, (job.run_at.timestamp() - time.time())) + 0.05)
        run(work(mail_settings, engine))
    [mail] = smtp.recorder.received
    assert mail.recipients == [MERCHANT]
    with session_scope(engine) as session:
        job = session.execute(select(Job).where(Job.kind == "data_request")).scalar_one()
        assert (job.status, job.attempts) == ("done", 2)
    assert requests(engine)[0].merchant_notified_at is not None
