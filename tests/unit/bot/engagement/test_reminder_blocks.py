"""What reminder DMs, thread reminders and the status report say."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.demo.sandbox import render_blocks_as_text
from bot.engagement.blocks import (
    STOP_REMINDERS_ACTION,
    NetworkRate,
    PlannedReminder,
    StatusReport,
    reminder_dm,
    responded_line,
    status_blocks,
    thread_reminder,
)
from storage.models import Consultation

DEADLINE = datetime(2021, 1, 8, 17, 0, tzinfo=UTC)
NOW = DEADLINE - timedelta(days=2)


def consultation(status: str = "open") -> Consultation:
    return Consultation(
        id="integrating-care",
        title="Integrating care <next steps>",
        deadline=DEADLINE,
        timezone="Europe/London",
        status=status,
    )


def actions(message: dict) -> list[str]:
    return [
        e["action_id"] for b in message["blocks"] if b["type"] == "actions" for e in b["elements"]
    ]


def test_responded_line_reads_naturally() -> None:
    assert (
        responded_line(9, 24, "Mental Health Network")
        == "9 of 24 members of the Mental Health Network have responded"
    )
    assert (
        responded_line(1, 17, "ICS Network") == "1 of 17 members of the ICS Network has responded"
    )
    assert responded_line(0, 6, "PCN Network") == (
        "None of the 6 members of the PCN Network have responded yet"
    )


def test_thread_reminder_says_how_many_and_how_long_is_left() -> None:
    message = thread_reminder(
        consultation(), answered=9, members=24, network_name="Mental Health Network", now=NOW
    )
    text = render_blocks_as_text(message["blocks"])
    assert "9 of 24 members of the Mental Health Network have responded; 2 days left" in text
    assert "Friday 8 January 2021, 5pm" in text
    assert "&lt;next steps&gt;" in text  # the title is escaped


def test_reminder_dm_has_respond_and_stop_until_stopped() -> None:
    dm = reminder_dm(consultation(), now=NOW)
    assert actions(dm) == ["respond", STOP_REMINDERS_ACTION]
    assert "2 days" in render_blocks_as_text(dm["blocks"])
    stopped = reminder_dm(consultation(), now=NOW, stopped=True)
    assert actions(stopped) == ["respond"]
    assert "won't get more reminders" in render_blocks_as_text(stopped["blocks"])


def test_status_shows_rates_next_reminder_and_backlog() -> None:
    report = StatusReport(
        consultation=consultation(),
        networks=[NetworkRate("ICS Network", 9, 24), NetworkRate("Empty", 0, 0)],
        reminders=[
            PlannedReminder("7d", DEADLINE - timedelta(days=7), "done"),
            PlannedReminder("2d", DEADLINE - timedelta(days=2), "pending"),
        ],
        backlog={"pending": 3, "sent": 40, "failed": 1},
        now=NOW - timedelta(hours=1),
        respondents=9,
        regions={"London": 4},
    )
    text = render_blocks_as_text(status_blocks(report))
    assert "ICS Network: 9 of 24 (38%)" in text
    assert "Empty: 0 of 0" in text
    assert "Next: 2d on Wed 6 Jan 5pm" in text
    assert "7d (sent Fri 1 Jan 5pm)" in text
    assert "Outbox: 3 waiting, 40 sent, 1 failed" in text
    assert "London: 4" in text
