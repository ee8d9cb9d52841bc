"""Reminder planning (time zones, DST), working hours, who is reminded, and the claims that make
each reminder go out once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import select

from bot.consultations.catalogue import ConsultationView
from bot.engagement.reminders import (
    LEASE,
    Audience,
    Person,
    claim_reminder,
    compute_plan,
    delivery_time,
    plan_reminders,
    reminder_due,
)
from storage.db import Database
from storage.models import Consultation, Network, ReminderPlan

LONDON = "Europe/London"


def at(text: str, zone: str = LONDON) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone)).astimezone(UTC)


def test_day_offsets_keep_the_local_clock_time_across_a_dst_change() -> None:
    deadline = at("2021-04-02T17:00")  # BST: 16:00Z
    assert deadline == datetime(2021, 4, 2, 16, 0, tzinfo=UTC)
    # 7d before is 26 March, still GMT: 17:00 local is 17:00Z (not 16:00Z, 7*24h earlier).
    assert reminder_due(deadline, LONDON, "7d") == datetime(2021, 3, 26, 17, 0, tzinfo=UTC)
    assert reminder_due(deadline, LONDON, "2d") == datetime(2021, 3, 31, 16, 0, tzinfo=UTC)


def test_hour_minute_and_second_offsets_are_exact_durations() -> None:
    deadline = at("2021-03-28T05:00")  # BST; the clocks went forward at 01:00Z that night
    assert reminder_due(deadline, LONDON, "4h") == deadline - timedelta(hours=4)
    assert reminder_due(deadline, LONDON, "90m") == deadline - timedelta(minutes=90)
    assert reminder_due(deadline, LONDON, "30s") == deadline - timedelta(seconds=30)


def test_offsets_already_past_at_launch_are_skipped() -> None:
    deadline = at("2021-01-08T17:00")
    now = at("2021-01-04T09:00")
    plan = compute_plan(deadline, LONDON, ["7d", "2d", "4h", "2d"], now)
    assert [(label, status) for label, _, status in plan] == [
        ("7d", "skipped"),
        ("2d", "pending"),
        ("4h", "pending"),
    ]
    assert plan[1][1] == at("2021-01-06T17:00")


def test_a_dm_due_at_3am_local_waits_until_9am_local() -> None:
    deadline = at("2021-01-08T17:00")
    now = at("2021-01-05T03:00", "America/New_York")
    held = delivery_time(now, "America/New_York", deadline, LONDON)
    assert held == at("2021-01-05T09:00", "America/New_York")
    # The same instant is 08:00 in London: a London member's DM is held for an hour.
    assert delivery_time(now, LONDON, deadline, LONDON) == at("2021-01-05T09:00")


def test_working_hours_edges_evenings_and_a_sooner_deadline() -> None:
    deadline = at("2021-01-08T17:00")
    assert delivery_time(at("2021-01-05T09:00"), LONDON, deadline, LONDON) == at("2021-01-05T09:00")
    assert delivery_time(at("2021-01-05T17:59"), LONDON, deadline, LONDON) == at("2021-01-05T17:59")
    assert delivery_time(at("2021-01-05T18:00"), LONDON, deadline, LONDON) == at("2021-01-06T09:00")
    # The deadline (08:30 in Kolkata) comes before the member's next 9am: send at once.
    late = at("2021-01-08T02:00", "Asia/Kolkata")
    assert delivery_time(late, "Asia/Kolkata", at("2021-01-08T03:00"), LONDON) == late
    # An unknown zone falls back to the consultation's.
    assert delivery_time(at("2021-01-05T07:00"), "Mars/Olympus", deadline, LONDON) == at(
        "2021-01-05T09:00"
    )


def _consultation(**kw: object) -> Consultation:
    return Consultation(
        id="c1",
        title="T",
        deadline=at("2021-01-08T17:00"),
        timezone=LONDON,
        reminders=["7d", "2d"],
        **kw,
    )


def test_to_remind_skips_responders_opt_outs_and_counts_a_member_once() -> None:
    networks = [
        Network(id="a", name="A", channel_id="CA"),
        Network(id="b", name="B", channel_id="CB"),
    ]
    audience = Audience(
        view=ConsultationView(_consultation(), []),
        networks=networks,
        members={"a": ["U1", "U2", "U3"], "b": ["U2", "U4", "U5"]},
        people={
            "U1": Person("U1", LONDON, "london"),
            "U2": Person("U2", LONDON, "london"),
            "U3": Person("U3", LONDON, "north-west"),
            "U4": Person("U4", LONDON, None),
            "U5": Person("U5", LONDON, "london"),
        },
        answered={"U1"},
        opted_out={"U5"},
    )
    assert [p.user_id for p in audience.to_remind(["a", "b"])] == ["U2", "U3", "U4"]
    assert [p.user_id for p in audience.to_remind(["a", "b"], frozenset({"london"}))] == ["U2"]
    assert audience.count("a") == (1, 3)
    assert audience.count("b") == (0, 3)


async def test_plan_is_stored_and_recomputed_keeping_sent_rows(db: Database) -> None:
    now = at("2021-01-01T12:00")
    async with db.session() as session:
        consultation = _consultation(status="open")
        session.add(consultation)
        await session.flush()
        await plan_reminders(session, consultation, now)
    async with db.session() as session:
        rows = {r.offset_label: r for r in (await session.exec(select(ReminderPlan))).all()}
        assert {k: (r.status, r.due_at) for k, r in rows.items()} == {
            "7d": ("pending", at("2021-01-01T17:00")),
            "2d": ("pending", at("2021-01-06T17:00")),
        }
        rows["7d"].status = "done"
        session.add(rows["7d"])
    # Extended by a week: the sent 7d stays as it was, 2d moves; a removed offset goes.
    async with db.session() as session:
        consultation = await session.get(Consultation, "c1")
        assert consultation is not None
        consultation.deadline = at("2021-01-15T17:00")
        consultation.reminders = ["7d", "4h"]
        await plan_reminders(session, consultation, now)
    async with db.session() as session:
        rows = {r.offset_label: r for r in (await session.exec(select(ReminderPlan))).all()}
    assert {k: (r.status, r.due_at) for k, r in rows.items()} == {
        "7d": ("done", at("2021-01-01T17:00")),
        "4h": ("pending", at("2021-01-15T13:00")),
    }


async def test_a_due_reminder_is_claimed_once_and_again_only_after_its_lease(
    db: Database,
) -> None:
    now = at("2021-01-06T17:00")
    async with db.session() as session:
        consultation = _consultation(status="open")
        session.add(consultation)
        await session.flush()
        session.add(ReminderPlan(consultation_id="c1", offset_label="2d", due_at=now))
        session.add(
            ReminderPlan(consultation_id="c1", offset_label="4h", due_at=at("2021-01-08T13:00"))
        )
    async with db.session() as session:
        due, later = (await session.exec(select(ReminderPlan.id).order_by(ReminderPlan.id))).all()
    assert due is not None and later is not None
    assert await claim_reminder(db, later, "one", now) is False  # not due yet
    assert await claim_reminder(db, due, "one", now) is True
    assert await claim_reminder(db, due, "two", now) is False  # held by "one"
    assert await claim_reminder(db, due, "two", now + LEASE - timedelta(seconds=1)) is False
    # "one" crashed: after the lease another worker may take it over.
    assert await claim_reminder(db, due, "two", now + LEASE + timedelta(seconds=1)) is True
    async with db.session() as session:
        row = await session.get(ReminderPlan, due)
    assert row is not None and (row.status, row.claimed_by) == ("claimed", "two")
