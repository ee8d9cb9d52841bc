"""Async engine and sessions for SQLite (aiosqlite) and PostgreSQL (asyncpg)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, String, TypeDecorator, event
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

READ_ONLY = "consultbot_read_only"


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def _sqlite_file(url: str) -> None:
    """Create the database file readable by its owner only (0600) before SQLite opens it: it
    holds every answer, and SQLite would otherwise create it (and its journal, which copies the
    file's mode) world-readable under the usual umask."""
    database = make_url(url).database
    if database and database != ":memory:" and not database.startswith("file:"):
        path = Path(database)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not path.exists():
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))


def _configure_sqlite(engine: Engine) -> None:
    """WAL, foreign keys and BEGIN IMMEDIATE on every connection of `engine`."""

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection, _record):  # type: ignore[no-untyped-def]
        # The driver's own transaction handling breaks SAVEPOINTs (a RELEASE would commit
        # the outer work); SQLAlchemy's documented recipe takes over BEGIN ourselves.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _sqlite_begin(conn):  # type: ignore[no-untyped-def]
        # IMMEDIATE takes the write lock up front, so a read-then-write transaction waits
        # (busy_timeout) instead of failing when another writer committed in between.
        # Read-only sessions (Database.read_session) take no lock: WAL readers never wait.
        if conn.get_execution_options().get(READ_ONLY):
            conn.exec_driver_sql("BEGIN")
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")


def create_engine(url: str) -> AsyncEngine:
    """An engine with SQLite in WAL mode and foreign keys on (both are per connection)."""
    if is_sqlite(url):
        _sqlite_file(url)
        # hide_parameters: errors must not carry members' ids or answers into the logs.
        engine = create_async_engine(url, connect_args={"timeout": 30}, hide_parameters=True)
        _configure_sqlite(engine.sync_engine)
        return engine
    # pool_pre_ping: a restarted PostgreSQL is reconnected to without restarting the bot.
    return create_async_engine(
        url, pool_pre_ping=True, pool_size=10, max_overflow=20, hide_parameters=True
    )


def create_sqlite_thread_engine(url: str) -> Engine:
    """A plain (blocking) engine on the same SQLite file, for work done whole in one worker
    thread: through aiosqlite every statement, BEGIN and COMMIT is a separate hop to its
    thread and back, each waiting for a turn of a busy event loop."""
    _sqlite_file(url)
    sync_url = make_url(url).set(drivername="sqlite")
    engine = create_sync_engine(sync_url, connect_args={"timeout": 30}, hide_parameters=True)
    _configure_sqlite(engine)
    return engine


