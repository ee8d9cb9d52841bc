"""Creating and dropping whole PostgreSQL databases (tests and benchmarks get fresh ones)."""

from __future__ import annotations

import os

from sqlalchemy.engine import make_url


def postgres_admin_url() -> str | None:
    """TEST_DATABASE_URL when it names a PostgreSQL server, else None."""
    url = os.environ.get("TEST_DATABASE_URL")
    if url and make_url(url).get_backend_name() == "postgresql":
        return url
    return None


def with_database(url: str, name: str) -> str:
    """The same server and credentials, another database."""
    return make_url(url).set(database=name).render_as_string(hide_password=False)


async def _connect(url: str):  # type: ignore[no-untyped-def]
    import asyncpg

    parsed = make_url(url)
    return await asyncpg.connect(
        host=parsed.host or "127.0.0.1",
        port=parsed.port or 5432,
        user=parsed.username or "postgres",
        password=parsed.password,
        database=parsed.database or "postgres",
    )


async def pg_execute(url: str, sql: str) -> None:
    """Run one statement outside a transaction (CREATE/DROP DATABASE need that)."""
    conn = await _connect(url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def ensure_database(url: str, name: str) -> str:
    """Create database `name` on `url`'s server unless it exists; its URL."""
    conn = await _connect(url)
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return with_database(url, name)
