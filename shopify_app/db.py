"""The engine and sessions. SQLite (one process, the embedded default) or PostgreSQL."""

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, TypeGuard, TypeVar, cast

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Connection,
    CursorResult,
    Engine,
    Result,
    Table,
    any_,
    bindparam,
    create_engine,
    event,
    text,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session

T = TypeVar("T")
# Independent reads of one request, each on its own pooled connection (see `concurrently`).
_readers = ThreadPoolExecutor(max_workers=8, thread_name_prefix="reads")


# hide_parameters: a database error's message must not carry the bound values (names, phones)
# into the logs.


def make_engine(url: str, *, pool_size: int = 40, max_overflow: int = 10) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, hide_parameters=True
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    # As many pooled connections as the threads that use them (anyio's default limit is 40):
    # overflow connections are closed on return, so a smaller pool churned connections under load.
    # DATABASE_POOL_SIZE and DATABASE_MAX_OVERFLOW set them per process (docs/deploy.md).
    return create_engine(
        url,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_pre_ping=True,
        pool_recycle=1800,
        hide_parameters=True,
    )


def make_async_engine(url: str, *, pool_size: int = 20) -> AsyncEngine | None:
    """PostgreSQL's async engine (psycopg), for endpoints hot enough that a thread per request costs
    more than the work; None on SQLite, whose one writer gains nothing from it."""
    if url.startswith("sqlite"):
        return None
    # No pre-ping (a round trip per request): callers retry once on a connection found dead.
    return create_async_engine(
        url, pool_size=pool_size, max_overflow=0, pool_recycle=1800, hide_parameters=True
    )


async def run_async(
    engine: AsyncEngine, work: Callable[[Connection], T], *, autocommit: bool = False
) -> T:
    """`work(connection)` on a pooled async connection, in one transaction (or in autocommit, for
    a single statement: no BEGIN and COMMIT round trips). A connection found dead (the database
    restarted; there is no pre-ping) is dropped and the work run once more: nothing was written."""

    async def attempt() -> T:
        async with engine.connect() as connection:
            if autocommit:
                connection = await connection.execution_options(isolation_level="AUTOCOMMIT")
                return await connection.run_sync(work)
            async with connection.begin():
                return await connection.run_sync(work)

    try:
        return await attempt()
    except DBAPIError as exc:
        if not exc.connection_invalidated:
            raise
    return await attempt()


def is_transient(exc: BaseException) -> TypeGuard[DBAPIError]:
    """A failure of the database rather than of what we asked it (a lost connection, a restart, a
    lock or deadlock, a busy SQLite file): the same work may succeed later. Anything else (a value
    refused, a constraint) fails again however often it is tried."""
    return isinstance(exc, DBAPIError) and (
        exc.connection_invalidated or isinstance(exc, OperationalError)
    )


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session whose transaction commits on success and rolls back on error."""
    with Session(engine, expire_on_commit=False) as session, session.begin():
        yield session


def ping(engine: Engine) -> bool:
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return True
    except Exception:
        return False


def rowcount(result: Result[Any]) -> int:
    """The rows an UPDATE or DELETE run through `Session.execute` matched: the session types its
    answer as a Result; a DML statement's is a CursorResult, which counts them."""
    return cast(CursorResult[Any], result).rowcount


def dialect_of(session: OrmSession | Connection) -> str:
    return (
        session.dialect.name if isinstance(session, Connection) else session.get_bind().dialect.name
    )


def among(session: OrmSession | Connection, column: Any, ids: list[int]) -> ColumnElement[bool]:
    """`column IN (ids)`. On PostgreSQL `column = ANY(ids)`, one array parameter: an IN list of a
    worker's 500 ids is rendered, bound and parsed anew on every execution (~10% of the worker's
    CPU, bench/fanout.py --profile); the array's statement is the same text for any count."""
    if dialect_of(session) == "postgresql":
        array = postgresql.ARRAY(BigInteger)
        return column == any_(sql_cast(bindparam(None, list(ids), type_=array), array))
    return column.in_(ids)


def dialect_insert_for(dialect: str, table: Table):
    """An INSERT that knows `ON CONFLICT` (PostgreSQL's and SQLite's own insert constructs)."""
    return {"postgresql": postgresql, "sqlite": sqlite}[dialect].insert(table)


def dialect_insert(session: OrmSession | Connection, table: Table):
    return dialect_insert_for(dialect_of(session), table)


def insert_ignoring_conflicts(
    session: OrmSession | Connection, table: Table, values: dict[str, Any]
):
    """`INSERT ... ON CONFLICT DO NOTHING`: the database settles races on unique keys."""
    return dialect_insert(session, table).values(**values).on_conflict_do_nothing()


def concurrently(engine: Engine, *work: Callable[[Connection], Any]) -> list[Any]:
    """Each read in `work` on a connection of its own at the same time (PostgreSQL; its results in
    order), so a page made of several counts waits for the longest, not their sum. Each sees its
    own snapshot. SQLite runs them one after another on one connection."""
    if engine.dialect.name != "postgresql":
        with engine.connect() as connection:
            return [read(connection) for read in work]

    def run(read: Callable[[Connection], Any]) -> Any:
        with engine.connect() as connection:
            return read(connection)

    futures = [_readers.submit(run, read) for read in work[1:]]
    first = run(work[0])  # the calling thread does its share
    return [first, *(future.result() for future in futures)]
