"""Shared fixtures: a fresh database per test on SQLite and (when TEST_DATABASE_URL is set)
PostgreSQL, and a running consultbot in HTTP mode against the sandbox Slack."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bot.core.services import Services
from bot.core.settings import Settings
from storage.admin import pg_execute, postgres_admin_url, with_database
from storage.db import Database

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
PG_SKIP_REASON = (
    "TEST_DATABASE_URL is not set; set it to a PostgreSQL URL such as "
    "postgresql+asyncpg://postgres@127.0.0.1:5432/test to run the PostgreSQL half"
)


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str | None]:
    """A migrated PostgreSQL database that each test copies (CREATE DATABASE ... TEMPLATE),
    so a test gets a fresh schema in a fraction of the time migrations take."""
    admin = postgres_admin_url()
    if admin is None:
        yield None
        return
    name = f"cbtmpl_{os.getpid()}_{uuid.uuid4().hex[:6]}"

    async def create() -> None:
        from bot.app.runtime import prepare_database

        await pg_execute(admin, f'CREATE DATABASE "{name}"')
        database = Database(with_database(admin, name))
        try:
            await prepare_database(database)
        finally:
            await database.dispose()

    asyncio.run(create())
    try:
        yield name
    finally:
        asyncio.run(pg_execute(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(
    request: pytest.FixtureRequest, tmp_path: Path, pg_template: str | None
) -> AsyncIterator[str]:
    """A URL of a fresh database of each kind (PostgreSQL ones come migrated), dropped after."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'consultbot.db'}"
        return
    admin = postgres_admin_url()
    if admin is None or pg_template is None:
        pytest.skip(PG_SKIP_REASON)
    name = f"cbtest_{uuid.uuid4().hex[:12]}"
    await pg_execute(admin, f'CREATE DATABASE "{name}" TEMPLATE "{pg_template}"')
    try:
        yield with_database(admin, name)
    finally:
        await pg_execute(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    """A migrated database."""
    from bot.app.runtime import prepare_database

    database = Database(database_url)
    await prepare_database(database)
    try:
        yield database
    finally:
        await database.dispose()


def wired_services(db: Database, settings: Settings | None = None) -> Services:
    """The services a process has, wired by the composition root, over `db`; Slack is an address
    nothing listens on (these tests only queue messages)."""
    from bot.app.wiring import build_services
    from bot.slack.client import make_client

    settings = settings or Settings(SLACK_BOT_TOKEN="xoxb-unit", SLACK_SIGNING_SECRET="unit")
    return build_services(settings, db, make_client("xoxb-unit", "http://127.0.0.1:9/api/"))
