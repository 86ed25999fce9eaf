"""Prometheus metrics (prometheus-client): what every process counts, and the text `GET /metrics`
answers (routes/metrics.py).

With PROMETHEUS_MULTIPROC_DIR set in the environment (read by prometheus-client itself when it is
imported, not from `.env`), every process writes its counts to its own files in that directory and a
scrape of any `serve` process adds up all of them: several serve processes, uvicorn's workers and
the `worker` processes. Without it, a scrape shows the one process it reached.

Labels are bounded: a route is its path template, a method one of the standard ones, a channel one
of ours. The outbox's depth is not counted by anyone: it is read from the database at each scrape.
"""

import logging
import os
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from starlette.routing import BaseRoute, Mount
from starlette.types import Scope

from .models import Notification, NotificationStatus

log = logging.getLogger(__name__)
NAMESPACE = "backinstock"
MULTIPROC_DIR = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
# The `_created` series (a gauge per labelled counter) exist only without PROMETHEUS_MULTIPROC_DIR:
# left out, a scrape reads the same either way.
disable_created_metrics()
# Our metrics' own registry: a scrape without PROMETHEUS_MULTIPROC_DIR reads it; with it, the files.
REGISTRY = CollectorRegistry(auto_describe=True)
if MULTIPROC_DIR:  # without it, the first request's count would fail to open its file
    os.makedirs(MULTIPROC_DIR, exist_ok=True)

HTTP_REQUESTS = Counter(
    "http_requests",
    "HTTP requests answered, by route (its path template), method and status",
    ["route", "method", "status"],
    namespace=NAMESPACE,
    registry=REGISTRY,
)
HTTP_LATENCY = Histogram(
    "http_request_duration_seconds",
    "Time from a request's arrival to the end of its answer",
    ["route", "method"],
    namespace=NAMESPACE,
    registry=REGISTRY,
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
WEBHOOK_LAG = Histogram(
    "webhook_lag_seconds",
    "Time from X-Shopify-Triggered-At to the verified delivery's arrival here",
    ["topic"],
    namespace=NAMESPACE,
    registry=REGISTRY,
    buckets=(0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 14400, 86400),
)
SENDS = Counter(
    "sends",
    "Send attempts of alerts, by channel and result (sent, retry, failed)",
    ["channel", "result"],
    namespace=NAMESPACE,
    registry=REGISTRY,
)
SEND_LATENCY = Histogram(
    "send_duration_seconds",
    "Time of one call to a channel's provider (SMTP, Twilio, a push service)",
    ["channel"],
    namespace=NAMESPACE,
    registry=REGISTRY,
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
TOKEN_REFRESHES = Counter(
    "token_refreshes",
    "Renewals of a shop's Admin API token at Shopify (refresh or migration), by result",
    ["result"],
    namespace=NAMESPACE,
    registry=REGISTRY,
)
RATE_LIMIT_PAUSES = Counter(
    "rate_limit_pauses",
    "Pauses of a channel's sending because its provider asked to slow down",
    ["channel"],
    namespace=NAMESPACE,
    registry=REGISTRY,
)

# -- HTTP requests (called by middleware.RequestLog for every request) -----------------------

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "unmatched"  # no route: a 404 or a slash redirect, whatever the path was
_templates: dict[
    int, str
] = {}  # id(route) -> its full path template; routes live as long as the app
_children: dict[tuple[str, str, int], tuple[Any, Any]] = {}  # labelled counter and histogram


def _walk(routes: Iterable[BaseRoute], prefix: str = "") -> Iterator[tuple[BaseRoute, str]]:
    for route in routes:
        path = prefix + getattr(route, "path", "")
        if isinstance(route, Mount):
            yield route, path + "/{path}"  # a mounted app without routes of its own (static files)
            yield from _walk(route.routes, path)
        else:
            yield route, path


def route_template(scope: Scope) -> str:
    route = scope.get("route")
    if route is None:
        return UNMATCHED
    template = _templates.get(id(route))
    if template is None:
        _templates.update((id(r), t) for r, t in _walk(getattr(scope.get("app"), "routes", ())))
        template = _templates.setdefault(id(route), getattr(route, "path", UNMATCHED))
    return template


def observe_request(scope: Scope, status: int, seconds: float) -> None:
    method = scope["method"] if scope["method"] in METHODS else "other"
    key = (route_template(scope), method, status)
    children = _children.get(key)
    if children is None:  # labels() takes a lock and converts its values: once per key
        children = _children.setdefault(
            key,
            (
                HTTP_REQUESTS.labels(key[0], method, str(status)),
                HTTP_LATENCY.labels(key[0], method),
            ),
        )
    children[0].inc()
    children[1].observe(seconds)


# -- what the other modules record ----------------------------------------------------------


def observe_webhook_lag(topic: str, triggered_at: datetime | None, now: float) -> None:
    """`now` in seconds since the epoch; a trigger time ahead of our clock counts as no lag."""
    if triggered_at is not None:
        WEBHOOK_LAG.labels(topic).observe(max(0.0, now - triggered_at.timestamp()))


def record_send(channel: str, result: str) -> None:
    SENDS.labels(channel, result).inc()


def send_timer(channel: str) -> Any:
    """A context manager timing one call to the channel's provider (raised or not)."""
    return SEND_LATENCY.labels(channel).time()


def record_token_refresh(result: str) -> None:
    TOKEN_REFRESHES.labels(result).inc()


def record_rate_limit_pause(channel: str) -> None:
    """Count one pause of `channel` (a provider's 429 / Retry-After, SMTP 421/451)."""
    RATE_LIMIT_PAUSES.labels(channel).inc()


# -- a scrape -------------------------------------------------------------------------------

notifications = Notification.__table__
WAITING = (
    NotificationStatus.pending.value,
    NotificationStatus.sending.value,
    NotificationStatus.held.value,
)


def outbox_depth(engine: Engine) -> dict[str, int] | None:
    """Notifications not yet sent, by status; None while the database does not answer. Sent and
    failed rows are left out: they only grow, and counting them would cost more every day. The
    status index (ix_notification_due) makes this a range scan over what is waiting."""
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                select(notifications.c.status, func.count())
                .where(notifications.c.status.in_(WAITING))
                .group_by(notifications.c.status)
            ).all()
    except SQLAlchemyError as exc:
        log.warning("outbox depth not read", extra={"error": type(exc).__name__})
        return None
    counts = dict.fromkeys(WAITING, 0)
    counts.update((status, count) for status, count in rows)
    return counts


class _OutboxDepth(Collector):
    def __init__(self, counts: Mapping[str, int]) -> None:
        self.counts = counts

    def collect(self) -> Iterable[Metric]:
        gauge = GaugeMetricFamily(
            f"{NAMESPACE}_outbox_depth",
            "Notifications waiting to be sent, by status (read from the database at this scrape)",
            labels=["status"],
        )
        for status, count in self.counts.items():
            gauge.add_metric([status], count)
        yield gauge


class _ThisProcess(Collector):
    def collect(self) -> Iterable[Metric]:
        return REGISTRY.collect()


# What generate_latest writes: the classic text format, which every Prometheus reads.
CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4


def exposition(engine: Engine) -> bytes:
    """The Prometheus text format of every process's metrics and the outbox's depth now."""
    registry = CollectorRegistry()
    if MULTIPROC_DIR:
        MultiProcessCollector(registry, MULTIPROC_DIR)
    else:
        registry.register(_ThisProcess())
    counts = outbox_depth(engine)
    if counts is not None:
        registry.register(_OutboxDepth(counts))
    return generate_latest(registry)
