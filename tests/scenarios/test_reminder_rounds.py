"""Reminders as members see them: a thread reply in each network and a DM to each member who has
not responded (once, in their working hours), Stop honoured, manual nudges limited to once an
hour; sent once across restarts and across two replicas."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import update
from sqlmodel import col, func, select

from bot.app.runtime import Runtime, RuntimeOptions
from bot.demo.sandbox.harness import EXAMPLES, Harness
from bot.engagement.reminders import send_due_reminders
from storage.db import Database
from storage.models import OutboxMessage, ReminderPlan, utcnow
from tests.scenarios.test_answering import launch, post_in, stance_values, text_of

STAFF = "U01STAFF01"
ANSWERED = "U0M001"  # ICS Network, North West
NOT_ANSWERED = "U0M002"  # ICS Network, North West
LONDON_MEMBER = "U0M008"  # ICS Network, London
LONDON_LEAD = "U0LEADLDN"
TWO_NETWORKS = "U0M013"  # ICS Network and NHS Clinical Commissioners
NETWORKS = ["ics-network", "nhs-clinical-commissioners"]
CHANNELS = {"ics-network": "C0ICSNET", "nhs-clinical-commissioners": "C0NHSCC"}
REMINDER = "A reminder: you haven't responded"


def zone_at(hour: int) -> str:
    """A fixed-offset zone whose local time is now `hour` o'clock (keeps tests off the clock)."""
    offset = (hour - datetime.now(UTC).hour + 12) % 24 - 12
    return f"Etc/GMT{-offset:+d}"


def people(h: Harness, channels: list[str]) -> set[str]:
    """Humans (not bots, not deactivated) in these channels, as the sandbox knows them."""
    assert h.slack is not None
    return {
        uid
        for c in channels
        for uid in h.slack.channels[c].members
        if uid in h.slack.users and not h.slack.users[uid].is_bot
        if not h.slack.users[uid].deleted
    }


def reminder_dms(h: Harness, user_id: str) -> list[Any]:
    assert h.slack is not None
    return [m for m in h.slack.dm_messages(user_id) if REMINDER in text_of(m)]


def thread_reminders(h: Harness, channel: str) -> list[Any]:
    post = post_in(h, channel)
    assert h.slack is not None
    return [m for m in h.slack.thread_replies(channel, post.ts) if "Reminder:" in text_of(m)]


async def drain(h: Harness, db: Database | None = None, timeout: float = 15.0) -> None:
    """Wait until nothing due now is left in the outbox (DMs held for working hours may wait)."""
    db = db or h.services.db
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while True:
        h.services.outbox.wake()
        async with db.session() as session:
            waiting = (
                await session.exec(
                    select(func.count()).where(
                        col(OutboxMessage.status).in_(("pending", "sending")),
                        col(OutboxMessage.available_at) <= utcnow(),
                    )
                )
            ).one()
        if waiting == 0:
            return
        assert loop.time() < end, f"{waiting} outbox rows still due"
        await asyncio.sleep(0.05)


async def make_due(db: Database, consultation_id: str, label: str) -> int:
    """Bring one planned reminder forward to now (instead of waiting days)."""
    async with db.session() as session:
        plan = (
            await session.exec(
                select(ReminderPlan).where(
                    ReminderPlan.consultation_id == consultation_id,
                    ReminderPlan.offset_label == label,
                )
            )
        ).one()
        assert plan.status == "pending"
        await session.exec(  # type: ignore[call-overload]
            update(ReminderPlan).where(col(ReminderPlan.id) == plan.id).values(due_at=utcnow())
        )
        assert plan.id is not None
        return plan.id


async def start(h: Harness, consultation_id: str, *, networks: list[str] = NETWORKS) -> None:
    assert h.slack is not None
    noon = zone_at(12)
    for user in h.slack.users.values():
        user.tz = noon
    await h.add_consultation_file(
        EXAMPLES / "integrating-care.yaml",
        id=consultation_id,
        deadline=utcnow() + timedelta(days=10),
        networks=networks,
        reminders=["7d", "2d"],
    )
    await launch(h, consultation_id)


async def answer(h: Harness, user_id: str, channel: str = "C0ICSNET") -> None:
    assert h.driver is not None
    view = await h.driver.open_modal_via(user_id, "respond", message=post_in(h, channel))
    response = await h.driver.submit_view(user_id, view, stance_values(view, "agree"))
    assert response.status == 200
    await h.settle()  # recorded just after the ack


