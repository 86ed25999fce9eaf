"""Helpers for tests: run an ASGI app on a real port, sign like Shopify does."""

import base64
import contextlib
import hashlib
import hmac
import socket
import threading
import time
from collections.abc import Iterator
from urllib.parse import urlencode

import uvicorn

API_KEY = "test-api-key"
API_SECRET = (
    "hush-test-api-secret-7f3a9c51"  # distinctive: the run searches logs and answers for it
)
SECRET_KEY = "test-secret-key-0123456789-abcdefghijklmnop"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def serve_in_thread(app, port: int | None = None) -> Iterator[str]:
    """Serve `app` with uvicorn on 127.0.0.1 in a background thread; yield its base URL."""
    port = port or free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("test server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def signed_query(params: dict[str, str], secret: str = API_SECRET) -> str:
    """A query string signed the way Shopify signs admin requests and OAuth callbacks."""
    message = "&".join(f"{k}={v}" for k, v in sorted(params.items()))
    digest = hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()
    return urlencode({**params, "hmac": digest})


def webhook_headers(
    body: bytes,
    topic: str,
    shop: str,
    *,
    webhook_id: str,
    event_id: str | None = None,
    secret: str = API_SECRET,
) -> dict[str, str]:
    digest = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
    headers = {
        "X-Shopify-Hmac-Sha256": digest,
        "X-Shopify-Topic": topic,
        "X-Shopify-Shop-Domain": shop,
        "X-Shopify-Webhook-Id": webhook_id,
        "X-Shopify-API-Version": "2026-10",
        "X-Shopify-Triggered-At": "2026-11-22T10:00:00.000000Z",
        "Content-Type": "application/json",
    }
    if event_id:
        headers["X-Shopify-Event-Id"] = event_id
    return headers


# Generated-case counts per property test, printed at the end of the run (conftest).
CASE_COUNTS: dict[str, dict[str, int]] = {}


def proxy_query(
    shop: str,
    *,
    logged_in_customer_id: str = "",
    timestamp: int | None = None,
    secret: str = API_SECRET,
    extra: dict[str, str] | None = None,
) -> str:
    """The query Shopify's app proxy appends to a forwarded request, signed as Shopify signs it."""
    params = {
        **(extra or {}),
        "shop": shop,
        "logged_in_customer_id": logged_in_customer_id,
        "path_prefix": "/apps/back-in-stock",
        "timestamp": str(int(time.time()) if timestamp is None else timestamp),
    }
    message = "".join(f"{k}={v}" for k, v in sorted(params.items()))
    params["signature"] = hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()
    return urlencode(params)


def json_values():
    """Hypothesis: any JSON value, with the numbers and strings that broke parsers before (huge
    integers, superscript and Arabic-Indic digits, 5,000-digit strings, NUL)."""
    from hypothesis import strategies as st

    return st.recursive(
        st.none()
        | st.booleans()
        | st.integers()
        | st.integers(min_value=-(2**80), max_value=2**80)
        | st.floats()
        | st.text(max_size=40)
        | st.sampled_from(["²", "٣", "9" * 30, "9" * 5000, "\x00", "1\x00"]),
        lambda inner: (
            st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
        ),
        max_leaves=12,
    )


@contextlib.contextmanager
def serving_processes(database_url: str, count: int = 2, **settings: str):
    """`count` real `shopify-app serve` processes on one database (production settings with the
    test secrets, no worker); yield an httpx client for each, once each answers /healthz."""
    import os
    import subprocess
    import sys

    import httpx

    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SHOPIFY_", "SMTP_", "TWILIO_", "VAPID_", "REDIS_URL"))
    }
    env.update(
        SHOPIFY_API_KEY=API_KEY,
        SHOPIFY_API_SECRET=API_SECRET,
        SECRET_KEY=SECRET_KEY,
        APP_ENV="production",
        DATABASE_URL=database_url,
        WORKER_IN_PROCESS="false",
        LOG_LEVEL="WARNING",
        **settings,
    )
    with contextlib.ExitStack() as stack:
        clients = []
        for port in (free_port() for _ in range(count)):
            process = subprocess.Popen(
                [sys.executable, "-m", "shopify_app", "serve", "--port", str(port)],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            stack.callback(lambda p=process: (p.terminate(), p.wait(15)))
            clients.append(
                stack.enter_context(httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10))
            )
        for client in clients:
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                try:
                    if client.get("/healthz").status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.05)
        yield clients


# -- Real app processes (shared by the end-to-end kill tests and tests/faults) ------------------------


def app_env(settings, **extra) -> dict[str, str]:
    """The environment of a real `shopify-app` process: this one's, minus any ambient provider
    settings, plus every set field of `settings` (a Settings) and `extra`."""
    import os

    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SHOPIFY_", "SMTP_", "TWILIO_", "VAPID_", "REDIS_URL"))
    }
    env.update(
        {name: str(value) for name, value in settings.model_dump().items() if value is not None}
    )
    env.update({name: str(value) for name, value in extra.items()})
    return env


def worker_process(settings, *, log_to=None, **extra):
    """A real `shopify-app worker` with `settings`; its stdout and stderr piped (or to `log_to`, a
    file: a long run fills a pipe nobody reads)."""
    import subprocess
    import sys

    out = subprocess.PIPE if log_to is None else log_to
    return subprocess.Popen(
        [sys.executable, "-m", "shopify_app", "worker"],
        env=app_env(settings, **extra),
        stdout=out,
        stderr=subprocess.STDOUT if log_to is not None else subprocess.PIPE,
        text=True,
    )


def serve_process(settings, port: int, *, log_to=None, **extra):
    """A real `shopify-app serve --port port` with `settings` (WORKER_IN_PROCESS as they say)."""
    import subprocess
    import sys

    out = subprocess.PIPE if log_to is None else log_to
    return subprocess.Popen(
        [sys.executable, "-m", "shopify_app", "serve", "--port", str(port)],
        env=app_env(settings, **extra),
        stdout=out,
        stderr=subprocess.STDOUT if log_to is not None else subprocess.PIPE,
        text=True,
    )


def wait_for(condition, timeout: float = 20.0, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return False


def answers(base_url: str, path: str = "/readyz") -> bool:
    import httpx

    try:
        return httpx.get(f"{base_url}{path}", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def stop_process(process, *, grace: float = 20.0) -> int | None:
    """SIGTERM, then SIGKILL after `grace` seconds; the exit status."""
    import subprocess

    if process.poll() is None:
        process.terminate()
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
    return process.returncode
