"""Async engine and sessions for SQLite (aiosqlite) and PostgreSQL (asyncpg)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

READ_ONLY = "consultbot_read_only"


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def create_engine(url: str) -> AsyncEngine:
    """An engine with SQLite in WAL mode and foreign keys on (both are per connection)."""
    if is_sqlite(url):
        database = make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        # hide_parameters: errors must not carry members' ids or answers into the logs.
        engine = create_async_engine(url, connect_args={"timeout": 30}, hide_parameters=True)

        @event.listens_for(engine.sync_engine, "connect")
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

        @event.listens_for(engine.sync_engine, "begin")
        def _sqlite_begin(conn):  # type: ignore[no-untyped-def]
            # IMMEDIATE takes the write lock up front, so a read-then-write transaction waits
            # (busy_timeout) instead of failing when another writer committed in between.
            # Read-only sessions (Database.read_session) take no lock: WAL readers never wait.
            if conn.get_execution_options().get(READ_ONLY):
                conn.exec_driver_sql("BEGIN")
            else:
                conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    # pool_pre_ping: a restarted PostgreSQL is reconnected to without restarting the bot.
    return create_async_engine(
        url, pool_pre_ping=True, pool_size=10, max_overflow=20, hide_parameters=True
    )


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
    if session.bind.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    statement = insert(model).values(**values).on_conflict_do_nothing(index_elements=conflict)
    if returning is None:
        result = await session.exec(statement)  # type: ignore[call-overload]
        return True if result.rowcount == 1 else None
    returned = await session.exec(statement.returning(returning))  # type: ignore[call-overload]
    return returned.scalar_one_or_none()


class Database:
    """The engine plus a session factory; one per process."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = create_engine(url)
        self._sessions = async_sessionmaker(
            self.engine, class_=AsyncSession, expire_on_commit=False
        )
        self._write_turn = asyncio.Lock()
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
        """One INSERT ... ON CONFLICT DO NOTHING in its own short transaction, without an ORM
        session: the cheapest durable write, for the path Slack is waiting on. Returns the
        `returning` column, or None when the row already existed."""
        if self.is_sqlite:
            from sqlalchemy.dialects.sqlite import insert
        else:
            from sqlalchemy.dialects.postgresql import insert
        statement = (
            insert(model)
            .values(**values)
            .on_conflict_do_nothing(index_elements=conflict)
            .returning(returning)
        )
        if self.is_sqlite:
            async with self._write_turn, self.engine.begin() as conn:
                return (await conn.execute(statement)).scalar_one_or_none()
        async with self.engine.begin() as conn:
            return (await conn.execute(statement)).scalar_one_or_none()

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

    async def dispose(self) -> None:
        await self.engine.dispose()
