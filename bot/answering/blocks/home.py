"""The App Home: open consultations with the member's status; staff also see counts and actions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from slack_sdk.models.blocks import ActionsBlock, Block, ButtonElement, DividerBlock
from slack_sdk.models.views import View

from bot.consultations.blocks.posts import RESPOND_ACTION
from bot.core.timefmt import human_deadline, local
from bot.slack.blocks import context, header, section
from bot.slack.text import escape
from storage.models import Consultation

HOME_LAUNCH_ACTION = "home_launch"
HOME_CLOSE_ACTION = "home_close"


@dataclass(frozen=True)
class HomeItem:
    consultation: Consultation
    answered_at: datetime | None  # when the member last submitted, None = not started
    respondents: int | None = None  # shown to staff only
    can_answer: bool = True


def _status(item: HomeItem) -> str:
    if item.answered_at is None:
        return ":white_circle: Not started"
    c = item.consultation
    when = local(item.answered_at, c.timezone)
    return f":large_green_circle: Answered · last edited {when:%-d %b %Y, %H:%M}"


def home_view(items: list[HomeItem], *, drafts: list[Consultation], staff: bool) -> dict[str, Any]:
    blocks: list[Block] = [header("Consultations")]
    if not items:
        blocks.append(section("There are no open consultations right now."))
    for item in items[:30]:
        c = item.consultation
        line = (
            f"*{escape(c.title)}*\nDeadline {human_deadline(c.deadline, c.timezone)}\n"
            + _status(item)
        )
        if staff and item.respondents is not None:
            line += f"\n{item.respondents} respondent{'s' if item.respondents != 1 else ''} so far"
        blocks.append(DividerBlock())
        blocks.append(section(line))
        buttons = []
        if item.can_answer:
            label = "Edit my response" if item.answered_at else "Respond"
            buttons.append(
                ButtonElement(
                    text=label,
                    action_id=RESPOND_ACTION,
                    value=c.id,
                    style=None if item.answered_at else "primary",
                )
            )
        if staff:
            buttons.append(ButtonElement(text="Close now", action_id=HOME_CLOSE_ACTION, value=c.id))
        if buttons:
            blocks.append(ActionsBlock(block_id=f"home:{c.id}", elements=buttons))
    if staff and drafts:
        blocks.append(DividerBlock())
        blocks.append(header("Not launched yet"))
        for c in drafts[:15]:
            when = f"Deadline {human_deadline(c.deadline, c.timezone)}"
            if c.launch_at is not None:  # `/consult launch ID at DATE`
                when = f"Launches {human_deadline(c.launch_at, c.timezone)} (scheduled). " + when
            blocks.append(
                section(
                    f"*{escape(c.title)}* `{c.id}`\n{when}",
                    accessory=ButtonElement(
                        text="Launch now" if c.launch_at is not None else "Launch",
                        action_id=HOME_LAUNCH_ACTION,
                        value=c.id,
                        style="primary",
                    ),
                )
            )
    blocks.append(context("Type `/consult help` anywhere for what you can do."))
    view = View(type="home", blocks=blocks)
    view.validate_json()
    return view.to_dict()