def upsert_insert(dialect: str) -> Any:
    """The dialect's `insert`, the one with ON CONFLICT (both SQLite's and PostgreSQL's)."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert


async def insert_or_ignore(
    session: AsyncSession,
    model: type[Any],
    values: dict[str, Any],
    conflict: list[str],
    returning: Any = None,
) -> Any:
    """INSERT one row unless it conflicts on `conflict` (a unique key), in one statement.

    Returns the `returning` column of the new row (or True) when inserted, None on a conflict.
    Cheaper than SELECT + SAVEPOINT + INSERT + RELEASE on hot paths, and race-free.
    """
    assert session.bind is not None
    insert = upsert_insert(session.bind.dialect.name)
    statement = insert(model).values(**values).on_conflict_do_nothing(index_elements=conflict)
    if returning is None:
        result = await session.exec(statement)  # type: ignore[call-overload]
        return True if result.rowcount == 1 else None
    returned = await session.exec(statement.returning(returning))  # type: ignore[call-overload]
    return returned.scalar_one_or_none()


async def insert_many_or_ignore(
    session: AsyncSession, model: type[Any], rows: list[dict[str, Any]], conflict: list[str]
) -> int:
    """INSERT `rows` (each with the same keys) in the session's transaction, skipping any that
    conflict on `conflict`; returns how many were inserted. One statement for thousands of rows
    (a reminder round), where a statement a row costs a round trip and a compile each."""
    return len(await insert_many_returning(session, model, rows, conflict))


async def insert_many_returning(
    session: AsyncSession, model: type[Any], rows: list[dict[str, Any]], conflict: list[str]
) -> list[Any]:
    """`insert_many_or_ignore`, returning the `conflict` key (a tuple when it has several
    columns) of each row that was inserted: the rows whose key was new."""
    if not rows:
        return []
    assert session.bind is not None
    insert = upsert_insert(session.bind.dialect.name)
    # RETURNING says what was written on both databases (executemany's rowcount does not).
    statement = (
        insert(model)
        .on_conflict_do_nothing(index_elements=conflict)
        .returning(*(getattr(model, name) for name in conflict))
    )
    connection = await session.connection()
    inserted: list[Any] = []
    for start in range(0, len(rows), 500):  # well under either database's parameter limit
        result = await connection.execute(statement, rows[start : start + 500])
        inserted.extend(row[0] if len(conflict) == 1 else tuple(row) for row in result.all())
    return inserted


class Database:
    """The engine plus a session factory; one per process."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = create_engine(url)
        self._sessions = async_sessionmaker(
            self.engine, class_=AsyncSession, expire_on_commit=False
        )
        self._write_turn = asyncio.Lock()
        self._insert_groups: dict[tuple[Any, ...], _GroupInsert] = {}
        self._thread_engine: Engine | None = None
        self._read_sessions = async_sessionmaker(
            self.engine.execution_options(**{READ_ONLY: True}),
            class_=AsyncSession,
            expire_on_commit=False,
        )

    @property
    def is_sqlite(self) -> bool:
        return is_sqlite(self.url)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session whose work is committed on success and rolled back on error."""
        async with self._sessions() as session:
            try:
                yield session
                await session.commit()
            except BaseException:
                await session.rollback()
                raise

    @asynccontextmanager
    async def queued_session(self) -> AsyncIterator[AsyncSession]:
        """`session()` for hot write paths. On SQLite a writer that finds the lock taken sleeps
        in SQLite's busy handler (up to 100 ms a time), so under load the lock sits idle while
        writers sleep; here writers of this process queue first (FIFO) and take it in turn.
        Never open a second write session while holding this one."""
        if not self.is_sqlite:
            async with self.session() as session:
                yield session
            return
        async with self._write_turn, self.session() as session:
            yield session

    async def insert_one(
        self, model: type[Any], values: dict[str, Any], conflict: list[str], returning: Any
    ) -> Any:
        """One INSERT ... ON CONFLICT DO NOTHING, durable when this returns: the cheapest write,
        for the path Slack is waiting on. Returns the `returning` column, or None when a row
        with the same `conflict` key already existed.

        Concurrent calls share a transaction (group commit): while one batch commits, the rows
        that arrive wait and go together in the next. A rush of a hundred submissions then costs
        a few commits rather than a hundred turns of the write lock."""
        key = (model, tuple(conflict), returning)
        group = self._insert_groups.get(key)
        if group is None:
            group = self._insert_groups[key] = _GroupInsert(self, model, conflict, returning)
        return await group.insert(values)

    @asynccontextmanager
    async def read_session(self) -> AsyncIterator[AsyncSession]:
        """A session for reading only. On SQLite it does not take the write lock, so reads on
        hot paths (every submission) do not queue behind writers; never write through it."""
        async with self._read_sessions() as session:
            # Closing returns the connection, which ends the transaction (no commit needed);
            # objects read stay usable, detached.
            yield session

    async def ping(self) -> None:
        from sqlalchemy import text

        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    def thread_engine(self) -> Engine:
        """SQLite only: the blocking engine for whole transactions in a worker thread."""
        if self._thread_engine is None:
            self._thread_engine = create_sqlite_thread_engine(self.url)
        return self._thread_engine

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self._thread_engine is not None:
            self._thread_engine.dispose()


class _GroupInsert:
    """Rows for one table and conflict key, inserted in batches, one transaction per batch.

    No timer: a batch is whatever queued while the previous one was committing, so a lone
    insert goes at once and a rush shares commits."""

    MAX_BATCH = 500

    def __init__(self, db: Database, model: type[Any], conflict: list[str], returning: Any) -> None:
        self.db = db
        self.model = model
        self.conflict = conflict
        self.returning = returning
        self.pending: list[tuple[dict[str, Any], asyncio.Future[Any]]] = []
        self.flushing: asyncio.Task[None] | None = None
        self._unnest: dict[tuple[str, ...], tuple[str, list[Any]]] = {}
        self._sqlite: dict[tuple[str, ...], tuple[str, str, str, list[Any]]] = {}

    async def insert(self, values: dict[str, Any]) -> Any:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.pending.append((values, future))
        if self.flushing is None or self.flushing.done():
            self.flushing = asyncio.create_task(self._flush())
        # A caller that gives up cancels only its own future: the batch is the flushing task's,
        # and _settle passes over a cancelled future.
        return await future

    async def _flush(self) -> None:
        while self.pending:
            batch = self.pending[: self.MAX_BATCH]
            del self.pending[: self.MAX_BATCH]
            try:
                results = await self._write([values for values, _ in batch])
            except Exception as exc:
                if len(batch) == 1:
                    _settle(batch[0][1], exc=exc)
                    continue
                # One bad row must not fail its neighbours: try each alone.
                for values, future in batch:
                    try:
                        _settle(future, (await self._write([values]))[0])
                    except Exception as row_exc:
                        _settle(future, exc=row_exc)
                continue
            for (_, future), result in zip(batch, results, strict=True):
                _settle(future, result)

    def _bind_processors(self, columns: tuple[str, ...], dialect: Any) -> list[Any]:
        """Each column's bind processor for `dialect` (None where the driver takes the value
        as it is): SQLAlchemy's own, so values are stored exactly as through the ORM."""
        table = self.model.__table__
        return [
            dialect.type_descriptor(table.columns[name].type).bind_processor(dialect)
            for name in columns
        ]

    def _write_in_thread(self, rows: list[dict[str, Any]]) -> list[Any]:
        """SQLite: one multi-row INSERT ... RETURNING, its parameters processed here rather
        than by a compiled statement's per-parameter machinery. This runs in a worker thread
        that holds the GIL while Python works, so every microsecond here is one the event
        loop's acks wait for."""
        engine = self.db.thread_engine()
        columns = tuple(rows[0])
        cached = self._sqlite.get(columns)
        if cached is None:
            quote = engine.dialect.identifier_preparer.quote
            cached = self._sqlite[columns] = (
                f"INSERT INTO {quote(self.model.__table__.name)} "
                f"({', '.join(quote(c) for c in columns)}) VALUES ",
                "(" + ", ".join("?" * len(columns)) + ")",
                f" ON CONFLICT ({', '.join(quote(c) for c in self.conflict)}) DO NOTHING "
                f"RETURNING {', '.join(quote(c) for c in [self.returning.key, *self.conflict])}",
                self._bind_processors(columns, engine.dialect),
            )
        head, marks, tail, processors = cached
        params = tuple(
            value if process is None else process(value)
            for row in rows
            for value, process in zip([row[c] for c in columns], processors, strict=True)
        )
        statement = head + ", ".join([marks] * len(rows)) + tail
        with engine.begin() as conn:
            return list(conn.exec_driver_sql(statement, params).all())

    async def _write(self, rows: list[dict[str, Any]]) -> list[Any]:
        """Insert `rows` in one transaction; the `returning` value of each, None where its key
        existed already (or came earlier in the same batch)."""
        if self.db.is_sqlite:
            # The whole transaction in one call to a worker thread (see
            # create_sqlite_thread_engine), in this process's turn for the write lock.
            async with self.db._write_turn:
                returned = await asyncio.to_thread(self._write_in_thread, rows)
        else:
            returned = await self._write_postgresql(rows)
        by_key = {tuple(row[1:]): row[0] for row in returned}
        results: list[Any] = []
        for values in rows:
            # pop: of two rows with one key in a batch, only the first was inserted.
            results.append(by_key.pop(tuple(values[c] for c in self.conflict), None))
        return results

    def _unnest_statement(self, columns: tuple[str, ...]) -> tuple[str, list[Any]]:
        """INSERT ... SELECT FROM unnest(one array per column), and each column's bind
        processor (SQLAlchemy's own: JSON to text, aware datetimes to UTC).

        The statement's text is the same whatever the batch's size, so PostgreSQL prepares it
        once per connection; a multi-row VALUES statement differs for every batch size, and
        SQLAlchemy handles each of its parameters in Python. Measured alone on a rush's inbox
        rows (bench/rush.py's submissions): 25 us a row that way, 11 this way."""
        prepared = self._unnest.get(columns)
        if prepared is None:
            table = self.model.__table__
            dialect = self.db.engine.dialect
            quote = dialect.identifier_preparer.quote

            def array_of(name: str) -> str:
                column_type = table.columns[name].type
                if isinstance(column_type, TypeDecorator):  # e.g. SQLModel's AutoString
                    column_type = column_type.impl_instance
                # No length on the cast: casting truncates, where storing a value too long
                # for the column is refused, as a plain INSERT would be.
                element = (
                    "VARCHAR"
                    if isinstance(column_type, String)
                    else column_type.compile(dialect=dialect)
                )
                return f"{element}[]"

            arrays = ", ".join(f"${n}::{array_of(name)}" for n, name in enumerate(columns, start=1))
            returned = ", ".join(quote(c) for c in [self.returning.key, *self.conflict])
            statement = (
                f"INSERT INTO {quote(table.name)} ({', '.join(quote(c) for c in columns)}) "
                f"SELECT * FROM unnest({arrays}) "
                f"ON CONFLICT ({', '.join(quote(c) for c in self.conflict)}) DO NOTHING "
                f"RETURNING {returned}"
            )
            processors = self._bind_processors(columns, dialect)
            prepared = self._unnest[columns] = (statement, processors)
        return prepared

    async def _write_postgresql(self, rows: list[dict[str, Any]]) -> list[Any]:
        """One INSERT for the batch: atomic on its own, so no BEGIN and COMMIT round trips."""
        columns = tuple(rows[0])
        statement, processors = self._unnest_statement(columns)
        arrays = [
            [row[name] for row in rows] if process is None else [process(row[name]) for row in rows]
            for name, process in zip(columns, processors, strict=True)
        ]
        async with self.db.engine.connect() as conn:
            raw = await conn.get_raw_connection()
            driver = raw.driver_connection  # asyncpg's: outside a transaction, autocommit
            assert driver is not None
            return list(await driver.fetch(statement, *arrays))


def _settle(
    future: asyncio.Future[Any], result: Any = None, *, exc: BaseException | None = None
) -> None:
    if future.done():  # its caller was cancelled
        return
    if exc is not None:
        future.set_exception(exc)
    else:
        future.set_result(result)
