"""What the inbox keeps of a submission: the answers as read from the form, read back the same."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from bot.answering.answers import AnswerInput
from bot.answering.blocks.modal import (
    ModalContext,
    ParsedSubmission,
    parse_submission,
    response_modal,
)
from bot.consultations.catalogue import ConsultationView, OptionView, QuestionView, RowView
from bot.demo.sandbox.driver import build_state_values
from storage.models import Consultation

OPTIONS = [OptionView("yes", "Yes"), OptionView("no", "No"), OptionView("unsure", "Unsure")]


def form(*keys: str) -> ConsultationView:
    questions = {
        "choose": QuestionView(1, "choose", "Do you agree?", "single_choice", "optional", OPTIONS),
        "many": QuestionView(2, "many", "Which apply?", "multi_choice", "optional", OPTIONS),
        "grid": QuestionView(
            3,
            "grid",
            "For each ask?",
            "matrix",
            "optional",
            OPTIONS,
            [RowView("first", "First ask"), RowView("second", "Second ask")],
        ),
        "say": QuestionView(4, "say", "Anything else?", "free_text", "optional"),
    }
    consultation = Consultation(
        id="pack",
        title="Packing",
        deadline=datetime(2030, 1, 8, 17, tzinfo=UTC),
        timezone="Europe/London",
    )
    return ConsultationView(consultation=consultation, questions=[questions[k] for k in keys])


def submitted(view: ConsultationView, values: dict[str, Any]) -> dict[str, Any]:
    """Slack's view.state.values for a member who filled the form in so."""
    modal = response_modal(view, ModalContext(view.id, channel_id="C1", ask_profile=True))
    return build_state_values(modal, values)


def round_trip(view: ConsultationView, parsed: ParsedSubmission) -> ParsedSubmission:
    return ParsedSubmission.unpacked(view, json.loads(json.dumps(parsed.packed())))


def test_every_kind_of_answer_reads_back_as_the_form_gave_it() -> None:
    view = form("choose", "many", "grid", "say")
    state = submitted(
        view,
        {
            "choice:choose": "no",
            "comment:choose": "Not as <!channel> drafted",
            "choice:many": ["yes", "unsure"],
            "row:grid:first": "yes",
            "row:grid:second": "unsure",
            "comment:say": "  Fund it first  ",
            "consent": "named",
        },
    )
    parsed = parse_submission(view, state)
    assert parsed.answers["many"].choices == ("yes", "unsure")  # the form was filled in

    assert round_trip(view, parsed) == parsed


def test_an_empty_form_reads_back_empty() -> None:
    view = form("choose", "many", "grid", "say")
    parsed = parse_submission(view, {})

    assert round_trip(view, parsed) == parsed
    assert parsed.packed()["answers"]["choose"] == {}  # empty parts are left out


def test_a_question_removed_since_the_member_answered_is_dropped() -> None:
    before = form("choose", "say")
    parsed = parse_submission(before, submitted(before, {"choice:choose": "yes"}))

    after = ParsedSubmission.unpacked(form("say"), parsed.packed())

    assert set(after.answers) == {"say"} and after.answers["say"] == AnswerInput()


def test_the_packed_answers_are_far_smaller_than_the_form_state() -> None:
    view = form("choose", "many", "grid", "say")
    values = {"choice:choose": "yes", "choice:many": ["no"], "row:grid:first": "no"}
    state = submitted(view, values)

    packed = parse_submission(view, state).packed()

    assert len(json.dumps(packed)) * 3 < len(json.dumps(state))
