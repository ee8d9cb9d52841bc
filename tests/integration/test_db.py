"""Database.insert_one: concurrent inserts share commits, and each caller gets its own answer."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import event, select

from storage.db import Database
from storage.models import InboxSubmission, utcnow


def inbox_row(key: str, **overrides: Any) -> dict[str, Any]:
    return {
        "delivery_key": key,
        "user_id": "U0MEMBER",
        "consultation_id": "c1",
        "payload": {"values": {"q": key}},
        "accepted_at": utcnow(),
        "attempts": 0,
        **overrides,
    }


async def insert(db: Database, values: dict[str, Any]) -> Any:
    return await db.insert_one(InboxSubmission, values, ["delivery_key"], InboxSubmission.id)


async def stored_keys(db: Database) -> list[str]:
    async with db.engine.connect() as conn:
        rows = await conn.execute(
            select(InboxSubmission.delivery_key).order_by(InboxSubmission.delivery_key)
        )
        return [key for (key,) in rows]


async def test_a_hundred_concurrent_inserts_are_all_stored_in_a_few_commits(db: Database) -> None:
    # Each batch is one statement on one connection taken from the pool (on SQLite, the pool of
    # the engine whose worker thread writes): count the connections taken.
    engine = db.thread_engine() if db.is_sqlite else db.engine.sync_engine
    batches = 0

    @event.listens_for(engine.pool, "checkout")
    def count_batch(*_: Any) -> None:
        nonlocal batches
        batches += 1

    ids = await asyncio.gather(*(insert(db, inbox_row(f"k{i:03d}")) for i in range(100)))

    assert len(set(ids)) == 100 and None not in ids
    assert await stored_keys(db) == [f"k{i:03d}" for i in range(100)]
    assert 0 < batches < 20  # batched: far fewer commits than rows


async def test_a_repeated_key_gets_none_whether_in_the_same_batch_or_later(db: Database) -> None:
    first, again_in_batch = await asyncio.gather(
        insert(db, inbox_row("same")), insert(db, inbox_row("same"))
    )
    later = await insert(db, inbox_row("same"))

    assert first is not None
    assert again_in_batch is None and later is None
    assert await stored_keys(db) == ["same"]


async def test_a_row_that_cannot_be_stored_fails_alone(db: Database) -> None:
    bad = inbox_row("bad", user_id=None)  # NOT NULL
    results = await asyncio.gather(
        insert(db, inbox_row("a")),
        insert(db, bad),
        insert(db, inbox_row("b")),
        return_exceptions=True,
    )

    assert isinstance(results[1], Exception)
    assert isinstance(results[0], int) and isinstance(results[2], int)
    assert await stored_keys(db) == ["a", "b"]


async def test_a_caller_that_gives_up_does_not_lose_its_neighbours_rows(db: Database) -> None:
    waiting = [asyncio.create_task(insert(db, inbox_row(f"n{i}"))) for i in range(10)]
    await asyncio.sleep(0)
    waiting[3].cancel()
    results = await asyncio.gather(*waiting, return_exceptions=True)

    assert all(isinstance(r, int) for i, r in enumerate(results) if i != 3)
    assert {f"n{i}" for i in range(10) if i != 3} <= set(await stored_keys(db))


async def test_a_row_reads_back_as_it_was_written(db: Database) -> None:
    at = datetime(2030, 1, 8, 17, 0, tzinfo=timezone(timedelta(hours=5)))
    payload = {"parsed": {"answers": {"q1": {"choice": "agree", "comment": "É \u2014 ok"}}}}
    inbox_id = await insert(db, inbox_row("one", payload=payload, accepted_at=at))

    async with db.read_session() as session:
        row = await session.get(InboxSubmission, inbox_id)
    assert row is not None
    assert row.payload == payload
    assert row.accepted_at == at and row.accepted_at.utcoffset() == timedelta(0)  # kept in UTC


async def test_a_naive_time_is_refused_as_everywhere_else(db: Database) -> None:
    with pytest.raises(Exception, match="timezone"):
        await insert(db, inbox_row("naive", accepted_at=datetime(2030, 1, 8, 17, 0)))
    assert await stored_keys(db) == []


async def test_a_key_too_long_for_its_column_is_never_cut_short(db: Database) -> None:
    too_long = "k" * 301  # delivery_key is VARCHAR(300)
    results = await asyncio.gather(
        insert(db, inbox_row(too_long)), insert(db, inbox_row("fine")), return_exceptions=True
    )

    assert isinstance(results[1], int)
    if db.is_sqlite:  # SQLite does not enforce lengths: the key is kept whole
        assert isinstance(results[0], int)
        assert await stored_keys(db) == ["fine", too_long]
    else:  # PostgreSQL refuses it, as a plain INSERT would; its neighbour is stored
        assert isinstance(results[0], Exception)
        assert await stored_keys(db) == ["fine"]
