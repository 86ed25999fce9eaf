"""A private PostgreSQL cluster for the tests that restart the database: other people's tests use
the shared server at the same time, so it is never the one restarted. `initdb` and `pg_ctl` from
Debian's /usr/lib/postgresql/<version>/bin, a data directory in a temporary folder, a free port; run
as the `postgres` user when this runs as root (initdb refuses root)."""

import contextlib
import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg

from ..support import free_port


def binaries() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(found[-1]).parent if found else None


class PrivatePostgres:
    def __init__(self, folder: Path, port: int, bin_dir: Path, as_user: list[str]):
        self.folder, self.port, self.bin, self.as_user = folder, port, bin_dir, as_user
        self.data = folder / "data"
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{port}/faults"

    def _run(self, *args: str, timeout: float = 60) -> None:
        subprocess.run(
            [*self.as_user, *args],
            check=True,
            timeout=timeout,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    def pg_ctl(self, *args: str, timeout: float = 60) -> None:
        self._run(
            str(self.bin / "pg_ctl"),
            "-D",
            str(self.data),
            "-w",
            "-t",
            str(int(timeout)),
            *args,
            timeout=timeout + 5,
        )

    def restart(self) -> None:
        """`pg_ctl restart -m fast`: every connection is cut, the server is back when this returns."""
        self.pg_ctl("-m", "fast", "-l", str(self.folder / "postgres.log"), "restart")


@contextlib.contextmanager
def private_postgres() -> Iterator[PrivatePostgres]:
    import pytest

    bin_dir = binaries()
    if bin_dir is None or not (bin_dir / "initdb").exists():
        pytest.skip(
            "PostgreSQL's server binaries (initdb, pg_ctl under /usr/lib/postgresql/*/bin) are not installed"
        )
    as_user: list[str] = []
    folder = Path(tempfile.mkdtemp(prefix="faults-pg-"))
    if os.geteuid() == 0:
        if shutil.which("runuser") is None:
            pytest.skip(
                "running as root without runuser: cannot start a private PostgreSQL as another user"
            )
        as_user = ["runuser", "-u", "postgres", "--"]
        shutil.chown(folder, "postgres", "postgres")
    cluster = PrivatePostgres(folder, free_port(), bin_dir, as_user)
    try:
        cluster._run(
            str(bin_dir / "initdb"),
            "-D",
            str(cluster.data),
            "-U",
            "postgres",
            "-A",
            "trust",
            "--no-sync",
            "-E",
            "UTF8",
            timeout=120,
        )
        with open(cluster.data / "postgresql.conf", "a") as conf:
            conf.write(
                f"\nport = {cluster.port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{folder}'\n"
                "fsync = off\nmax_connections = 200\nshared_buffers = 64MB\n"
            )
        cluster.pg_ctl("-l", str(folder / "postgres.log"), "start")
        with psycopg.connect(
            f"postgresql://postgres@127.0.0.1:{cluster.port}/postgres", autocommit=True
        ) as conn:
            conn.execute("CREATE DATABASE faults")
        yield cluster
    finally:
        with contextlib.suppress(Exception):
            cluster.pg_ctl("-m", "immediate", "stop", timeout=30)
        shutil.rmtree(folder, ignore_errors=True)
