"""Reminder DMs, thread reminders, closing/extension notes and the `/consult status` report."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from slack_sdk.models.blocks import ActionsBlock, Block, ButtonElement

from bot.consultations.blocks.posts import respond_button
from bot.core.timefmt import human_deadline, human_duration, human_time, local
from bot.slack.blocks import as_dicts, context, header, section
from bot.slack.text import escape
from storage.models import Consultation

STOP_REMINDERS_ACTION = "stop_reminders"
REMINDER_ACTIONS_BLOCK = "reminder_actions"


def time_left(consultation: Consultation, now: datetime) -> str:
    """'2 days left', or 'closing now' once less than a minute remains."""
    remaining = consultation.deadline - now
    if remaining.total_seconds() < 60:
        return "closing now"
    return f"{human_duration(remaining)} left"


def responded_line(answered: int, members: int, network_name: str) -> str:
    """'9 of 24 members of the Mental Health Network have responded'."""
    name = escape(network_name)
    if members == 0:
        return f"No members of the {name} can be counted yet"
    noun = "member" if members == 1 else "members"
    if answered == 0:
        return f"None of the {members} {noun} of the {name} have responded yet"
    verb = "has" if answered == 1 else "have"
    return f"{answered} of {members} {noun} of the {name} {verb} responded"


def thread_reminder(
    consultation: Consultation, *, answered: int, members: int, network_name: str, now: datetime
) -> dict[str, Any]:
    """The reply in a network's thread (also sent to the channel) when a reminder goes out."""
    deadline = human_deadline(consultation.deadline, consultation.timezone)
    line = (
        f":alarm_clock: *Reminder:* {responded_line(answered, members, network_name)}; "
        f"{time_left(consultation, now)}."
    )
    body = (
        f"*{escape(consultation.title)}* closes on {deadline}. If you haven't responded yet, "
        "press *Respond* on the post above: it takes a few minutes."
    )
    return {"text": f"{line} {body}", "blocks": as_dicts([section(line), context(body)])}


def reminder_dm(
    consultation: Consultation, *, now: datetime, stopped: bool = False
) -> dict[str, Any]:
    """The DM to a member who has not responded: Respond, and Stop reminders for this one."""
    deadline = human_deadline(consultation.deadline, consultation.timezone)
    text = (
        f":wave: A reminder: you haven't responded to *{escape(consultation.title)}* yet. "
        f"It closes on {deadline} ({time_left(consultation, now)})."
    )
    blocks: list[Block] = [section(text)]
    buttons = [respond_button(consultation.id)]
    if stopped:
        blocks.append(context(":no_bell: You won't get more reminders about this consultation."))
    else:
        buttons.append(
            ButtonElement(
                text="Stop reminders for this consultation",
                action_id=STOP_REMINDERS_ACTION,
                value=consultation.id,
            )
        )
    blocks.append(ActionsBlock(block_id=REMINDER_ACTIONS_BLOCK, elements=buttons))
    plain = f"Reminder: please respond to {consultation.title} by {deadline}."
    return {"text": plain, "blocks": as_dicts(blocks), "unfurl_links": False}


# --- /consult status -------------------------------------------------------------------------


@dataclass(frozen=True)
class NetworkRate:
    name: str
    answered: int
    members: int

    @property
    def percent(self) -> int | None:
        return round(100 * self.answered / self.members) if self.members else None


@dataclass(frozen=True)
class PlannedReminder:
    label: str
    due_at: datetime
    status: str


@dataclass(frozen=True)
class StatusReport:
    consultation: Consultation
    networks: list[NetworkRate]
    reminders: list[PlannedReminder]
    backlog: dict[str, int]
    now: datetime
    respondents: int = 0
    regions: dict[str, int] = field(default_factory=dict)  # a lead's own regions: respondents


def _due_text(reminder: PlannedReminder, timezone: str) -> str:
    when = local(reminder.due_at, timezone)
    return f"{when:%a %-d %b} {human_time(reminder.due_at, timezone)}"


def status_blocks(report: StatusReport) -> list[dict[str, Any]]:
    c = report.consultation
    deadline = human_deadline(c.deadline, c.timezone)
    if c.status == "open":
        state = f"Open until {deadline} ({time_left(c, report.now)})"
    elif c.status == "closed":
        state = f"Closed ({deadline})"
    else:
        state = f"Not launched yet; deadline {deadline}"
    blocks: list[Block] = [
        header(c.title),
        section(f"`{c.id}` · {state}\n*{report.respondents}* respondents in all"),
    ]
    lines = []
    for rate in report.networks:
        percent = f" ({rate.percent}%)" if rate.percent is not None else ""
        lines.append(f"• {escape(rate.name)}: {rate.answered} of {rate.members}{percent}")
    blocks.append(section("*Response rate by network*\n" + ("\n".join(lines) or "No networks.")))
    if report.regions:
        region_lines = [f"• {escape(name)}: {count}" for name, count in report.regions.items()]
        blocks.append(section("*Respondents in your regions*\n" + "\n".join(region_lines)))
    if report.reminders:
        pending = [r for r in report.reminders if r.status in ("pending", "claimed")]
        parts = []
        for reminder in report.reminders:
            mark = {"done": "sent", "pending": "planned", "claimed": "sending"}.get(
                reminder.status, reminder.status
            )
            parts.append(f"{reminder.label} ({mark} {_due_text(reminder, c.timezone)})")
        next_line = (
            f"Next: {pending[0].label} on {_due_text(pending[0], c.timezone)}"
            if pending
            else "No reminders left to send"
        )
        blocks.append(section(f"*Reminders*\n{next_line}\n" + " · ".join(parts)))
    else:
        blocks.append(section("*Reminders*\nNone planned"))
    waiting = report.backlog.get("pending", 0) + report.backlog.get("sending", 0)
    failed = report.backlog.get("failed", 0)
    blocks.append(
        context(f"Outbox: {waiting} waiting, {report.backlog.get('sent', 0)} sent, {failed} failed")
    )
    return as_dicts(blocks)
