"""Serving a fake's ASGI app on a free 127.0.0.1 port from a test: `with serve_in_thread(app) as url`.
The implementation lives in tests/support.py, which the older tests import; this is its home
among the fakes."""

from ..support import free_port, serve_in_thread

__all__ = ["free_port", "serve_in_thread"]
