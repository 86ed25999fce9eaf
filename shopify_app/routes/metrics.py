"""`GET /metrics` for Prometheus: off (404, as for any path the app does not have) while
METRICS_TOKEN is unset, else only with `Authorization: Bearer <METRICS_TOKEN>`."""

import hmac

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .. import metrics as app_metrics
from .responses import errors


def _presented(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


async def metrics(request: Request) -> Response:
    expected = request.app.state.settings.METRICS_TOKEN
    if not expected:
        raise HTTPException(404)
    presented = _presented(request)
    if presented is None or not hmac.compare_digest(presented.encode(), expected.encode()):
        return errors(
            401,
            "A valid metrics token is required: Authorization: Bearer <METRICS_TOKEN>",
            headers={"WWW-Authenticate": "Bearer"},
        )
    body = await run_in_threadpool(app_metrics.exposition, request.app.state.engine)
    return Response(body, media_type=app_metrics.CONTENT_TYPE)


routes = [Route("/metrics", metrics, methods=["GET"])]
