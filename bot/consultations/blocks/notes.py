"""Replies in a network's thread when a consultation closes or its deadline moves."""

from __future__ import annotations

from typing import Any

from bot.core.timefmt import human_deadline
from bot.slack.blocks import as_dicts, section
from bot.slack.text import escape
from storage.models import Consultation


def closing_note(
    consultation: Consultation, *, respondents: int, network_name: str
) -> dict[str, Any]:
    """The reply in a network's thread when the consultation closes, with the final count."""
    name = escape(network_name)
    if respondents == 0:
        count = f"No members of the {name} responded."
    else:
        noun = "member" if respondents == 1 else "members"
        count = f"*{respondents}* {noun} of the {name} responded. Thank you!"
    text = f":lock: *{escape(consultation.title)}* has closed. {count}"
    return {"text": text, "blocks": as_dicts([section(text)])}


def extended_note(consultation: Consultation, *, reopened: bool) -> dict[str, Any]:
    """The reply in a network's thread when the deadline moves (and the consultation reopens)."""
    deadline = human_deadline(consultation.deadline, consultation.timezone)
    verb = "has reopened" if reopened else "has been extended"
    text = (
        f":calendar: *{escape(consultation.title)}* {verb}: you can now respond until {deadline}."
    )
    return {"text": text, "blocks": as_dicts([section(text)])}
