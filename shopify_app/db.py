"""The engine and sessions. SQLite (one process, the embedded default) or PostgreSQL."""

from collections.abc import Iterator
from contextlib import contextmanager

from typing import Any

from sqlalchemy import Engine, Table, create_engine, event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session


def make_engine(url: str, *, pool_size: int = 20) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    return create_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session whose transaction commits on success and rolls back on error."""
    with Session(engine, expire_on_commit=False) as session:
        with session.begin():
            yield session


def ping(engine: Engine) -> bool:
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return True
    except Exception:
        return False


def dialect_insert(session: Session, table: Table):
    """An INSERT that knows `ON CONFLICT` (PostgreSQL's and SQLite's own insert constructs)."""
    return {"postgresql": postgresql, "sqlite": sqlite}[session.get_bind().dialect.name].insert(table)


def insert_ignoring_conflicts(session: Session, table: Table, values: dict[str, Any]):
    """`INSERT ... ON CONFLICT DO NOTHING`: the database settles races on unique keys."""
    return dialect_insert(session, table).values(**values).on_conflict_do_nothing()
