"""`/consult help` and `/consult list`."""

from __future__ import annotations

from typing import Any

from slack_sdk.models.blocks import DividerBlock

from bot.consultations.catalogue import ConsultationSummary
from bot.core.timefmt import human_deadline
from bot.slack.blocks import as_dicts, context, header, section
from bot.slack.copy import render
from bot.slack.text import escape

STATUS_LABELS = {"draft": "Not launched", "open": "Open", "closed": "Closed"}


def help_blocks(can: frozenset[str]) -> list[dict[str, Any]]:
    """The commands of the actions in `can` (bot.core.permissions.allowed_actions)."""
    return as_dicts([section(render("messages/help.md.j2", can=can))])


def list_blocks(
    consultations: list[ConsultationSummary], *, show_counts: bool
) -> list[dict[str, Any]]:
    if not consultations:
        return as_dicts([section("There are no consultations yet.")])
    blocks: list[Any] = [header("Consultations")]
    for item in consultations[:45]:
        c = item.consultation
        state = STATUS_LABELS.get(c.status, c.status)
        if c.status == "draft" and c.launch_at is not None:
            state = f"Scheduled for {human_deadline(c.launch_at, c.timezone)}"
        line = (
            f"*{escape(c.title)}*  `{c.id}`\n"
            f"{state} · deadline "
            f"{human_deadline(c.deadline, c.timezone)} · "
            f"{item.question_count} question{'s' if item.question_count != 1 else ''}"
        )
        if show_counts:
            line += f" · {item.respondents} respondent{'s' if item.respondents != 1 else ''}"
        blocks.append(section(line))
    if len(consultations) > 45:
        blocks.append(context(f"…and {len(consultations) - 45} more."))
    blocks.append(DividerBlock())
    blocks.append(context("`/consult help` for what you can do."))
    return as_dicts(blocks)
