"""Reminder DMs, thread reminders, closing/extension notes and the `/consult status` report."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    InputBlock,
    PlainTextInputElement,
    PlainTextObject,
)
from slack_sdk.models.views import View

from bot.consultations.blocks.posts import respond_button
from bot.core.timefmt import human_deadline, human_duration, human_time, local
from bot.slack.blocks import as_dicts, context, header, section
from bot.slack.text import escape, truncate
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
    elif c.launch_at is not None:
        state = (
            f"Scheduled for {human_deadline(c.launch_at, c.timezone)}; deadline {deadline} "
            f"(`/consult launch {c.id} cancel` to cancel)"
        )
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


# --- escalation of quiet regions to their leads ----------------------------------------------

NUDGE_REGION_ACTION = "nudge_region"
MAX_NAMES = 60


def escalation_dm(
    consultation: Consultation,
    *,
    region_name: str,
    region_id: str,
    answered: int,
    members: int,
    threshold: float,
    not_answered: list[str] | None,
) -> dict[str, Any]:
    """The DM to a region's lead when the region's response rate is below the threshold.

    `not_answered` (user ids) is given for named consultations only: then the lead sees who,
    with a button to nudge them now; an anonymous one gives counts only."""
    rate = round(100 * answered / members) if members else 0
    missing = members - answered
    title = escape(consultation.title)
    line = (
        f":rotating_light: *{escape(region_name)}* is quiet on *{title}*: {answered} of "
        f"{members} members ({rate}%) have responded, below the {round(100 * threshold)}% "
        f"threshold. *{missing}* {'has' if missing == 1 else 'have'} not answered yet; it closes "
        f"on {human_deadline(consultation.deadline, consultation.timezone)}."
    )
    blocks: list[Block] = [section(line)]
    if not_answered is not None:
        shown = ", ".join(f"<@{user}>" for user in not_answered[:MAX_NAMES])
        more = len(not_answered) - MAX_NAMES
        blocks.append(
            section(f"*Not answered yet:* {shown}" + (f" and {more} more" if more > 0 else ""))
        )
        blocks.append(
            ActionsBlock(
                block_id="escalation_actions",
                elements=[
                    ButtonElement(
                        text="Nudge them now",
                        action_id=NUDGE_REGION_ACTION,
                        style="primary",
                        value=json.dumps({"c": consultation.id, "r": region_id}),
                    )
                ],
            )
        )
        blocks.append(
            context("They get the usual reminder DM, from the bot, at most once an hour.")
        )
    else:
        blocks.append(
            context(
                "This consultation is anonymous, so names are not shown. "
                f"`/consult remind {consultation.id}` nudges everyone in your region who has not "
                "answered."
            )
        )
    plain = f"{region_name} is at {rate}% on {consultation.title}: {missing} not answered yet."
    return {"text": plain, "blocks": as_dicts(blocks), "unfurl_links": False}


# --- members' questions ----------------------------------------------------------------------

ANSWER_QUESTION_ACTION = "answer_question"
ADD_TO_FAQ_ACTION = "add_to_faq"
ANSWER_CALLBACK = "question_answer"
ANSWER_BLOCK = "answer"
ANSWER_INPUT = "answer_text"
MAX_ANSWER = 2500
QUOTE_LIMIT = 900


def quoted(text: str) -> str:
    """User text as a mrkdwn block quote, escaped so it can neither ping nor link."""
    lines = escape(truncate(text.strip(), QUOTE_LIMIT)).splitlines() or [""]
    return "\n".join(f"> {line}" for line in lines)


def faq_answer(
    consultation: Consultation, *, entry_number: int, entry_question: str, answer: str
) -> dict[str, Any]:
    """The answer taken from the consultation's FAQ, saying which entry it used."""
    lead = (
        f":bulb: From the FAQ of *{escape(consultation.title)}*, entry {entry_number}: "
        f"_{escape(entry_question)}_"
    )
    blocks: list[Block] = [
        section(f"{lead}\n{escape(answer)}"),
        context(
            "Answered automatically from the consultation's FAQ. Not what you asked? Ask again "
            f"with more detail: `/consult ask {consultation.id} …`"
        ),
    ]
    return {"text": f"From the FAQ: {entry_question}", "blocks": as_dicts(blocks)}