async def test_reminder_reaches_non_responders_once_and_stop_is_honoured(
    harness: Harness,
) -> None:
    h = harness
    assert h.slack is not None and h.driver is not None
    await start(h, "rm-basic")
    await answer(h, ANSWERED)
    await drain(h)

    await make_due(h.services.db, "rm-basic", "7d")
    await h.slack.wait_for(lambda: reminder_dms(h, NOT_ANSWERED), timeout=10)
    await drain(h)

    expected = people(h, list(CHANNELS.values())) - {ANSWERED}
    reminded = {u for u in h.slack.users if reminder_dms(h, u)}
    assert reminded == expected  # no bots, no deactivated account, not the one who answered
    assert all(len(reminder_dms(h, u)) == 1 for u in expected)  # TWO_NETWORKS included
    assert TWO_NETWORKS in reminded
    assert not reminder_dms(h, ANSWERED)
    dm = reminder_dms(h, NOT_ANSWERED)[0]
    assert "Respond" in text_of(dm) and "Stop reminders" in text_of(dm)

    ics = thread_reminders(h, "C0ICSNET")
    assert len(ics) == 1 and ics[0].reply_broadcast
    assert "1 of 17 members of the ICS Network has responded" in text_of(ics[0])
    assert "left" in text_of(ics[0])
    nhscc = thread_reminders(h, "C0NHSCC")
    assert len(nhscc) == 1
    assert "None of the 6 members of the NHS Clinical Commissioners" in text_of(nhscc[0])

    # B presses Stop: the DM says so, and the next reminder skips B (but not others).
    await h.driver.click_in_message(NOT_ANSWERED, dm, "stop_reminders")
    await h.slack.wait_for(
        lambda: "won't get more reminders" in text_of(reminder_dms(h, NOT_ANSWERED)[0]),
        timeout=10,
    )
    await make_due(h.services.db, "rm-basic", "2d")
    await h.slack.wait_for(lambda: len(thread_reminders(h, "C0ICSNET")) == 2, timeout=10)
    await drain(h)
    assert len(reminder_dms(h, NOT_ANSWERED)) == 1
    assert len(reminder_dms(h, LONDON_MEMBER)) == 2
    assert not reminder_dms(h, ANSWERED)
    assert not h.slack.invalid_payloads


async def test_dm_due_at_3am_for_a_member_waits_for_9am_and_is_withdrawn_on_answer(
    harness: Harness,
) -> None:
    h = harness
    assert h.slack is not None
    await start(h, "rm-hours", networks=["ics-network"])
    early = zone_at(3)
    h.slack.users[NOT_ANSWERED].tz = early
    plan_id = await make_due(h.services.db, "rm-hours", "7d")
    await h.slack.wait_for(lambda: reminder_dms(h, LONDON_MEMBER), timeout=10)
    await drain(h)
    assert not reminder_dms(h, NOT_ANSWERED)
    async with h.services.db.session() as session:
        row = (
            await session.exec(
                select(OutboxMessage).where(
                    OutboxMessage.dedup_key == f"reminder:{plan_id}:{NOT_ANSWERED}"
                )
            )
        ).one()
    held = row.available_at.astimezone(ZoneInfo(early))
    assert (held.hour, held.minute) == (9, 0)
    assert timedelta(hours=5) <= row.available_at - utcnow() <= timedelta(hours=6)
    # Answering before 9am withdraws the queued DM.
    await answer(h, NOT_ANSWERED)

    async def withdrawn() -> str:
        async with h.services.db.session() as session:
            return (await session.get(OutboxMessage, row.id)).status  # type: ignore[union-attr]

    for _ in range(100):
        if await withdrawn() == "cancelled":
            break
        await asyncio.sleep(0.05)
    assert await withdrawn() == "cancelled"


async def test_reminder_due_while_the_bot_was_down_goes_out_once_on_start(
    harness: Harness,
) -> None:
    h = harness
    assert h.slack is not None
    await start(h, "rm-restart", networks=["ics-network"])
    await h.stop_app()
    db = Database(h.database_url)
    try:
        await make_due(db, "rm-restart", "7d")
    finally:
        await db.dispose()
    await h.start_app()
    await h.slack.wait_for(lambda: thread_reminders(h, "C0ICSNET"), timeout=10)
    await h.slack.wait_for(lambda: reminder_dms(h, NOT_ANSWERED), timeout=10)
    await drain(h)
    assert await send_due_reminders(h.services) == 0  # nothing left to send
    await drain(h)
    assert len(thread_reminders(h, "C0ICSNET")) == 1
    expected = people(h, ["C0ICSNET"])
    assert all(len(reminder_dms(h, u)) == 1 for u in expected)


