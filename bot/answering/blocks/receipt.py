"""What a member is told about their response: "saved" at once when Slack is acked, then the
receipt by DM (with an Edit button) once it is recorded."""

from __future__ import annotations

from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    DividerBlock,
    PlainTextObject,
)
from slack_sdk.models.views import View

from bot.answering.answers import AnswerInput
from bot.consultations.catalogue import ConsultationView
from bot.core.timefmt import human_deadline
from bot.slack.blocks import as_dicts, context, section
from bot.slack.text import escape, truncate

EDIT_ACTION = "edit_response"
MAX_QUESTIONS_SHOWN = 40


def confirmation_text(view: ConsultationView, revision: int) -> str:
    c = view.consultation
    verb = "updated" if revision > 1 else "recorded"
    return (
        f":white_check_mark: Your response to *{escape(c.title)}* is {verb}. "
        f"You can edit it until {human_deadline(c.deadline, c.timezone)}."
    )


SAVED_TITLE = "Response saved"


def saved_text(view: ConsultationView) -> str:
    """Said the moment a submission is safely stored (before it is recorded as a revision)."""
    c = view.consultation
    follows = (
        "A receipt follows by DM" if c.anonymous else "A receipt with your answers follows by DM"
    )
    return (
        f":white_check_mark: Your response to *{escape(c.title)}* is saved. {follows}; "
        f"you can edit it until {human_deadline(c.deadline, c.timezone)}."
    )


def saved_modal(view: ConsultationView) -> dict[str, Any]:
    """The view the modal shows once the submission is saved (the ack's response_action)."""
    modal = View(
        type="modal",
        title=PlainTextObject(text=truncate(SAVED_TITLE, 24)),
        close=PlainTextObject(text="Close"),
        blocks=[section(saved_text(view))],
    )
    modal.validate_json()
    return modal.to_dict()


def receipt_message(
    view: ConsultationView, answers: dict[str, AnswerInput], *, revision: int
) -> dict[str, Any]:
    """chat.postMessage arguments for the receipt DM."""
    c = view.consultation
    blocks: list[Block] = [section(confirmation_text(view, revision))]
    if c.anonymous:
        blocks.append(
            context(
                ":lock: This consultation is anonymous: your answers are stored under a "
                "pseudonym, so this receipt does not repeat them."
            )
        )
    else:
        blocks.append(DividerBlock())
        for number, question in enumerate(view.questions[:MAX_QUESTIONS_SHOWN], start=1):
            answer = answers.get(question.key, AnswerInput())
            chosen = (
                question.label_of(answer.choice)
                if answer.choice
                else "; ".join(question.label_of(v) for v in answer.choices)
            )
            lines = [f"*{number}. {escape(truncate(question.text, 300))}*"]
            if chosen:
                lines.append(f"> {escape(chosen)}")
            if answer.comment:
                lines.append(
                    "> _" + escape(truncate(answer.comment, 1500)).replace("\n", " ") + "_"
                )
            blocks.append(section("\n".join(lines)))
    blocks.append(
        ActionsBlock(
            block_id="receipt_actions",
            elements=[ButtonElement(text="Edit my response", action_id=EDIT_ACTION, value=c.id)],
        )
    )
    return {
        "text": f"Your response to {c.title} is {'updated' if revision > 1 else 'recorded'}.",
        "blocks": as_dicts(blocks),
    }
