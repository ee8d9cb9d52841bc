"""Apply Alembic migrations programmatically (`consultbot db upgrade`, and on start)."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from storage.db import Database

MIGRATIONS = Path(__file__).parent / "migrations"
# Where consultbot before revision 0003 kept a generated pseudonymisation key.
LEGACY_KEY_TABLE = "app_secrets"
LEGACY_KEY_NAME = "anon_secret"


class UpgradeBlocked(Exception):
    """A migration cannot go ahead until the operator acts; the message says what to do."""


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def _upgrade(connection: Connection, anon_secret: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    # 0003 checks that a key it removes from the database is the one configured.
    config.attributes["anon_secret"] = anon_secret
    command.upgrade(config, "head")


def _current(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def upgrade(db: Database, *, anon_secret: str = "") -> None:
    async with db.engine.begin() as conn:
        await conn.run_sync(_upgrade, anon_secret)


def _stored_key(connection: Connection) -> str | None:
    if not sa.inspect(connection).has_table(LEGACY_KEY_TABLE):
        return None
    row = connection.execute(
        sa.text(f"SELECT value FROM {LEGACY_KEY_TABLE} WHERE name = :name"),
        {"name": LEGACY_KEY_NAME},
    ).first()
    return None if row is None else str(row[0])


async def stored_key(db: Database) -> str | None:
    """The anonymity key an older consultbot kept in the database (None if there is none)."""
    async with db.engine.connect() as conn:
        return await conn.run_sync(_stored_key)


async def current_revision(db: Database) -> str | None:
    async with db.engine.connect() as conn:
        return await conn.run_sync(_current)


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()
