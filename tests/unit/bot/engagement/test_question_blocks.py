"""What members, staff and leads read about questions and quiet regions (Block Kit checked)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from bot.engagement.blocks import (
    answer_modal,
    escalation_dm,
    faq_answer,
    question_for_staff,
    staff_answer,
)
from bot.engagement.questions import reads_as_question
from storage.models import Consultation

CONSULTATION = Consultation(
    id="ic",
    title="Integrating <care>",
    deadline=datetime(2021, 1, 8, 17, tzinfo=UTC),
    timezone="Europe/London",
)
HOSTILE = "Why? <!channel> <@U0BOSS> & <https://evil.example|click>"


def texts(payload: dict) -> str:
    return json.dumps(payload["blocks"])


def test_echoed_questions_and_answers_are_escaped_everywhere() -> None:
    for payload in (
        question_for_staff(CONSULTATION, question_id=1, asked_by="U1", text=HOSTILE, where="x"),
        staff_answer(
            CONSULTATION, asked_by="U1", question=HOSTILE, answer=HOSTILE, answered_by="U2"
        ),
        faq_answer(CONSULTATION, entry_number=2, entry_question=HOSTILE, answer=HOSTILE),
    ):
        shown = texts(payload)
        assert "<!channel>" not in shown and "<@U0BOSS>" not in shown and "<https" not in shown
        assert "&lt;!channel&gt;" in shown
        assert "Integrating &lt;care&gt;" in shown


def test_the_faq_answer_names_the_entry_it_used() -> None:
    shown = texts(faq_answer(CONSULTATION, entry_number=4, entry_question="Q?", answer="A."))
    assert "entry 4" in shown and "_Q?_" in shown and "A." in shown


def test_staff_get_an_answer_button_until_someone_answers() -> None:
    open_dm = question_for_staff(CONSULTATION, question_id=7, asked_by="U1", text="Q?", where="x")
    assert '"action_id": "answer_question"' in texts(open_dm) and '"value": "7"' in texts(open_dm)
    done = question_for_staff(
        CONSULTATION, question_id=7, asked_by="U1", text="Q?", where="x", answered_by="U2"
    )
    assert "answer_question" not in texts(done) and "Answered by <@U2>" in texts(done)
    modal = answer_modal(CONSULTATION, question_id=7, text=HOSTILE)
    assert modal["private_metadata"] == "7" and "<!channel>" not in json.dumps(modal)


def test_escalation_names_people_only_when_not_anonymous() -> None:
    named = escalation_dm(
        CONSULTATION,
        region_name="London",
        region_id="london",
        answered=1,
        members=5,
        threshold=0.3,
        not_answered=["U1", "U2", "U3", "U4"],
    )
    assert "1 of 5 members (20%)" in texts(named) and "<@U4>" in texts(named)
    assert "nudge_region" in texts(named)
    anonymous = escalation_dm(
        CONSULTATION,
        region_name="London",
        region_id="london",
        answered=1,
        members=5,
        threshold=0.3,
        not_answered=None,
    )
    assert "<@" not in texts(anonymous) and "nudge_region" not in texts(anonymous)
    assert "*4* have not answered" in texts(anonymous)


def test_only_thread_replies_that_read_as_questions_are_taken() -> None:
    assert reads_as_question("Is this for ICS leads only?")
    assert reads_as_question("how do councils fit in")
    assert not reads_as_question("Thanks, done!")
    assert not reads_as_question("Great consultation")
