"""The consultation post in each network channel (launch, live progress, closed)."""

from __future__ import annotations

from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    DividerBlock,
    MarkdownTextObject,
    SectionBlock,
)

from bot.consultations.catalogue import ConsultationView
from bot.core.timefmt import human_deadline
from bot.slack.blocks import as_dicts, context, header, section
from bot.slack.text import escape

RESPOND_ACTION = "respond"


def _summary_sections(summary: str) -> list[Block]:
    """Staff-written mrkdwn, split at paragraphs into sections of at most 3,000 characters."""
    chunks: list[str] = []
    for paragraph in summary.strip().split("\n\n"):
        if chunks and len(chunks[-1]) + len(paragraph) + 2 <= 3000:
            chunks[-1] += "\n\n" + paragraph
        else:
            chunks.append(paragraph)
    return [section(chunk) for chunk in chunks[:5] if chunk.strip()]


def respond_button(consultation_id: str, label: str = "Respond") -> ButtonElement:
    return ButtonElement(
        text=label, action_id=RESPOND_ACTION, value=consultation_id, style="primary"
    )


def progress_line(respondents: int, network_name: str) -> str:
    if respondents == 0:
        return f"No members of the {escape(network_name)} have responded yet."
    verb = "has" if respondents == 1 else "have"
    noun = "member" if respondents == 1 else "members"
    return f"*{respondents}* {noun} of the {escape(network_name)} {verb} responded."


def consultation_post(
    view: ConsultationView, *, network_name: str, respondents: int, closed: bool = False
) -> dict[str, Any]:
    """chat.postMessage / chat.update arguments (text + blocks) for one network channel."""
    c = view.consultation
    deadline = human_deadline(c.deadline, c.timezone)
    count = len(view.questions)
    blocks: list[Block] = [header(c.title), *_summary_sections(c.summary)]
    blocks.append(
        SectionBlock(
            fields=[
                MarkdownTextObject(text=f"*Deadline*\n{deadline}"),
                MarkdownTextObject(text=f"*Questions*\n{count}"),
            ]
        )
    )
    if c.source_url:
        blocks.append(context(f"<{c.source_url}|Read the consultation document>"))
    if c.anonymous:
        blocks.append(context(":lock: Responses are anonymous: no one will see who said what."))
    blocks.append(DividerBlock())
    if closed:
        blocks.append(section(f":lock: *Closed* — this consultation closed on {deadline}."))
    else:
        blocks.append(ActionsBlock(block_id="respond", elements=[respond_button(c.id)]))
    blocks.append(context(progress_line(respondents, network_name)))
    state = "closed" if closed else f"open until {deadline}"
    return {
        "text": f"Consultation: {c.title} ({state})",
        "blocks": as_dicts(blocks),
        "unfurl_links": False,
    }
