"""The response modal: every question of a consultation in one view, and reading it back."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any

from slack_sdk.models.blocks import (
    Block,
    CheckboxesElement,
    ContextBlock,
    DividerBlock,
    InputBlock,
    MarkdownTextObject,
    Option,
    PlainTextInputElement,
    PlainTextObject,
    RadioButtonsElement,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from bot.answering.answers import MAX_COMMENT, AnswerInput, Problem
from bot.consultations.catalogue import ConsultationView, QuestionView
from bot.core.timefmt import human_deadline
from bot.slack.blocks import header, read_private_metadata, section
from bot.slack.text import escape, truncate
from storage.models import Region

RESPONSE_CALLBACK = "consultation_response"
CONSENT_BLOCK = "consent"
REGION_BLOCK = "profile_region"
ORGANISATION_BLOCK = "profile_organisation"
CONSENT_CHOICES = [
    ("named", "You may quote me by name"),
    ("anonymous", "You may quote me anonymously"),
    ("no", "Please do not quote me"),
]


def choice_block_id(question_key: str) -> str:
    return f"choice:{question_key}"


def comment_block_id(question_key: str) -> str:
    return f"comment:{question_key}"


def row_block_id(question_key: str, row_value: str) -> str:
    """One radio group per row of a matrix question."""
    return f"row:{question_key}:{row_value}"


@dataclass(frozen=True)
class ModalContext:
    """What the submission handler needs back; carried in private_metadata."""

    consultation_id: str
    channel_id: str | None = None
    ask_profile: bool = False

    def dumps(self) -> str:
        return json.dumps(
            {
                "c": self.consultation_id,
                "ch": self.channel_id,
                "p": self.ask_profile,
            }
        )[:3000]

    @classmethod
    def loads(cls, raw: str | None) -> ModalContext | None:
        data = read_private_metadata(raw)
        if data is None or "c" not in data:
            return None
        channel = data.get("ch")
        return cls(
            consultation_id=str(data["c"]),
            channel_id=channel if isinstance(channel, str) else None,
            ask_profile=bool(data.get("p")),
        )


def _option(value: str, label: str) -> Option:
    return Option(value=value, label=truncate(label, 75))


def _question_blocks(
    number: int, question: QuestionView, current: AnswerInput | None
) -> list[Block]:
    blocks: list[Block] = []
    label = truncate(f"{number}. {question.text}", 2000)
    options = [_option(o.value, o.label) for o in question.options]
    by_value = {o.value: o for o in options}
    if question.kind in ("stance", "single_choice"):
        initial = by_value.get(current.choice) if current and current.choice else None
        blocks.append(
            InputBlock(
                block_id=choice_block_id(question.key),
                label=label,
                element=RadioButtonsElement(
                    action_id="choice", options=options, initial_option=initial
                ),
            )
        )
    elif question.kind == "matrix":
        chosen = dict(current.rows) if current else {}
        for index, row in enumerate(question.rows):
            blocks.append(
                InputBlock(
                    block_id=row_block_id(question.key, row.value),
                    # The question is the first row's label, so it is read before the rows.
                    label=truncate(row.text, 2000),
                    hint=truncate(f"{number}. {question.text}", 2000) if index == 0 else None,
                    element=RadioButtonsElement(
                        action_id="choice",
                        options=options,
                        initial_option=by_value.get(chosen.get(row.value, "")),
                    ),
                )
            )
    elif question.kind == "multi_choice":
        initial_many = [by_value[v] for v in (current.choices if current else ()) if v in by_value]
        blocks.append(
            InputBlock(
                block_id=choice_block_id(question.key),
                label=label,
                hint="Tick all that apply.",
                element=CheckboxesElement(
                    action_id="choice", options=options, initial_options=initial_many or None
                ),
            )
        )
    if question.comment != "none":
        free_text = question.kind == "free_text"
        blocks.append(
            InputBlock(
                block_id=comment_block_id(question.key),
                label=label if free_text else "Comment",
                optional=question.comment != "required",
                element=PlainTextInputElement(
                    action_id="comment",
                    multiline=True,
                    max_length=MAX_COMMENT,
                    initial_value=(current.comment if current and current.comment else None),
                    placeholder="Your answer"
                    if free_text
                    else "Why? (optional)"
                    if question.comment == "optional"
                    else "Why?",
                ),
            )
        )
    return blocks


def response_modal(
    view: ConsultationView,
    context: ModalContext,
    *,
    current: dict[str, AnswerInput] | None = None,
    consent: str | None = None,
    regions: list[Region] | None = None,
) -> dict[str, Any]:
    """The modal holding every question, prefilled with `current` answers when editing."""
    c = view.consultation
    editing = bool(current)
    blocks: list[Block] = [
        header(c.title),
        ContextBlock(
            elements=[
                MarkdownTextObject(
                    text=f"Deadline {human_deadline(c.deadline, c.timezone)}. "
                    + ("You can edit your response until then." if not editing else "")
                    + (" Your response is anonymous." if c.anonymous else "")
                )
            ]
        ),
    ]
    for number, question in enumerate(view.questions, start=1):
        blocks.append(DividerBlock())
        blocks.extend(_question_blocks(number, question, (current or {}).get(question.key)))
    blocks.append(DividerBlock())
    consent_options = [
        _option(v, label) for v, label in CONSENT_CHOICES if not (c.anonymous and v == "named")
    ]
    initial_consent = next(
        (o for o in consent_options if o.value == (consent or "anonymous")), consent_options[0]
    )
    blocks.append(
        InputBlock(
            block_id=CONSENT_BLOCK,
            label="May we quote your comments in our response?",
            element=RadioButtonsElement(
                action_id="consent", options=consent_options, initial_option=initial_consent
            ),
        )
    )
    if context.ask_profile and regions:
        blocks.append(section("*About you* — asked once, remembered for next time."))
        blocks.append(
            InputBlock(
                block_id=REGION_BLOCK,
                label="Your region",
                element=StaticSelectElement(
                    action_id="region",
                    placeholder="Choose your region",
                    options=[_option(r.id, r.name) for r in regions[:100]],
                ),
            )
        )
        blocks.append(
            InputBlock(
                block_id=ORGANISATION_BLOCK,
                label="Your organisation",
                element=PlainTextInputElement(action_id="organisation", max_length=300),
            )
        )
    modal = View(
        type="modal",
        callback_id=RESPONSE_CALLBACK,
        title=PlainTextObject(text="Edit your response" if editing else "Respond"),
        submit=PlainTextObject(text="Submit"),
        close=PlainTextObject(text="Cancel"),
        private_metadata=context.dumps(),
        blocks=blocks,
    )
    modal.validate_json()
    return modal.to_dict()


def info_modal(title: str, text: str) -> dict[str, Any]:
    """A modal that only says something (a refusal, a closed consultation)."""
    modal = View(
        type="modal",
        title=PlainTextObject(text=truncate(title, 24)),
        close=PlainTextObject(text="Close"),
        blocks=[section(text)],
    )
    modal.validate_json()
    return modal.to_dict()


@dataclass(frozen=True)
class ParsedSubmission:
    answers: dict[str, AnswerInput]
    consent: str
    region_id: str | None
    organisation: str | None

    def without_profile(self) -> ParsedSubmission:
        """The same answers with no region or organisation: what counts from a form that did
        not ask for them (a forged form cannot move a member to another region)."""
        return replace(self, region_id=None, organisation=None)

    def packed(self) -> dict[str, Any]:
        """What the inbox keeps of a submission: the answers as read from the form, about a
        tenth of Slack's raw form state (its options' labels and the view's own copy of them),
        so the row written before the ack is small and the recorder need not read the form
        again. Empty parts are left out; `unpacked` reads them back."""
        answers: dict[str, dict[str, Any]] = {}
        for key, answer in self.answers.items():
            packed: dict[str, Any] = {}
            if answer.choice is not None:
                packed["choice"] = answer.choice
            if answer.choices:
                packed["choices"] = list(answer.choices)
            if answer.comment is not None:
                packed["comment"] = answer.comment
            if answer.rows:
                packed["rows"] = [list(row) for row in answer.rows]
            answers[key] = packed
        return {
            "answers": answers,
            "consent": self.consent,
            "region_id": self.region_id,
            "organisation": self.organisation,
        }

    @classmethod
    def unpacked(cls, view: ConsultationView, packed: dict[str, Any]) -> ParsedSubmission:
        """`packed` read back for `view`: only its questions, as `parse_submission` would have
        read them (a question removed since the member answered is dropped)."""
        stored = packed.get("answers") or {}
        answers: dict[str, AnswerInput] = {}
        for question in view.questions:
            answer = stored.get(question.key) or {}
            answers[question.key] = AnswerInput(
                choice=answer.get("choice"),
                choices=tuple(answer.get("choices") or ()),
                comment=answer.get("comment"),
                rows=tuple((row, choice) for row, choice in answer.get("rows") or ()),
            )
        return cls(
            answers=answers,
            consent=packed.get("consent") or "anonymous",
            region_id=packed.get("region_id"),
            organisation=packed.get("organisation"),
        )


def parse_submission(view: ConsultationView, state_values: dict[str, Any]) -> ParsedSubmission:
    """Read the member's answers out of `view.state.values`; missing parts read as empty."""

    def element(block_id: str, action_id: str) -> dict[str, Any]:
        block = state_values.get(block_id)
        if not isinstance(block, dict):
            return {}
        value = block.get(action_id)
        return value if isinstance(value, dict) else {}

    def option(state: dict[str, Any]) -> dict[str, Any]:
        selected = state.get("selected_option")
        return selected if isinstance(selected, dict) else {}

    answers: dict[str, AnswerInput] = {}
    for question in view.questions:
        choice_state = element(choice_block_id(question.key), "choice")
        selected = option(choice_state)
        many = choice_state.get("selected_options")
        many = many if isinstance(many, list) else []
        comment = element(comment_block_id(question.key), "comment").get("value")
        rows = []
        for row in question.rows if question.kind == "matrix" else ():
            chosen = option(element(row_block_id(question.key, row.value), "choice")).get("value")
            if isinstance(chosen, str):
                rows.append((row.value, chosen))
        answers[question.key] = AnswerInput(
            choice=selected.get("value") if isinstance(selected.get("value"), str) else None,
            choices=tuple(
                o["value"] for o in many if isinstance(o, dict) and isinstance(o.get("value"), str)
            ),
            comment=comment if isinstance(comment, str) else None,
            rows=tuple(rows),
        )
    consent = option(element(CONSENT_BLOCK, "consent")).get("value")
    region = option(element(REGION_BLOCK, "region")).get("value")
    organisation = element(ORGANISATION_BLOCK, "organisation").get("value")
    return ParsedSubmission(
        answers=answers,
        consent=consent if consent in {v for v, _ in CONSENT_CHOICES} else "anonymous",
        region_id=region if isinstance(region, str) else None,
        organisation=organisation.strip() if isinstance(organisation, str) else None,
    )


