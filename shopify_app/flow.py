"""Shopify Flow: the app's triggers (extensions/flow-*: "Back in stock signup created", "Back in
stock alert sent", "High demand reached"), which shops use them, and firing one.

Shopify Flow calls the app's lifecycle callback (extensions/flow-lifecycle, `POST
/flow/lifecycle`, signed like a webhook with the app's secret) when a shop turns on or off a
workflow that starts with one of the triggers: `lifecycle` keeps the latest word per shop and
trigger (a late, older callback changes nothing). Events (events_out.py) go to Flow only for a
trigger a shop has on; the worker fires each with `flowTriggerReceive` (`fire`)."""

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, select, update

from .db import insert_ignoring_conflicts
from .events_out import FLOW_HANDLES
from .models import FlowTrigger, Shop
from .shopify_graphql import AdminApi, AdminApiError, RetryableApiError

triggers, shops = FlowTrigger.__table__, Shop.__table__

FLOW_TRIGGER_MUTATION = """
mutation FireFlowTrigger($handle: String!, $payload: JSON!) {
  flowTriggerReceive(handle: $handle, payload: $payload) {
    userErrors { field message }
  }
}
"""


class BadCallback(ValueError):
    pass


@dataclass(frozen=True)
class Lifecycle:
    handle: str
    enabled: bool
    domain: str
    at: datetime


def parse_lifecycle(raw: bytes) -> Lifecycle:
    """Flow's callback body: `flow_trigger_definition_id` (the trigger's handle),
    `has_enabled_flow`, `shopify_domain`, `timestamp`; BadCallback for anything else."""
    try:
        body = json.loads(raw)
    except ValueError:
        raise BadCallback("body: not JSON") from None
    if not isinstance(body, dict):
        raise BadCallback("body: must be a JSON object")
    handle, enabled = body.get("flow_trigger_definition_id"), body.get("has_enabled_flow")
    domain, stamp = body.get("shopify_domain"), body.get("timestamp")
    problems = []
    if not isinstance(handle, str) or handle not in FLOW_HANDLES:
        problems.append("flow_trigger_definition_id: not one of this app's triggers")
    if not isinstance(enabled, bool):
        problems.append("has_enabled_flow: must be true or false")
    if not isinstance(domain, str) or not domain:
        problems.append("shopify_domain: required")
    at = None
    if isinstance(stamp, str):
        try:
            at = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
        except ValueError:
            at = None
    if at is None:
        problems.append("timestamp: must be an ISO 8601 time")
    if problems:
        raise BadCallback("; ".join(problems))
    assert isinstance(handle, str) and isinstance(domain, str) and at is not None
    at = at if at.tzinfo else at.replace(tzinfo=UTC)
    return Lifecycle(handle, bool(enabled), domain.lower(), at.astimezone(UTC))


def lifecycle(connection: Connection, callback: Lifecycle) -> bool:
    """Store the callback's word for its shop (False: a shop this app does not know)."""
    shop_id = connection.execute(
        select(shops.c.id).where(shops.c.domain == callback.domain)
    ).scalar()
    if shop_id is None:
        return False
    row = {
        "shop_id": shop_id,
        "handle": callback.handle,
        "enabled": callback.enabled,
        "changed_at": callback.at,
    }
    inserted = connection.execute(
        insert_ignoring_conflicts(connection, triggers, row).returning(triggers.c.shop_id)
    ).first()
    if inserted is None:
        connection.execute(
            update(triggers)
            .where(
                triggers.c.shop_id == shop_id,
                triggers.c.handle == callback.handle,
                triggers.c.changed_at <= callback.at,
            )
            .values(enabled=callback.enabled, changed_at=callback.at)
        )
    return True


def enabled_handles(connection: Connection, shop_id: int) -> list[str]:
    return sorted(
        connection.execute(
            select(triggers.c.handle).where(
                triggers.c.shop_id == shop_id, triggers.c.enabled.is_(True)
            )
        ).scalars()
    )


@dataclass(frozen=True)
class Fired:
    delivered: bool
    retry: bool
    error: str | None


async def fire(api: AdminApi, handle: str, payload: dict[str, Any]) -> Fired:
    """`flowTriggerReceive`: Flow runs the shop's workflows that start with `handle`. A userError
    or a refused call is not retried; a failure of Shopify (5xx, throttling, the network) is."""
    try:
        data = await api.query(FLOW_TRIGGER_MUTATION, {"handle": handle, "payload": payload})
    except RetryableApiError as exc:
        return Fired(False, True, str(exc)[:255])
    except AdminApiError as exc:
        return Fired(False, False, str(exc)[:255])
    result = data.get("flowTriggerReceive") or {}
    errors = result.get("userErrors") or []
    if errors:
        messages = "; ".join(str(e.get("message", e)) for e in errors if isinstance(e, dict))
        return Fired(False, False, f"userErrors: {messages}"[:255])
    return Fired(True, False, None)
