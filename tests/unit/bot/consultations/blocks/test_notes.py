"""What a network's thread is told when a consultation closes or its deadline moves."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.consultations.blocks.notes import closing_note, extended_note
from storage.models import Consultation

DEADLINE = datetime(2021, 1, 8, 17, 0, tzinfo=UTC)


def consultation(status: str = "open") -> Consultation:
    return Consultation(
        id="integrating-care",
        title="Integrating care <next steps>",
        deadline=DEADLINE,
        timezone="Europe/London",
        status=status,
    )


def test_closing_note_gives_the_final_count() -> None:
    note = closing_note(consultation("closed"), respondents=12, network_name="ICS Network")
    assert "*12* members of the ICS Network responded" in note["text"]
    assert "No members" in closing_note(consultation(), respondents=0, network_name="X")["text"]


def test_extended_note_says_reopened_with_the_new_deadline_and_escapes_the_title() -> None:
    note = extended_note(consultation(), reopened=True)
    assert "has reopened" in note["text"]
    assert "8 January" in note["text"] or "8 Jan" in note["text"]
    assert "&lt;next steps&gt;" in note["text"]