def question_passed(consultation: Consultation, *, in_thread: bool) -> dict[str, Any]:
    """The asker is told the question has gone to staff, and where the answer will come."""
    where = "here in this thread" if in_thread else "to you by DM"
    text = (
        f":speech_balloon: The FAQ of *{escape(consultation.title)}* doesn't answer that, so "
        f"I've passed your question to the policy team. Their answer will come {where}."
    )
    return {"text": text, "blocks": as_dicts([section(text)])}


def question_for_staff(
    consultation: Consultation,
    *,
    question_id: int,
    asked_by: str,
    text: str,
    where: str,
    answered_by: str | None = None,
) -> dict[str, Any]:
    """The DM to each staff member: the question, who asked where, and an Answer button."""
    lead = (
        f":question: <@{asked_by}> asked about *{escape(consultation.title)}* "
        f"(`{consultation.id}`) {escape(where)}:"
    )
    blocks: list[Block] = [section(f"{lead}\n{quoted(text)}")]
    if answered_by is None:
        blocks.append(
            ActionsBlock(
                block_id="question_actions",
                elements=[
                    ButtonElement(
                        text="Answer",
                        action_id=ANSWER_QUESTION_ACTION,
                        style="primary",
                        value=str(question_id),
                    )
                ],
            )
        )
        blocks.append(context("The FAQ had no close enough answer. Your answer goes to the asker."))
    else:
        blocks.append(context(f":white_check_mark: Answered by <@{answered_by}>."))
    return {"text": f"A member's question about {consultation.title}", "blocks": as_dicts(blocks)}


def answer_modal(consultation: Consultation, *, question_id: int, text: str) -> dict[str, Any]:
    """The modal staff type their answer in."""
    modal = View(
        type="modal",
        callback_id=ANSWER_CALLBACK,
        private_metadata=str(question_id),
        title=PlainTextObject(text="Answer a question"),
        submit=PlainTextObject(text="Send answer"),
        close=PlainTextObject(text="Cancel"),
        blocks=[
            section(f"*{escape(consultation.title)}*\n{quoted(text)}"),
            InputBlock(
                block_id=ANSWER_BLOCK,
                label=PlainTextObject(text="Your answer"),
                element=PlainTextInputElement(
                    action_id=ANSWER_INPUT, multiline=True, max_length=MAX_ANSWER
                ),
            ),
        ],
    )
    modal.validate_json()
    return modal.to_dict()


def staff_answer(
    consultation: Consultation, *, asked_by: str, question: str, answer: str, answered_by: str
) -> dict[str, Any]:
    """Staff's answer as the asker sees it (in the thread, or by DM)."""
    text = (
        f":speech_balloon: <@{asked_by}>, the policy team (<@{answered_by}>) answered your "
        f"question about *{escape(consultation.title)}*:\n{quoted(question)}\n{escape(answer)}"
    )
    return {
        "text": f"An answer to your question about {consultation.title}",
        "blocks": as_dicts([section(text)]),
    }


def answer_sent(
    consultation: Consultation, *, question_id: int, asked_by: str, added_to_faq: int | None = None
) -> dict[str, Any]:
    """The DM to the staff member who answered: sent, with Add to FAQ (one click)."""
    text = f":white_check_mark: Your answer was sent to <@{asked_by}>."
    blocks: list[Block] = [section(text)]
    if added_to_faq is None:
        blocks.append(
            ActionsBlock(
                block_id="answer_actions",
                elements=[
                    ButtonElement(
                        text="Add to FAQ", action_id=ADD_TO_FAQ_ACTION, value=str(question_id)
                    )
                ],
            )
        )
        blocks.append(
            context(
                f"Adding it to the FAQ of `{consultation.id}` answers the next member who asks "
                "the same at once."
            )
        )
    else:
        blocks.append(context(f":bookmark: Added to the FAQ as entry {added_to_faq}."))
    return {"text": text, "blocks": as_dicts(blocks)}
