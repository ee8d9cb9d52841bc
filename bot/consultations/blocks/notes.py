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


def scheduled_launch_note(
    consultation: Consultation, *, posted: int, networks: int, failed: int
) -> dict[str, Any]:
    """The DM to whoever scheduled a launch, once the scheduler has launched it."""
    title = escape(consultation.title)
    when = human_deadline(consultation.deadline, consultation.timezone)
    if failed:
        progress = f"posted to {posted} of {networks} networks; {failed} failed"
    elif posted < networks:
        progress = f"posting to {networks} networks ({posted} so far)"
    else:
        progress = f"posted to all {networks} networks"
    text = (
        f":rocket: *{title}* (`{consultation.id}`) went out as scheduled: {progress}. "
        f"It closes on {when}. `/consult status {consultation.id}` shows how it is going."
    )
    return {"text": text, "blocks": as_dicts([section(text)])}


def scheduled_launch_failed_note(consultation: Consultation, reason: str) -> dict[str, Any]:
    """The DM to whoever scheduled a launch that could not go out (e.g. its deadline passed)."""
    text = (
        f":warning: *{escape(consultation.title)}* (`{consultation.id}`) was due to launch "
        f"but did not go out: {escape(reason)} Nothing was posted."
    )
    return {"text": text, "blocks": as_dicts([section(text)])}
