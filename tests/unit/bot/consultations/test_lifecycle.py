"""Closing at the deadline (claimed once), closing early, extending (reopens, re-plans) and the
`consultbot consultation close/extend` commands."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import select
from typer.testing import CliRunner

from bot.app.cli import app
from bot.consultations.catalogue import ConsultationError
from bot.consultations.lifecycle import (
    close_consultation,
    close_due,
    extend_consultation,
    parse_new_deadline,
)
from storage.db import Database
from storage.models import (
    AuditEntry,
    Consultation,
    ConsultationPost,
    Network,
    OutboxMessage,
    ReminderPlan,
    utcnow,
)
from tests.conftest import wired_services

LONDON = "Europe/London"


def test_new_deadline_formats() -> None:
    now = datetime(2021, 1, 4, 12, 0, tzinfo=UTC)
    # A bare date means 17:00 that day in the consultation's time zone (BST in June).
    assert parse_new_deadline("2021-06-15", LONDON, now) == datetime(2021, 6, 15, 16, tzinfo=UTC)
    assert parse_new_deadline("2021-01-15T12:30", LONDON, now) == datetime(
        2021, 1, 15, 12, 30, tzinfo=UTC
    )
    assert parse_new_deadline("2021-01-15T12:30+01:00", LONDON, now) == datetime(
        2021, 1, 15, 11, 30, tzinfo=UTC
    )
    assert parse_new_deadline("+3d", LONDON, now) == now + timedelta(days=3)
    with pytest.raises(ConsultationError, match="is not a date"):
        parse_new_deadline("next friday", LONDON, now)
    with pytest.raises(ConsultationError):
        parse_new_deadline("+3 weeks", LONDON, now)


async def _open_consultation(db: Database, deadline: datetime) -> None:
    async with db.session() as session:
        session.add(Network(id="ics", name="ICS Network", channel_id="C1"))
        session.add(
            Consultation(
                id="c1",
                title="Integrating care",
                deadline=deadline,
                timezone=LONDON,
                reminders=["2d", "4h"],
                status="open",
            )
        )
        await session.flush()
        post = OutboxMessage(
            dedup_key="post:c1:ics",
            method="chat.postMessage",
            channel="C1",
            payload={},
            status="sent",
            result_ts="1.0",
            result_channel="C1",
        )
        session.add(post)
        await session.flush()
        session.add(
            ConsultationPost(
                consultation_id="c1", network_id="ics", channel_id="C1", outbox_id=post.id
            )
        )
        session.add(ReminderPlan(consultation_id="c1", offset_label="4h", due_at=deadline))


async def test_the_deadline_closes_once_even_when_two_replicas_tick_together(
    db: Database,
) -> None:
    now = utcnow()
    await _open_consultation(db, now - timedelta(seconds=1))
    other = Database(db.url)
    try:
        first, second = await asyncio.gather(
            close_due(wired_services(db), now), close_due(wired_services(other), now)
        )
    finally:
        await other.dispose()
    assert sorted(first + second) == ["c1"]
    async with db.session() as session:
        consultation = await session.get(Consultation, "c1")
        keys = (await session.exec(select(OutboxMessage.dedup_key))).all()
        plan = (await session.exec(select(ReminderPlan.status))).all()
        audit = (
            await session.exec(select(AuditEntry).where(AuditEntry.action == "consultation.close"))
        ).all()
    assert consultation is not None and consultation.status == "closed"
    assert sorted(keys) == ["closed:1:c1:ics", "closing-note:1:c1:ics", "post:c1:ics"]
    assert plan == ["cancelled"]
    assert len(audit) == 1 and audit[0].detail["by"] == "deadline"
    # Nothing more to do on the next tick.
    assert await close_due(wired_services(db), utcnow()) == []


async def test_closing_early_moves_the_deadline_and_extend_reopens_and_replans(
    db: Database,
) -> None:
    now = utcnow()
    original = now + timedelta(days=5)
    await _open_consultation(db, original)
    closed = await close_consultation(wired_services(db), "c1", actor="U01STAFF", now=now)
    assert closed.closed_now and closed.consultation.deadline == now
    assert (
        await close_consultation(wired_services(db), "c1", actor="U01STAFF")
    ).closed_now is False

    with pytest.raises(ConsultationError, match="already passed"):
        await extend_consultation(wired_services(db), "c1", "2020-01-01", actor="U01STAFF")
    extended = await extend_consultation(wired_services(db), "c1", "+3d", actor="U01STAFF", now=now)
    assert extended.reopened and extended.consultation.status == "open"
    async with db.session() as session:
        plan = {r.offset_label: r.status for r in (await session.exec(select(ReminderPlan))).all()}
        keys = set((await session.exec(select(OutboxMessage.dedup_key))).all())
    assert plan == {"2d": "pending", "4h": "pending"}
    assert {"extended:1:c1:ics", "extended-note:1:c1:ics"} <= keys


async def test_a_draft_cannot_be_closed_and_an_unknown_id_is_named(db: Database) -> None:
    async with db.session() as session:
        session.add(
            Consultation(
                id="d1", title="Draft", deadline=utcnow() + timedelta(days=3), timezone=LONDON
            )
        )
    with pytest.raises(ConsultationError, match="has not been launched"):
        await close_consultation(wired_services(db), "d1", actor="U01STAFF")
    with pytest.raises(ConsultationError, match="no consultation with id 'nope'"):
        await close_consultation(wired_services(db), "nope", actor="U01STAFF")


def test_cli_close_and_extend(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("DATABASE_URL", url)

    async def setup() -> None:
        from bot.app.runtime import prepare_database

        db = Database(url)
        await prepare_database(db)
        await _open_consultation(db, utcnow() + timedelta(days=5))
        await db.dispose()

    asyncio.run(setup())
    runner = CliRunner()
    result = runner.invoke(app, ["consultation", "close", "c1"])
    assert result.exit_code == 0, result.output
    assert "Closed c1" in result.output
    result = runner.invoke(app, ["consultation", "extend", "c1", "2099-01-15"])
    assert result.exit_code == 0, result.output
    assert "Reopened c1" in result.output and "15 January 2099, 5pm" in result.output
    result = runner.invoke(app, ["consultation", "extend", "c1", "soon"])
    assert result.exit_code == 1
    result = runner.invoke(app, ["consultation", "close", "nope"])
    assert result.exit_code == 1
