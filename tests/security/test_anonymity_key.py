"""Finding 2: the pseudonymisation key is kept apart from the data. No key is ever written to
the database; an anonymous launch without CONSULTBOT_ANON_SECRET is refused saying how to make
one; a key an older version stored is moved out by the upgrade; the SQLite file is 0600; and a
dump of the database plus every user id in it re-identifies no one."""

from __future__ import annotations

import re
import stat
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command

from bot.answering.anonymity import pseudonym
from bot.demo.sandbox import render_blocks_as_text
from bot.demo.sandbox.harness import EXAMPLES, Harness
from storage.db import Database
from storage.migrate import (
    UpgradeBlocked,
    alembic_config,
    current_revision,
    head_revision,
    upgrade,
)
from storage.models import Response, utcnow
from tests.scenarios.test_formal_response import _values

STAFF = "U01STAFF01"
MEMBERS = ["U0M001", "U0M002", "U0M007", "U0M008", "U0M013", "U0M014"]  # in the ICS Network


def text_of(message: Any) -> str:
    return (message.text or "") + "\n" + render_blocks_as_text(message.blocks)


async def _dump(db: Database) -> list[str]:
    """Every text value in every table: what someone with a backup has."""
    values: list[str] = []
    async with db.engine.connect() as conn:
        names = await conn.run_sync(lambda c: sa.inspect(c).get_table_names())
        for name in names:
            for row in (await conn.execute(sa.text(f'SELECT * FROM "{name}"'))).all():
                values += [str(v) for v in row if v is not None]
    return values


async def _launch_anonymous(h: Harness) -> str:
    assert h.driver is not None and h.slack is not None
    await h.add_consultation_file(
        EXAMPLES / "system-by-default.yaml", id="sbd", deadline=utcnow() + timedelta(days=5)
    )
    seen = len(h.slack.ephemerals(STAFF))
    await h.driver.slash_command(STAFF, "launch sbd")
    await h.slack.wait_for(lambda: len(h.slack.ephemerals(STAFF)) > seen, timeout=10)
    await h.settle()
    return " ".join(text_of(m) for m in h.slack.ephemerals(STAFF)[seen:])


async def test_anonymous_launch_without_key_is_refused_saying_how_to_make_one(
    keyless_harness: Harness,
) -> None:
    h = keyless_harness
    assert h.slack is not None
    reply = await _launch_anonymous(h)
    assert "CONSULTBOT_ANON_SECRET is not set" in reply
    assert "secrets.token_urlsafe(32)" in reply
    assert not h.slack.top_level_messages("C0ICSNET")  # nothing was posted
    dump = " ".join(await _dump(h.services.db))
    assert "app_secrets" not in dump and "anon_secret" not in dump
    async with h.services.db.engine.connect() as conn:
        tables = await conn.run_sync(lambda c: sa.inspect(c).get_table_names())
    assert "app_secrets" not in tables


async def test_database_dump_and_every_user_id_in_it_reidentify_no_one(harness: Harness) -> None:
    h = harness
    assert h.driver is not None and h.slack is not None
    await _launch_anonymous(h)
    post = h.slack.top_level_messages("C0ICSNET")[0]
    for n, member in enumerate(MEMBERS):
        view = await h.driver.open_modal_via(member, "respond", message=post)
        values = _values(view, n)
        await h.driver.submit_view(member, view, values)
    await h.settle()
    async with h.services.db.read_session() as session:
        from sqlmodel import select

        keys = set((await session.exec(select(Response.respondent_key))).all())
    assert len(keys) == len(MEMBERS)
    dump = await _dump(h.services.db)
    user_ids = {u for value in dump for u in re.findall(r"\bU[0-9A-Z]{5,}\b", value)}
    assert set(MEMBERS) <= user_ids | set(MEMBERS)
    # Every value in the dump tried as the key, for every user id in it: no pseudonym matches.
    candidates = {v for v in dump if 8 <= len(v) <= 200}
    for candidate in candidates:
        for user_id in user_ids | set(MEMBERS):
            assert pseudonym(candidate, "sbd", user_id) not in keys


async def test_upgrade_moves_a_stored_key_out_of_the_database(database_url: str) -> None:
    db = Database(database_url)
    try:
        async with db.engine.begin() as conn:

            def to_0002(connection: sa.Connection) -> None:
                config = alembic_config()
                config.attributes["connection"] = connection
                # From wherever the fixture left it (PostgreSQL's template is at head): 0002.
                command.upgrade(config, "head")
                command.downgrade(config, "0002")

            await conn.run_sync(to_0002)
            await conn.execute(
                sa.text("INSERT INTO app_secrets (name, value) VALUES ('anon_secret', 'old-key')")
            )
        with pytest.raises(UpgradeBlocked, match="consultbot db stored-key"):
            await upgrade(db)  # without the key configured: stops, keeping it
        assert await current_revision(db) == "0002"
        await upgrade(db, anon_secret="old-key")
        assert await current_revision(db) == head_revision()
        assert "old-key" not in await _dump(db)
    finally:
        await db.dispose()


def test_the_sqlite_file_the_bot_creates_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "data" / "consultbot.db"
    Database(f"sqlite+aiosqlite:///{path}")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
