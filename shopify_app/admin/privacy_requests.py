"""The admin's view of the shop's customer data requests (the privacy page and its JSON): when,
their state and the Shopify ids; the customer's contact is inside the download only."""

from typing import Any

from sqlalchemy import Connection, select

from ..data_requests import iso, requests
from ..models import DataRequestStatus


def _public(row) -> dict[str, Any]:
    """A request as the admin lists it: when, its state, and the Shopify ids; the customer's contact
    is inside the download only."""
    return {
        "id": row.id,
        "shopify_data_request_id": row.shopify_request_id,
        "status": row.status,
        "requested_at": iso(row.requested_at),
        "ready_at": iso(row.ready_at),
        "merchant_notified_at": iso(row.merchant_notified_at),
        "download_url": f"/app/api/data-requests/{row.id}"
        if row.status == DataRequestStatus.ready.value
        else None,
    }


LISTED = [
    requests.c.id,
    requests.c.shopify_request_id,
    requests.c.status,
    requests.c.requested_at,
    requests.c.ready_at,
    requests.c.merchant_notified_at,
]


def list_for_shop(connection: Connection, shop_id: int, limit: int = 200) -> dict[str, Any]:
    rows = connection.execute(
        select(*LISTED)
        .where(requests.c.shop_id == shop_id)
        .order_by(requests.c.requested_at.desc(), requests.c.id.desc())
        .limit(limit)
    ).all()
    return {"data_requests": [_public(r) for r in rows]}


class NotReady(Exception):
    """The request is still being assembled."""


def download(connection: Connection, shop_id: int, request_id: int) -> tuple[str, str] | None:
    """(file name, JSON) of one of the shop's requests; None for another shop's or an unknown id;
    NotReady while the worker has not assembled it."""
    row = connection.execute(
        select(requests.c.id, requests.c.status, requests.c.payload, requests.c.requested_at).where(
            requests.c.id == request_id, requests.c.shop_id == shop_id
        )
    ).first()
    if row is None:
        return None
    if row.status != DataRequestStatus.ready.value or row.payload is None:
        raise NotReady(f"data request {row.id}: not ready yet; the app emails you when it is")
    return f"data-request-{row.id}-{row.requested_at:%Y%m%d}.json", row.payload
