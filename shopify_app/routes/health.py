"""Probes for the load balancer."""

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..db import ping
from .responses import JSON


async def healthz(request: Request) -> Response:
    return JSON({"status": "ok"})


async def readyz(request: Request) -> Response:
    if await run_in_threadpool(ping, request.app.state.engine):
        return JSON({"status": "ready"})
    return JSON(
        {"status": "unavailable", "errors": ["The database does not answer"]}, status_code=503
    )


routes = [
    Route("/healthz", healthz, methods=["GET", "HEAD"]),
    Route("/readyz", readyz, methods=["GET", "HEAD"]),
]
