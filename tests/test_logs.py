"""Logs are JSON lines, one per request with the shop, and never carry secrets or contacts."""

import json
import logging

import pytest

from shopify_app import logs
from shopify_app.notify.render import optin_token, unsubscribe_token

from .support import consent, install_shop, start_install


@pytest.fixture
def log_lines(capsys, client, fake_shopify):
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    logs.configure("INFO")
    yield lambda: [
        json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")
    ]
    root.handlers[:], root.level = saved
    logging.getLogger("uvicorn.access").disabled = False


def test_requests_are_logged_without_secrets_or_contacts(
    log_lines, client, fake_shopify, settings, shop
):
    callback = consent(client, fake_shopify, start_install(client, "logged-shop.myshopify.com"))
    assert client.get(callback, follow_redirects=False).status_code == 302
    payload = {
        "intent": {
            "shopify_variant_id": 1,
            "shopify_product_id": 2,
            "channel": "sms",
            "quantity": 1,
            "source": "api",
        },
        "customer": {"email": "jane.doe@example.com", "phone": "447911123456"},
    }
    client.post("/api/v1/intents.json", json=payload, headers={"X-Shopify-Shop-Domain": shop})
    logging.getLogger("shopify_app.test").info(
        "contact jane.doe@example.com +447911123456 shpat_0123456789abcdef"
    )
    lines = log_lines()
    text = json.dumps(lines)
    requests = [line for line in lines if line["msg"] == "request"]
    assert {r["path"] for r in requests} >= {"/auth", "/auth/callback", "/api/v1/intents.json"}
    assert all(r.get("shop") for r in requests)
    secrets = [
        fake_shopify.tokens["logged-shop.myshopify.com"],
        settings.SHOPIFY_API_SECRET,
        settings.SECRET_KEY,
        "jane.doe@example.com",
        "447911123456",
        "shpat_0123456789abcdef",
        "code=",
    ]
    for secret in secrets:
        assert secret not in text, secret
    assert "j***@example.com" in text


def test_redact():
    assert logs.redact("to jane@example.com") == "to j***@example.com"
    assert logs.redact("sms +14155552671 sent") == "sms +14***71 sent"
    assert logs.redact('{"access_token": "abc"}') == '{"access_token": "[redacted]"}'
    assert (
        logs.redact("variant 271878346596884015 at 2026-11-22T10:00:00")
        == "variant 271878346596884015 at 2026-11-22T10:00:00"
    )


def test_database_errors_carry_no_bound_values(engine):
    """A failed statement, as its log line is written, names no value a shopper gave: SQLAlchemy
    hides the bound parameters, the formatter PostgreSQL's DETAIL (the failing row)."""
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    with pytest.raises(DBAPIError) as failed, engine.begin() as conn:
        conn.execute(
            text("INSERT INTO customer (id, shop_id, name) VALUES (:id, :shop, :name)"),
            {"id": "x", "shop": -1, "name": "Victoria Secretname"},
        )
    record = logging.makeLogRecord(
        {
            "msg": "unhandled error",
            "levelno": logging.ERROR,
            "levelname": "ERROR",
            "exc_info": (type(failed.value), failed.value, failed.tb),
        }
    )
    line = logs.JsonFormatter().format(record)
    assert "Secretname" not in line and "hide_parameters" in line


def test_no_log_record_holds_a_shopper_links_token(caplog, client, engine, settings):
    install_shop(engine, settings, double_optin=True)
    response = client.post(
        "/api/v1/intents.json",
        headers={"X-Shopify-Shop-Domain": "demo-shop.myshopify.com"},
        json={
            "intent": {
                "shopify_variant_id": 1,
                "shopify_product_id": 2,
                "channel": "email",
                "quantity": 1,
                "source": "api",
            },
            "customer": {"email": "ann@example.com"},
        },
    )
    intent_id = response.json()["intents"][0]["id"]
    tokens = [
        optin_token(settings.SECRET_KEY, intent_id),
        unsubscribe_token(settings.SECRET_KEY, intent_id),
    ]
    caplog.clear()
    with caplog.at_level(logging.DEBUG):
        for path in (f"/optin/{tokens[0]}", f"/unsubscribe/{tokens[1]}"):
            assert client.get(path).status_code == 200 and client.post(path).status_code == 200
    # the app's records (the test client's own httpx lines name the URL it asked for)
    records = [r for r in caplog.records if not r.name.startswith("httpx")]
    lines = [json.dumps({**vars(r), "msg": r.getMessage()}, default=str) for r in records]
    assert {r.path for r in records if r.getMessage() == "request"} == {
        "/optin/[redacted]",
        "/unsubscribe/[redacted]",
    }
    for token in tokens:
        assert not any(token.rsplit(".", 1)[1] in line for line in lines), (
            token
        )  # not even its signature
    assert (
        logs.redact("see https://app.example.test/optin/WzEsMl0.aw_REw.sig now")
        == "see https://app.example.test/optin/[redacted] now"
    )
