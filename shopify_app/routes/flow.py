"""Shopify Flow's trigger lifecycle callback (flow.py): verified by its HMAC (401), read (400),
stored, answered 200 so the merchant can turn the workflow on."""

import logging

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .. import flow
from ..request_body import BodyTooLarge, read_body
from ..verify import VerificationError, verify_webhook_hmac
from .responses import JSON, errors

log = logging.getLogger(__name__)
MAX_BODY = 16 * 1024


def _store(engine, callback: flow.Lifecycle) -> bool:
    with engine.begin() as connection:
        return flow.lifecycle(connection, callback)


async def lifecycle(request: Request) -> Response:
    try:
        raw = await read_body(request, MAX_BODY)
    except BodyTooLarge:
        return errors(413, "body: larger than 16 KB")
    try:
        verify_webhook_hmac(
            request.app.state.settings.SHOPIFY_API_SECRET,
            raw,
            request.headers.get("x-shopify-hmac-sha256"),
        )
    except VerificationError as exc:
        return errors(401, str(exc))
    try:
        callback = flow.parse_lifecycle(raw)
    except flow.BadCallback as exc:
        return errors(400, str(exc))
    known = await run_in_threadpool(_store, request.app.state.engine, callback)
    log.info(
        "flow trigger lifecycle",
        extra={"trigger": callback.handle, "enabled": callback.enabled, "known_shop": known},
    )
    return JSON({"ok": True})


routes = [Route("/flow/lifecycle", lifecycle, methods=["POST"])]
