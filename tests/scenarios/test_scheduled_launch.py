"""Scheduled launch as staff see it: `/consult launch ID at DATE` shows in list and status, can be
moved or cancelled before it happens, goes out once with two app processes ticking and after a
restart across its time (not at all once the deadline has passed), and the staff member who
scheduled it is told by DM."""

from __future__ import annotations

import asyncio
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import update
from sqlmodel import col

from bot.app.runtime import Runtime, RuntimeOptions
from bot.core.timefmt import human_deadline
from bot.demo.sandbox.harness import EXAMPLES, Harness
from storage.db import Database
from storage.models import Consultation, utcnow
from tests.scenarios.test_answering import post_in, text_of
from tests.scenarios.test_deadline_lifecycle import command
from tests.scenarios.test_reminder_rounds import CHANNELS, NETWORKS, NOT_ANSWERED, STAFF

OTHER_STAFF = "U01STAFF02"
LONDON = ZoneInfo("Europe/London")


async def add(h: Harness, consultation_id: str) -> None:
    await h.add_consultation_file(
        EXAMPLES / "integrating-care.yaml",
        id=consultation_id,
        deadline=utcnow() + timedelta(days=10),
        networks=NETWORKS,
        reminders=["7d"],
    )


async def bring_forward(db: Database, consultation_id: str, **values: Any) -> None:
    """Time passes: the scheduled moment (and any other value given) is now."""
    async with db.session() as session:
        await session.exec(  # type: ignore[call-overload]
            update(Consultation)
            .where(col(Consultation.id) == consultation_id)
            .values(launch_at=utcnow() - timedelta(seconds=1), **values)
        )


def posts(h: Harness, channel: str) -> list[Any]:
    assert h.slack is not None
    return h.slack.top_level_messages(channel)


def dms_saying(h: Harness, user: str, marker: str) -> list[Any]:
    assert h.slack is not None
    return [m for m in h.slack.dm_messages(user) if marker in text_of(m)]


async def test_schedule_shows_in_list_and_status_and_can_be_moved_or_cancelled(
    harness: Harness,
) -> None:
    h = harness
    await add(h, "sl-plan")
    day = (utcnow() + timedelta(days=3)).astimezone(LONDON).date()
    when = human_deadline(datetime.combine(day, time(9), tzinfo=LONDON), "Europe/London")
    reply = await command(h, STAFF, f"launch sl-plan at {day.isoformat()}")
    assert f"is scheduled to launch on {when}" in reply  # a bare date: 9am in its time zone
    assert f"Scheduled for {when}" in await command(h, STAFF, "list")
    status = await command(h, STAFF, "status sl-plan", replies=2)
    assert f"Scheduled for {when}" in status

    # Moved, then cancelled: nothing goes out even when the old time comes.
    reply = await command(h, STAFF, "launch sl-plan at +2h")
    assert "is rescheduled to launch on" in reply
    assert "cancelled" in await command(h, STAFF, "launch sl-plan cancel")
    listing = await command(h, STAFF, "list")
    assert "Scheduled for" not in listing and "Not launched" in listing
    assert "no scheduled launch" in await command(h, STAFF, "launch sl-plan cancel")

    # Only staff schedule; a time after the deadline or in the past is refused.
    assert "Only policy staff" in await command(h, NOT_ANSWERED, "launch sl-plan at +1h")
    assert "not before its deadline" in await command(h, STAFF, "launch sl-plan at +30d")
    assert "already passed" in await command(h, STAFF, "launch sl-plan at 2020-01-01")
    async with h.services.db.session() as session:
        consultation = await session.get(Consultation, "sl-plan")
    assert consultation is not None and consultation.status == "draft"
    for channel in CHANNELS.values():
        assert posts(h, channel) == []


async def test_two_app_processes_launch_a_scheduled_consultation_once(harness: Harness) -> None:
    h = harness
    assert h.slack is not None
    await add(h, "sl-twice")
    assert "scheduled" in await command(h, STAFF, "launch sl-twice at +3h")
    second = Runtime(h.settings(), RuntimeOptions(tick_seconds=0.2, per_channel_interval=0))
    await second.start()
    try:
        await bring_forward(h.services.db, "sl-twice")
        await h.slack.wait_for(lambda: all(posts(h, c) for c in CHANNELS.values()), timeout=10)
        await h.slack.wait_for(lambda: dms_saying(h, STAFF, "went out as scheduled"), timeout=15)
        await asyncio.sleep(0.5)  # both tickers run again: nothing more may appear
        await h.settle()
        for channel in CHANNELS.values():
            assert len(posts(h, channel)) == 1
        note = dms_saying(h, STAFF, "went out as scheduled")
        assert len(note) == 1 and "posted to all 2 networks" in text_of(note[0])
        assert not dms_saying(h, OTHER_STAFF, "went out as scheduled")  # only who scheduled it
        async with h.services.db.session() as session:
            consultation = await session.get(Consultation, "sl-twice")
        assert consultation is not None and consultation.status == "open"
        assert consultation.launched_by == STAFF
        listing = await command(h, STAFF, "list")
        assert "Open · deadline" in listing and "Scheduled for" not in listing
    finally:
        await second.stop()
    assert not h.slack.invalid_payloads


async def test_launch_due_while_the_bot_was_down_goes_out_on_start(harness: Harness) -> None:
    h = harness
    assert h.slack is not None
    await add(h, "sl-down")
    await command(h, STAFF, "launch sl-down at +3h")
    await h.stop_app()
    db = Database(h.database_url)
    try:
        await bring_forward(db, "sl-down")
    finally:
        await db.dispose()
    await h.start_app()
    await h.slack.wait_for(lambda: all(posts(h, c) for c in CHANNELS.values()), timeout=10)
    await h.slack.wait_for(lambda: dms_saying(h, STAFF, "went out as scheduled"), timeout=15)
    await h.settle()
    for channel in CHANNELS.values():
        assert len(posts(h, channel)) == 1
    # Members can answer it as any launched consultation.
    view = await h.driver.open_modal_via(  # type: ignore[union-attr]
        NOT_ANSWERED, "respond", message=post_in(h, "C0ICSNET")
    )
    assert view["callback_id"] == "consultation_response"


async def test_scheduled_launch_whose_deadline_passed_while_down_does_not_go_out(
    harness: Harness,
) -> None:
    h = harness
    assert h.slack is not None
    await add(h, "sl-late")
    await command(h, STAFF, "launch sl-late at +3h")
    await h.stop_app()
    db = Database(h.database_url)
    try:
        await bring_forward(db, "sl-late", deadline=utcnow() - timedelta(minutes=1))
    finally:
        await db.dispose()
    await h.start_app()
    await h.slack.wait_for(lambda: dms_saying(h, STAFF, "did not go out"), timeout=15)
    await h.settle()
    assert "deadline" in text_of(dms_saying(h, STAFF, "did not go out")[0])
    for channel in CHANNELS.values():
        assert posts(h, channel) == []
    async with h.services.db.session() as session:
        consultation = await session.get(Consultation, "sl-late")
    assert consultation is not None
    assert consultation.status == "draft" and consultation.launch_at is None
