"""Group commit: rows from concurrent requests written by one multi-row `INSERT ... ON CONFLICT DO
NOTHING RETURNING key` in one commit, each request awaiting its own row's outcome.

A request hands its row over and awaits a future that is settled only after the statement has
committed: True if its row was inserted, False if its key (or another unique column) was there
already. At most `flights` statements are in flight at once (PostgreSQL: on the app's async
engine, in autocommit; SQLite: one, in a thread); whatever arrives meanwhile goes into the next
one, so under load one commit carries many rows and at low load a row waits for nothing.

If a batch fails on a value (not on the database itself), its rows are written one by one so that
one bad row cannot fail the others; a transient failure (connection lost, database restarting)
fails every row of the batch and the callers answer 5xx, so the sender retries.
"""

import asyncio
from collections.abc import Sequence
from typing import Any

from anyio import to_thread
from sqlalchemy import Connection, Engine, Table
from sqlalchemy.ext.asyncio import AsyncEngine

from .db import dialect_insert_for, is_transient, run_async

Row = dict[str, Any]


class GroupWriter:
    """The mechanics of group commit: callers queue an item and await its future; at most
    `flights` batches are written at once, each of up to `max_rows` items. Subclasses write a
    batch and settle its futures (`_write_batch`)."""

    def __init__(
        self,
        *,
        engine: Engine,
        async_engine: AsyncEngine | None = None,
        max_rows: int = 256,
        flights: int | None = None,
    ):
        self.engine, self.async_engine = engine, async_engine
        self.max_rows = max_rows
        # SQLite has one writer: a second statement in flight would only wait for the first.
        self.flights = flights or (2 if async_engine is not None else 1)
        self.dialect = "postgresql" if async_engine is not None else engine.dialect.name
        self._queue: list[tuple[Any, asyncio.Future]] = []
        self._in_flight = 0
        self._tasks: set[asyncio.Task] = set()

    async def submit(self, item: Any) -> Any:
        future = asyncio.get_running_loop().create_future()
        self._queue.append((item, future))
        if self._in_flight < self.flights:
            self._in_flight += 1
            task = asyncio.create_task(self._flush())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return await future

    async def _flush(self) -> None:
        try:
            while self._queue:
                batch, self._queue = self._queue[: self.max_rows], self._queue[self.max_rows :]
                await self._write_batch(batch)
        finally:
            self._in_flight -= 1

    async def _write_batch(self, batch: list[tuple[Any, asyncio.Future]]) -> None:
        raise NotImplementedError

    async def run(self, work, *args: Any) -> Any:
        """`work(connection, *args)` in one transaction: autocommit on PostgreSQL's async engine
        (one statement), a thread on SQLite."""
        if self.async_engine is not None:
            return await run_async(
                self.async_engine, lambda connection: work(connection, *args), autocommit=True
            )

        def in_thread() -> Any:
            with self.engine.begin() as connection:
                return work(connection, *args)

        return await to_thread.run_sync(in_thread)


class GroupInsert(GroupWriter):
    def __init__(
        self,
        table: Table,
        key: str,
        *,
        engine: Engine,
        async_engine: AsyncEngine | None = None,
        unique: tuple[str, ...] = (),
        max_rows: int = 256,
        flights: int | None = None,
    ):
        super().__init__(
            engine=engine, async_engine=async_engine, max_rows=max_rows, flights=flights
        )
        self.table, self.key, self.unique = table, key, (key, *unique)
        self.statement = (
            dialect_insert_for(self.dialect, table).on_conflict_do_nothing().returning(table.c[key])
        )

    async def insert(self, row: Row) -> bool:
        """Write `row` (with the rows of whoever else is waiting); True once it is committed, False
        if it was a duplicate. Raises what the database raised if it could not be written."""
        return await self.submit(row)

    async def _write_batch(self, batch: list[tuple[Row, asyncio.Future]]) -> None:
        # A key repeated within the batch (a re-delivery racing its original) is written once; the
        # repeats share the first one's fate, as duplicates.
        first: dict[tuple[str, Any], int] = {}
        written, repeats = [], []
        for index, (row, _) in enumerate(batch):
            seen = next(
                (
                    first[(c, row[c])]
                    for c in self.unique
                    if row.get(c) is not None and (c, row[c]) in first
                ),
                None,
            )
            if seen is None:
                for c in self.unique:
                    if row.get(c) is not None:
                        first[(c, row[c])] = index
                written.append(index)
            else:
                repeats.append((index, seen))
        outcomes: dict[int, bool | BaseException] = {}
        try:
            inserted = set(await self._insert([batch[i][0] for i in written]))
            outcomes.update({i: batch[i][0][self.key] in inserted for i in written})
        except Exception as exc:
            if is_transient(exc) or len(written) == 1:
                outcomes.update(dict.fromkeys(written, exc))
            else:
                for i in written:  # one bad row must not fail the others
                    try:
                        outcomes[i] = bool(await self._insert([batch[i][0]]))
                    except Exception as single:
                        outcomes[i] = single
        for index, seen in repeats:
            outcomes[index] = outcomes[seen] if isinstance(outcomes[seen], BaseException) else False
        for index, (_, future) in enumerate(batch):
            if future.done():  # the request was cancelled (client gone)
                continue
            outcome = outcomes[index]
            if isinstance(outcome, BaseException):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)

    async def _insert(self, rows: list[Row]) -> Sequence[Any]:
        return await self.run(self._execute, rows)

    def _execute(self, connection: Connection, rows: list[Row]) -> Sequence[Any]:
        return connection.execute(self.statement, rows).scalars().all()
