from sqlalchemy import inspect

from storage.db import Database
from storage.migrate import current_revision, head_revision, upgrade


async def test_upgrade_creates_every_table_and_is_repeatable(database_url: str) -> None:
    db = Database(database_url)
    try:
        await upgrade(db)
        await upgrade(db)  # a second run is a no-op, not an error
        assert await current_revision(db) == head_revision()
        async with db.engine.connect() as conn:
            tables = set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
        assert {
            "consultations",
            "questions",
            "question_options",
            "responses",
            "response_revisions",
            "answers",
            "outbox",
            "reminder_plans",
            "processed_deliveries",
            "audit_log",
            "networks",
            "regions",
            "region_leads",
            "staff",
            "member_profiles",
        } <= tables
    finally:
        await db.dispose()


async def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    try:
        from sqlalchemy import text

        async with db.engine.connect() as conn:
            assert (await conn.execute(text("PRAGMA journal_mode"))).scalar() == "wal"
            assert (await conn.execute(text("PRAGMA foreign_keys"))).scalar() == 1
    finally:
        await db.dispose()
