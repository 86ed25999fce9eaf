"""Real `shopify-app serve` and `worker` processes for the tests that need several (scale-out,
faults, concurrency), and waiting on them."""

import contextlib
import os
import subprocess
import sys
import time

import httpx

from .support import API_KEY, API_SECRET, SECRET_KEY, free_port


@contextlib.contextmanager
def serving_processes(database_url: str, count: int = 2, **settings: str):
    """`count` real `shopify-app serve` processes on one database (production settings with the
    test secrets, no worker); yield an httpx client for each, once each answers /healthz."""
    import subprocess

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


def app_env(settings, **extra) -> dict[str, str]:
    """The environment of a real `shopify-app` process: this one's, minus any ambient provider
    settings, plus every set field of `settings` (a Settings) and `extra`."""

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

    try:
        return httpx.get(f"{base_url}{path}", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def stop_process(process, *, grace: float = 20.0) -> int | None:
    """SIGTERM, then SIGKILL after `grace` seconds; the exit status."""

    if process.poll() is None:
        process.terminate()
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
    return process.returncode