async def test_two_replicas_send_each_reminder_and_close_once(harness: Harness) -> None:
    h = harness
    assert h.slack is not None
    await start(h, "rm-replicas")
    second = Runtime(h.settings(), RuntimeOptions(tick_seconds=0.2, per_channel_interval=0))
    await second.start()
    try:
        await make_due(h.services.db, "rm-replicas", "7d")
        await h.slack.wait_for(
            lambda: all(thread_reminders(h, c) for c in CHANNELS.values()), timeout=10
        )
        await h.slack.wait_for(lambda: reminder_dms(h, NOT_ANSWERED), timeout=10)
        async with h.services.db.session() as session:
            from storage.models import Consultation

            await session.exec(  # type: ignore[call-overload]
                update(Consultation)
                .where(col(Consultation.id) == "rm-replicas")
                .values(deadline=utcnow())
            )

        def closed_notes(channel: str) -> list[Any]:
            post = post_in(h, channel)
            return [
                m for m in h.slack.thread_replies(channel, post.ts) if "has closed" in text_of(m)
            ]

        await h.slack.wait_for(lambda: all(closed_notes(c) for c in CHANNELS.values()), timeout=10)
        await drain(h)
        await asyncio.sleep(0.5)  # let both tickers run again: nothing more may appear
        await drain(h)
        for channel in CHANNELS.values():
            assert len(thread_reminders(h, channel)) == 1
            assert len(closed_notes(channel)) == 1
            assert "Closed" in text_of(post_in(h, channel))
        for user in people(h, list(CHANNELS.values())):
            assert len(reminder_dms(h, user)) == 1
        dm_posts = [
            c
            for c in h.slack.calls_to("chat.postMessage")
            if str(c.params.get("channel", "")).startswith("U")
        ]
        assert len(dm_posts) == len(people(h, list(CHANNELS.values())))
    finally:
        await second.stop()


async def test_manual_nudge_once_an_hour_and_leads_reach_their_region(harness: Harness) -> None:
    h = harness
    assert h.slack is not None and h.driver is not None
    await start(h, "rm-nudge")
    seen = len(h.slack.ephemerals(LONDON_LEAD))
    await h.driver.slash_command(LONDON_LEAD, "remind rm-nudge ics-network")
    await h.slack.wait_for(lambda: len(h.slack.ephemerals(LONDON_LEAD)) > seen + 1, timeout=10)
    assert "Reminded the *ICS Network*" in text_of(h.slack.ephemerals(LONDON_LEAD)[-1])
    await drain(h)
    # A lead reaches only London members, and posts nothing in the channel.
    assert reminder_dms(h, LONDON_MEMBER) and not reminder_dms(h, NOT_ANSWERED)
    assert not thread_reminders(h, "C0ICSNET")

    # Staff can still nudge what the lead's nudge did not reach: the ICS Network outside London
    # (its London members are left out, reminded within the hour), and the other network, with
    # a note in its thread.
    seen = len(h.slack.ephemerals(STAFF))
    await h.driver.slash_command(STAFF, "remind rm-nudge")
    await h.slack.wait_for(lambda: len(h.slack.ephemerals(STAFF)) > seen + 1, timeout=10)
    reply = text_of(h.slack.ephemerals(STAFF)[-1])
    assert "Reminded the *ICS Network*" in reply
    assert "not in london: its lead reminded them within the hour" in reply
    assert "Reminded the *NHS Clinical Commissioners*" in reply
    await h.slack.wait_for(lambda: thread_reminders(h, "C0NHSCC"), timeout=10)
    await drain(h)
    assert len(reminder_dms(h, LONDON_MEMBER)) == 1
    assert len(reminder_dms(h, NOT_ANSWERED)) == 1
    # ...and now the ICS Network was reminded for everyone: the lead waits an hour.
    seen = len(h.slack.ephemerals(LONDON_LEAD))
    await h.driver.slash_command(LONDON_LEAD, "remind rm-nudge ics-network")
    await h.slack.wait_for(lambda: len(h.slack.ephemerals(LONDON_LEAD)) > seen + 1, timeout=10)
    # The ack and the reply: which Slack shows last depends on the moment, so look at both.
    reply = " ".join(text_of(m) for m in h.slack.ephemerals(LONDON_LEAD)[seen:])
    assert "ICS Network* was reminded less than an hour ago" in reply
    assert "you can remind it again from" in reply
    # A member cannot nudge.
    await h.driver.slash_command(NOT_ANSWERED, "remind rm-nudge")
    assert "Only policy staff and regional leads" in text_of(h.slack.ephemerals(NOT_ANSWERED)[-1])