def errors_for(problems: dict[str, Problem]) -> dict[str, str]:
    """Map answer problems to the block that shows them (response_action: errors)."""

    def block_of(key: str, part: str) -> str:
        if part == "comment":
            return comment_block_id(key)
        if part.startswith("row:"):
            return row_block_id(key, part.removeprefix("row:"))
        return choice_block_id(key)

    return {block_of(key, problem.part): problem.message for key, problem in problems.items()}


def unsent_text(view: ConsultationView, answers: dict[str, AnswerInput]) -> str:
    """The member's answers as plain text, to give back when we cannot record them."""
    lines = []
    for number, question in enumerate(view.questions, start=1):
        answer = answers.get(question.key)
        if answer is None:
            continue
        chosen = (
            question.label_of(answer.choice)
            if answer.choice
            else "; ".join(question.label_of(v) for v in answer.choices)
            or "; ".join(f"{question.row_text(r)}: {question.label_of(c)}" for r, c in answer.rows)
        )
        if not chosen and not answer.comment:
            continue
        lines.append(f"*{number}. {escape(question.text)}*")
        if chosen:
            lines.append(f"Answer: {escape(chosen)}")
        if answer.comment:
            lines.append(f"Comment: {escape(answer.comment)}")
    return "\n".join(lines)
