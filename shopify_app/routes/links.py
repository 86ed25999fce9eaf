"""Pages shoppers reach from messages. `GET /unsubscribe/{token}` asks for confirmation (mail
scanners follow links; a GET must change nothing); `POST` unsubscribes, which is also what mail
clients send for one-click unsubscribe (RFC 8058, the `List-Unsubscribe-Post` header)."""

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route
from sqlalchemy import update

from ..db import session_scope
from ..keys import unsign
from ..models import Intent, IntentStatus, utcnow
from ..notify.render import UNSUBSCRIBE_PURPOSE
from .responses import page

TEN_YEARS = 10 * 365 * 24 * 3600


def _intent_id(request: Request) -> int | None:
    settings = request.app.state.settings
    value = unsign(settings.SECRET_KEY, UNSUBSCRIBE_PURPOSE, request.path_params["token"], TEN_YEARS)
    return value if isinstance(value, int) else None


def _unsubscribe(engine, intent_id: int) -> None:
    now = utcnow()
    with session_scope(engine) as session:
        session.execute(
            update(Intent)
            .where(Intent.id == intent_id, Intent.status == IntentStatus.pending.value)
            .values(status=IntentStatus.unsubscribed.value, unsubscribed_at=now, updated_at=now)
        )
        session.execute(
            update(Intent).where(Intent.id == intent_id, Intent.unsubscribed_at.is_(None))
            .values(unsubscribed_at=now, updated_at=now)
        )


async def unsubscribe(request: Request) -> Response:
    intent_id = _intent_id(request)
    if intent_id is None:
        return page(404, "Link not valid", "This unsubscribe link is not valid. It may have been copied incompletely.")
    if request.method == "POST":
        await run_in_threadpool(_unsubscribe, request.app.state.engine, intent_id)
        return page(200, "Unsubscribed", "You will not get any more messages about this product.")
    return HTMLResponse(
        "<!doctype html><html lang=en><meta charset=utf-8><meta name=viewport content='width=device-width,initial-scale=1'>"
        "<title>Unsubscribe</title><body style='font-family:system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem'>"
        "<h1>Unsubscribe</h1><p>Stop messages about this product?</p>"
        "<form method=post><button type=submit style='padding:.6rem 1.2rem'>Unsubscribe</button></form></body></html>"
    )


routes = [Route("/unsubscribe/{token}", unsubscribe, methods=["GET", "POST"])]
