"""`/consult new`: a form for staff to define a consultation without writing a file."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from slack_sdk.models.blocks import (
    CheckboxesElement,
    ContextBlock,
    DatePickerElement,
    InputBlock,
    MarkdownTextObject,
    Option,
    PlainTextInputElement,
    PlainTextObject,
    StaticMultiSelectElement,
    TimePickerElement,
)
from slack_sdk.models.views import View

from bot.slack.text import truncate
from storage.models import Network

NEW_CALLBACK = "new_consultation"
FIELDS = ("id", "title", "summary", "date", "time", "networks", "options", "reminders", "questions")
QUESTIONS_HELP = (
    "One question per line. A plain line is a stance question (Strongly agree … Strongly "
    "disagree). For a choice question add the options after `|`, e.g. "
    "`Which approach do you favour? | Voluntary | Middle way | Statutory`; start the line with "
    "`[multi]` to let members tick several, or `[text]` for a free-text question."
)


def new_consultation_modal(networks: list[Network], timezone: str) -> dict[str, Any]:
    blocks = [
        InputBlock(
            block_id="id",
            label="Short id (used in commands)",
            hint="Lowercase letters, digits and dashes, e.g. integrating-care",
            element=PlainTextInputElement(action_id="id", max_length=100),
        ),
        InputBlock(
            block_id="title",
            label="Title",
            element=PlainTextInputElement(action_id="title", max_length=200),
        ),
        InputBlock(
            block_id="summary",
            label="Briefing for members",
            optional=True,
            element=PlainTextInputElement(action_id="summary", multiline=True, max_length=3000),
        ),
        InputBlock(
            block_id="date",
            label="Deadline date",
            element=DatePickerElement(action_id="date"),
        ),
        InputBlock(
            block_id="time",
            label=f"Deadline time ({timezone})",
            element=TimePickerElement(action_id="time", initial_time="17:00"),
        ),
        InputBlock(
            block_id="networks",
            label="Networks to consult",
            hint="Leave empty to consult every network.",
            optional=True,
            element=StaticMultiSelectElement(
                action_id="networks",
                placeholder="All networks",
                options=[Option(value=n.id, label=truncate(n.name, 75)) for n in networks[:100]],
            )
            if networks
            else PlainTextInputElement(action_id="networks"),
        ),
        InputBlock(
            block_id="options",
            label="Options",
            optional=True,
            element=CheckboxesElement(
                action_id="options",
                options=[
                    Option(
                        value="anonymous",
                        label="Anonymous: no one sees who said what",
                    )
                ],
            ),
        ),
        InputBlock(
            block_id="reminders",
            label="Reminders before the deadline",
            hint="Comma-separated, e.g. 7d, 2d, 4h",
            optional=True,
            element=PlainTextInputElement(action_id="reminders", initial_value="7d, 2d, 4h"),
        ),
        InputBlock(
            block_id="questions",
            label="Questions",
            element=PlainTextInputElement(action_id="questions", multiline=True, max_length=3000),
        ),
        ContextBlock(elements=[MarkdownTextObject(text=QUESTIONS_HELP)]),
    ]
    view = View(
        type="modal",
        callback_id=NEW_CALLBACK,
        title=PlainTextObject(text="New consultation"),
        submit=PlainTextObject(text="Create"),
        close=PlainTextObject(text="Cancel"),
        private_metadata=json.dumps({"tz": timezone}),
        blocks=blocks,
    )
    view.validate_json()
    return view.to_dict()


@dataclass(frozen=True)
class NewForm:
    data: dict[str, Any]  # a consultation file's fields (docs/contracts.md, Consultation file)


def _value(state: dict[str, Any], block: str) -> Any:
    element = (state.get(block) or {}).get(block) or {}
    kind = element.get("type")
    if kind == "datepicker":
        return element.get("selected_date")
    if kind == "timepicker":
        return element.get("selected_time")
    if kind in ("multi_static_select", "checkboxes"):
        return [o.get("value") for o in element.get("selected_options") or []]
    return element.get("value")


def parse_questions(text: str) -> list[dict[str, Any]]:
    questions = []
    for number, raw in enumerate((line.strip() for line in text.splitlines() if line.strip()), 1):
        kind = "stance"
        if raw.lower().startswith("[multi]"):
            kind, raw = "multi_choice", raw[7:].strip()
        elif raw.lower().startswith("[text]"):
            kind, raw = "free_text", raw[6:].strip()
        parts = [p.strip() for p in raw.split("|")]
        question: dict[str, Any] = {"id": f"q{number}", "text": parts[0]}
        if len(parts) > 1:
            question["options"] = [p for p in parts[1:] if p]
            kind = kind if kind == "multi_choice" else "single_choice"
        question["kind"] = kind
        if kind == "free_text":
            question["comment"] = "required"
        questions.append(question)
    return questions


def form_to_file(state: dict[str, Any], timezone: str) -> dict[str, Any]:
    """The form's values as the fields of a consultation file, to validate with the same rules."""
    date, time = _value(state, "date"), _value(state, "time") or "17:00"
    deadline = None
    if date:
        try:
            deadline = datetime.fromisoformat(f"{date}T{time}").isoformat()
        except ValueError:
            deadline = f"{date}T{time}"
    data: dict[str, Any] = {
        "id": (_value(state, "id") or "").strip(),
        "title": (_value(state, "title") or "").strip(),
        "summary": _value(state, "summary") or "",
        "deadline": deadline,
        "timezone": timezone,
        "anonymous": "anonymous" in (_value(state, "options") or []),
        "reminders": [
            r.strip() for r in (_value(state, "reminders") or "").split(",") if r.strip()
        ],
        "questions": parse_questions(_value(state, "questions") or ""),
    }
    networks = _value(state, "networks")
    if isinstance(networks, list) and networks:
        data["networks"] = networks
    return data


def block_for_problem(problem: str) -> str:
    """Which form field a `path: message` problem belongs to."""
    path = problem.split(":", 1)[0]
    head = path.split(".", 1)[0].split("[", 1)[0]
    if head == "deadline":
        return "date"
    if head == "anonymous":
        return "options"
    return head if head in FIELDS else "questions"
