"""The staff review of a question's theme codebook, as a Slack modal (pure builders)."""

from __future__ import annotations

import json
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    DividerBlock,
    InputBlock,
    Option,
    PlainTextInputElement,
    PlainTextObject,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from bot.reporting.codebook import MAX_LABEL_CHARS, Review, stance_phrase
from bot.slack.blocks import context, header, read_private_metadata, section
from bot.slack.text import escape, truncate

THEMES_CALLBACK = "themes_review"
QUESTION_ACTION = "themes_question"
EDIT_BLOCK, THEME_BLOCK, OTHER_BLOCK, LABEL_BLOCK = "edit", "theme", "other", "label"
_EDIT_OPTIONS = [
    ("rename", "Rename the theme"),
    ("merge", "Merge it into another theme"),
    ("drop", "Drop it (its comments go to other points)"),
]
_MAX_THEME_BLOCKS = 40  # a modal holds 100 blocks; a codebook has at most a dozen themes


def _metadata(consultation_id: str, question_key: str) -> str:
    return json.dumps({"c": consultation_id, "q": question_key})


def read_metadata(view: dict[str, Any]) -> tuple[str, str] | None:
    data = read_private_metadata(view.get("private_metadata"))
    if data is None or not data.get("c") or not data.get("q"):
        return None
    return str(data["c"]), str(data["q"])


def loading_modal(consultation_id: str) -> dict[str, Any]:
    modal = View(
        type="modal",
        callback_id=THEMES_CALLBACK,
        title=PlainTextObject(text="Themes"),
        close=PlainTextObject(text="Close"),
        blocks=[section(f"Finding the themes of `{escape(consultation_id)}`…")],
    )
    modal.validate_json()
    return modal.to_dict()


def review_modal(review: Review, notice: str | None = None) -> dict[str, Any]:
    """Themes with counts, stance mix and a sample quote; a form to rename, merge or drop."""
    question = review.question
    blocks: list[Block] = [header(truncate(f"Themes: {review.title}", 150))]
    if len(review.questions) > 1:
        blocks.append(
            ActionsBlock(
                block_id="question",
                elements=[
                    StaticSelectElement(
                        action_id=QUESTION_ACTION,
                        placeholder=PlainTextObject(text="Question"),
                        initial_option=_question_option(question.key, question.text),
                        options=[_question_option(q.key, q.text) for q in review.questions],
                    )
                ],
            )
        )
    blocks.append(section(f"*{escape(question.key)}*: {escape(truncate(question.text, 500))}"))
    if notice:
        blocks.append(context(f":white_check_mark: {escape(notice)}"))
    if not review.themes:
        blocks.append(section(f"No themes in {review.comments} comments yet."))
    for theme in review.themes[:_MAX_THEME_BLOCKS]:
        edited = " _(edited)_" if theme.edited else ""
        text = (
            f"*{escape(theme.id)} · {escape(truncate(theme.label, 200))}*{edited}\n"
            f"{stance_phrase(theme).capitalize()}"
        )
        if theme.quotes:
            text += f"\n> {escape(truncate(theme.quotes[0], 300))}"
        blocks.append(section(truncate(text, 3000)))
    blocks.append(
        context(
            f"{review.other_points} of {review.comments} comments are among the other points "
            f"(no theme). Coded {'by the model' if review.engine == 'llm' else 'offline'}."
        )
    )
    if review.themes:
        theme_options = [
            Option(value=t.id, text=truncate(f"{t.id} · {t.label}", 75)) for t in review.themes
        ]
        blocks += [
            DividerBlock(),
            InputBlock(
                block_id=EDIT_BLOCK,
                label="Change",
                element=StaticSelectElement(
                    action_id=EDIT_BLOCK,
                    options=[Option(value=v, text=t) for v, t in _EDIT_OPTIONS],
                ),
            ),
            InputBlock(
                block_id=THEME_BLOCK,
                label="Theme",
                element=StaticSelectElement(action_id=THEME_BLOCK, options=theme_options),
            ),
            InputBlock(
                block_id=OTHER_BLOCK,
                label="Merge into (for a merge)",
                optional=True,
                element=StaticSelectElement(action_id=OTHER_BLOCK, options=theme_options),
            ),
            InputBlock(
                block_id=LABEL_BLOCK,
                label="New name (for a rename)",
                optional=True,
                element=PlainTextInputElement(
                    action_id=LABEL_BLOCK,
                    max_length=MAX_LABEL_CHARS,
                    placeholder=PlainTextObject(
                        text="e.g. Pooled budgets for health and social care"
                    ),
                ),
            ),
        ]
    modal = View(
        type="modal",
        callback_id=THEMES_CALLBACK,
        private_metadata=_metadata(review.consultation_id, question.key),
        title=PlainTextObject(text="Themes"),
        close=PlainTextObject(text="Done"),
        submit=PlainTextObject(text="Apply") if review.themes else None,
        blocks=blocks,
    )
    modal.validate_json()
    return modal.to_dict()


def _question_option(key: str, text: str) -> Option:
    return Option(value=key, text=truncate(f"{key}: {text}", 75))


def read_edit(state_values: dict[str, Any]) -> dict[str, str | None]:
    """The form's fields (edit, theme, other, label); None where empty or malformed."""

    def value(block: str) -> str | None:
        element = (state_values.get(block) or {}).get(block) or {}
        if not isinstance(element, dict):
            return None
        option = element.get("selected_option")
        if isinstance(option, dict):
            return str(option.get("value") or "") or None
        text = element.get("value")
        return str(text) if isinstance(text, str) and text.strip() else None

    return {name: value(name) for name in (EDIT_BLOCK, THEME_BLOCK, OTHER_BLOCK, LABEL_BLOCK)}
