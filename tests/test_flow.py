"""Shopify Flow (issue 18 item 9): the trigger extensions as Shopify's CLI expects them, Flow's
lifecycle callback (HMAC-verified, stored per shop and trigger, newest word wins), and
`flowTriggerReceive` fired by the worker, retried, only for the triggers a shop has on: a signup,
an alert sent, high demand reached."""

import json
import re
import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select, update

from shopify_app import events_out, tasks
from shopify_app.db import session_scope
from shopify_app.flow import FLOW_TRIGGER_MUTATION
from shopify_app.models import EventDelivery, FlowTrigger, Job, utcnow
from shopify_app.notify.worker import Worker

from .fakes.admin_schema import validation_errors
from .notify.helpers import (
    PRODUCT,
    SHOP,
    VARIANT,
    level_webhook,
    recording_channels,
    run,
    setup_shop,
    signup,
)
from .support import webhook_headers

ROOT = Path(__file__).resolve().parent.parent
EXTENSIONS = ROOT / "extensions"
# Shopify's Flow trigger reference: the reference fields and the custom field types
REFERENCE_FIELDS = {"customer_reference": "customer_id", "product_reference": "product_id"}
REFERENCE_FIELDS |= {"order_reference": "order_id"}
CUSTOM_TYPES = {
    "boolean",
    "email",
    "single_line_text_field",
    "number_decimal",
    "url",
    "date",
    "date_time",
}
HANDLE = re.compile(r"[A-Za-z0-9-]{1,30}")


def configs(kind: str) -> dict[str, dict]:
    found = {}
    for path in sorted(EXTENSIONS.glob("*/shopify.extension.toml")):
        config = tomllib.loads(path.read_text())
        for extension in config.get("extensions", []):
            if extension["type"] == kind:
                found[extension["handle"]] = config
    return found


def payload_keys(config: dict) -> set[str]:
    keys = set()
    for field in config["settings"]["fields"]:
        if field["type"] in REFERENCE_FIELDS:
            keys.add(REFERENCE_FIELDS[field["type"]])
        else:
            assert field["type"] in CUSTOM_TYPES, field
            assert field["key"].strip() and field.get("description"), field
            keys.add(field["key"])
    return keys


def test_the_trigger_extensions_are_as_the_cli_expects():
    triggers = configs("flow_trigger")
    assert (
        set(triggers)
        == events_out.FLOW_HANDLES
        == {
            "signup-created",
            "alert-sent",
            "high-demand-reached",
        }
    )
    names = set()
    for handle, config in triggers.items():
        [extension] = config["extensions"]
        assert HANDLE.fullmatch(handle) and extension["name"] and extension["description"]
        names.add(extension["name"])
        assert payload_keys(config)
    assert names == {
        "Back in stock signup created",
        "Back in stock alert sent",
        "High demand reached",
    }
    [lifecycle] = configs("flow_trigger_lifecycle_callback").values()
    [extension] = lifecycle["extensions"]
    assert extension["url"].startswith("https://") and extension["url"].endswith("/flow/lifecycle")
    app = tomllib.loads((ROOT / "shopify.app.toml").read_text())
    assert extension["url"].startswith(app["application_url"].rstrip("/"))


def test_the_mutation_is_valid_against_the_2026_10_schema():
    assert validation_errors(FLOW_TRIGGER_MUTATION) == []


def callback(client, handle, enabled, *, at=None, domain=SHOP, secret=None):
    body = json.dumps(
        {
            "flow_trigger_definition_id": handle,
            "has_enabled_flow": enabled,
            "shop_id": 690933842,
            "shopify_domain": domain,
            "timestamp": (at or datetime.now(UTC)).isoformat(),
        }
    ).encode()
    headers = webhook_headers(body, "flow", domain, webhook_id="x")
    if secret is not None:
        headers = webhook_headers(body, "flow", domain, webhook_id="x", secret=secret)
    return client.post(
        "/flow/lifecycle",
        content=body,
        headers={
            "X-Shopify-Hmac-Sha256": headers["X-Shopify-Hmac-Sha256"],
            "Content-Type": "application/json",
        },
    )


def enabled(engine) -> dict[str, bool]:
    with session_scope(engine) as session:
        rows = session.execute(select(FlowTrigger)).scalars()
        return {r.handle: r.enabled for r in rows}


def test_the_lifecycle_callback_is_verified_and_stored_newest_first(
    client, engine, settings, fake_shopify
):
    setup_shop(engine, settings, fake_shopify)
    forged = callback(client, "signup-created", True, secret="not-the-app-secret")
    assert forged.status_code == 401 and enabled(engine) == {}
    unsigned = client.post("/flow/lifecycle", content=b"{}")
    assert unsigned.status_code == 401 and "errors" in unsigned.json()

    now = datetime.now(UTC)
    assert callback(client, "signup-created", True, at=now).json() == {"ok": True}
    assert callback(client, "alert-sent", True, at=now).status_code == 200
    assert enabled(engine) == {"signup-created": True, "alert-sent": True}
    # an older callback arriving late changes nothing; a newer one does
    assert callback(client, "signup-created", False, at=now - timedelta(minutes=5)).is_success
    assert enabled(engine)["signup-created"] is True
    assert callback(client, "signup-created", False, at=now + timedelta(seconds=1)).is_success
    assert enabled(engine) == {"signup-created": False, "alert-sent": True}
    # a shop the app does not know: answered, nothing stored
    assert callback(client, "alert-sent", True, domain="gone.myshopify.com").status_code == 200
    assert len(enabled(engine)) == 2


