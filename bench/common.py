"""Shared by the benchmarks: fresh databases, processes, free ports, bulk seeding."""

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
SECRETS = {
    "APP_ENV": "production",
    "SHOPIFY_API_KEY": "bench0123456789abcdef",
    "SHOPIFY_API_SECRET": "shpss_bench_0123456789abcdef0123456789",
    "SECRET_KEY": "bench-secret-key-0123456789-abcdefghijklmnop",
    "LOG_LEVEL": "WARNING",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def fresh_database(backend: str) -> Iterator[str]:
    """A new, empty database URL; dropped afterwards."""
    if backend == "sqlite":
        folder = Path(tempfile.mkdtemp(prefix="bench-"))
        try:
            yield f"sqlite:///{folder / 'bench.sqlite3'}"
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return
    name = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield (
            PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
            + f"/{name}"
        )
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def app_env(database_url: str, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SHOPIFY_", "SMTP_", "TWILIO_", "VAPID_"))
    }
    env.update(SECRETS, DATABASE_URL=database_url, **{k: str(v) for k, v in extra.items()})
    return env


LOGS = Path(tempfile.gettempdir()) / "bench-logs"


def start(args: list[str], env: dict[str, str] | None = None, **kw) -> subprocess.Popen:
    """Start a process; its output goes to a file in LOGS (a pipe nobody reads would stop it once
    full), named after the command."""
    LOGS.mkdir(exist_ok=True)
    name = "-".join(a for a in args[1:4] if not a.startswith("-")).replace("/", "_") or "process"
    log = open(LOGS / f"{name}.log", "wb")  # noqa: SIM115 (the child holds it)
    return subprocess.Popen(args, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, **kw)


def shopify_app(*args: str) -> list[str]:
    return [sys.executable, "-m", "shopify_app", *args]


def wait_http(url: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            time.sleep(0.05)
    raise RuntimeError(f"{url} did not answer")


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    """The process's CPU time so far (user + system), from /proc/PID/stat."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()  # the name in (...) may hold spaces
    utime, stime = int(fields[11]), int(fields[12])
    return (utime + stime) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return (
        ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]
        if ordered
        else float("nan")
    )
