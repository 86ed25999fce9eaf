"""What a job's handler and a periodic task get from the worker that runs them (procrastinate's
`JobContext`): the settings, the engine, the shared HTTP client, the channels, the renderer, and
the Admin API for a shop. A handler reaches for nothing else of the worker.

A handler whose shop must reconnect gets `shop_tokens.ReconnectNeeded` from `api(shop)`'s first
call and lets it rise: the worker then parks the job (`jobs.wait_for_token`) until the shop has a
token again."""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
from sqlalchemy.engine import Engine

from .config import Settings
from .db import session_scope
from .notify.base import Channel
from .notify.render import Renderer
from .shopify_graphql import AdminApi, StoredTokens

# the shop's row (`shops` table), as the worker read it for the job: a RowMapping, whose keys
# SQLAlchemy types as a column or its name
ShopRow = Mapping[Any, Any]
T = TypeVar("T")


@dataclass(frozen=True)
class JobContext:
    settings: Settings
    engine: Engine
    http: httpx.AsyncClient
    channels: Mapping[str, Channel]
    renderer: Renderer
    worker: str  # the worker's name, for log lines

    def api(self, shop: ShopRow) -> AdminApi:
        """The shop's Admin API, with its stored token (renewed as needed)."""
        return AdminApi(
            self.http,
            self.settings,
            shop["domain"],
            StoredTokens(self.engine, self.settings, shop["id"]),
        )

    def in_session(self, function: Callable[..., T], *args: Any) -> T:
        """`function(session, *args)` in a transaction of its own (call it in a thread)."""
        with session_scope(self.engine) as session:
            return function(session, *args)