@pytest.mark.parametrize(
    ("handle", "flag", "why"),
    [
        ("someone-elses-trigger", True, "flow_trigger_definition_id"),
        ("alert-sent", "yes", "has_enabled_flow"),
    ],
)
def test_a_bad_callback_is_a_400_that_stores_nothing(
    client, engine, settings, fake_shopify, handle, flag, why
):
    setup_shop(engine, settings, fake_shopify)
    response = callback(client, handle, flag)
    assert response.status_code == 400 and why in response.json()["errors"][0]
    assert enabled(engine) == {}


async def work(settings, engine, channels, *, demand=False):
    async with httpx.AsyncClient() as http:
        worker = Worker(settings, engine, http, channels)
        if demand:
            tasks.check_demand(worker.context)
        await worker.drain()


def deliveries(engine) -> list[EventDelivery]:
    with session_scope(engine) as session:
        return list(session.execute(select(EventDelivery).order_by(EventDelivery.id)).scalars())


def test_triggers_fire_only_for_the_workflows_a_shop_has_on(client, engine, settings, fake_shopify):
    setup_shop(engine, settings, fake_shopify, high_demand_threshold=2)
    channels = recording_channels()
    signup(client)
    run(work(settings, engine, channels, demand=True))
    assert fake_shopify.flow_triggers == [] and deliveries(engine) == []  # Flow not in use

    for handle in ("signup-created", "alert-sent", "high-demand-reached"):
        assert callback(client, handle, True).status_code == 200
    shopper = signup(client, email="grace@example.com")
    run(work(settings, engine, channels, demand=True))
    by_handle = {c["handle"]: c for c in fake_shopify.flow_triggers}
    assert set(by_handle) == {"signup-created", "high-demand-reached"}
    created = by_handle["signup-created"]
    assert created["shop"] == SHOP and created["payload"] == {
        "product_id": PRODUCT,
        "Variant ID": f"gid://shopify/ProductVariant/{VARIANT}",
        "Variant title": "Green / M",
        "Channel": "email",
        "Email": "grace@example.com",
        "Phone": "",
        "Quantity": 1,
    }
    assert by_handle["high-demand-reached"]["payload"] == {
        "product_id": PRODUCT,
        "Variant ID": f"gid://shopify/ProductVariant/{VARIANT}",
        "Variant title": "Green / M",
        "Waiting": 2,
        "Threshold": 2,
    }
    calls = [c for c in fake_shopify.graphql_calls if "flowTriggerReceive(" in c["query"]]
    assert calls and all(c["errors"] == [] for c in calls)  # valid against the 2026-10 schema
    # each payload carries the fields its trigger extension declares, and only those
    triggers = configs("flow_trigger")
    for handle, call in by_handle.items():
        assert set(call["payload"]) == payload_keys(triggers[handle]), handle

    fake_shopify.flow_triggers.clear()
    level_webhook(client, 5)
    run(work(settings, engine, channels))
    sent = [c for c in fake_shopify.flow_triggers if c["handle"] == "alert-sent"]
    assert len(sent) == 2 and {c["payload"]["Email"] for c in sent} >= {"grace@example.com"}
    assert set(sent[0]["payload"]) == payload_keys(triggers["alert-sent"])
    assert {d.target for d in deliveries(engine)} == {"flow"}
    assert all(d.status == "delivered" for d in deliveries(engine))
    assert shopper["id"]


def test_a_failing_shopify_is_retried_a_user_error_is_not(client, engine, settings, fake_shopify):
    setup_shop(engine, settings, fake_shopify)
    channels = recording_channels()
    signup(client)
    run(work(settings, engine, channels))  # the variant read from the API, before Flow is on
    callback(client, "signup-created", True)
    fake_shopify.graphql_failures.extend([500] * 5)  # every try of the first attempt
    signup(client)
    run(work(settings, engine, channels))
    [row] = deliveries(engine)
    assert row.status == "pending" and "HTTP 500" in row.last_error
    with session_scope(engine) as session:
        session.execute(update(Job).where(Job.status == "pending").values(run_at=utcnow()))
    run(work(settings, engine, channels))
    [row] = deliveries(engine)
    assert (row.status, row.attempts) == ("delivered", 2)
    assert len(fake_shopify.flow_triggers) == 1

    fake_shopify.flow_user_errors.append("Invalid payload")
    signup(client)
    run(work(settings, engine, channels))
    refused = deliveries(engine)[-1]
    assert (refused.status, refused.attempts) == ("failed", 1)
    assert refused.last_error == "userErrors: Invalid payload" and refused.body is None
