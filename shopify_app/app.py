"""create_app(): the Starlette application, its routes and the lifespan that owns the engine and
the shared HTTP client."""

import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable

from sqlalchemy.exc import DBAPIError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response

import webhooks

from . import logs
from .config import Settings, load_settings
from .db import is_transient, make_async_engine, make_engine
from .errors import ApiError, PageError
from .first_signup import GroupFirstSignup
from .http_client import http_client
from .middleware import RequestLog, SecurityHeaders
from .notify.service import running_worker
from .ratelimit import SignupLimits
from .routes import admin, api, auth, dev, flow, health, links, merchant_api, metrics, proxy
from .routes.responses import errors, render_api_error, render_http_error, render_page_error

log = logging.getLogger(__name__)


async def _server_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error", extra={"path": logs.redact_path(request.url.path)})
    return SecurityHeaders.add_to(
        errors(500, "Something went wrong on our side; nothing was changed. Please try again.")
    )


async def _database_unavailable(request: Request, exc: Exception) -> Response:
    """The database restarting or out of reach (a lost or refused connection): nothing was
    written, and the client should try again shortly (503, Retry-After), not read a 500."""
    if not is_transient(exc):
        raise exc
    log.warning(
        "database unavailable",
        extra={"path": logs.redact_path(request.url.path), "error": type(exc.orig).__name__},
    )
    return errors(
        503,
        "The service is briefly unavailable; nothing was changed. Please try again.",
        headers={"Retry-After": "1"},
    )


def create_app(
    settings: Settings | None = None,
    *,
    clock: Callable[[], float] = time.time,
    run_worker: bool = True,
) -> Starlette:
    """The app; `run_worker=False` leaves the notification worker out whatever the settings say (tests)."""
    settings = settings or load_settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        engine = make_engine(
            settings.DATABASE_URL,
            pool_size=settings.DATABASE_POOL_SIZE,
            max_overflow=settings.DATABASE_MAX_OVERFLOW,
        )
        async_engine = make_async_engine(
            settings.DATABASE_URL, pool_size=settings.DATABASE_ASYNC_POOL_SIZE
        )
        async with http_client(settings) as http:
            app.state.engine = engine
            app.state.async_engine = async_engine
            app.state.http = http
            app.state.signup_limits = SignupLimits(settings, engine, async_engine)
            app.state.first_signups = (
                GroupFirstSignup(engine=engine, async_engine=async_engine)
                if async_engine is not None
                else None
            )
            if settings.is_development:
                await dev.on_startup(app)
            try:
                if settings.WORKER_IN_PROCESS and run_worker:
                    async with running_worker(settings, engine, http):
                        yield
                else:
                    yield
            finally:
                engine.dispose()
                if async_engine is not None:
                    await async_engine.dispose()

    app = Starlette(
        routes=[
            *health.routes,
            *metrics.routes,
            *auth.routes,
            *merchant_api.routes,
            *api.routes,
            *proxy.routes,
            *webhooks.routes,
            *flow.routes,
            *links.routes,
            *admin.routes,
            *(dev.routes if settings.is_development else []),
        ],
        middleware=[Middleware(RequestLog), Middleware(SecurityHeaders)],
        exception_handlers={
            ApiError: render_api_error,
            PageError: render_page_error,
            HTTPException: render_http_error,
            DBAPIError: _database_unavailable,
            500: _server_error,
        },
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.clock = clock
    app.state.blocks_seen = set()  # shops whose block was seen on the storefront (routes/proxy.py)
    return app


def configure_logging(settings: Settings) -> None:
    logs.configure(settings.LOG_LEVEL)
