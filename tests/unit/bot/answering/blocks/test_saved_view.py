from __future__ import annotations

from datetime import UTC, datetime

from bot.answering.blocks.receipt import SAVED_TITLE, saved_modal
from bot.consultations.catalogue import ConsultationView
from storage.models import Consultation


def view(*, anonymous: bool = False, title: str = "Integrating care") -> ConsultationView:
    consultation = Consultation(
        id="ic",
        title=title,
        deadline=datetime(2030, 1, 8, 17, 0, tzinfo=UTC),
        timezone="Europe/London",
        anonymous=anonymous,
    )
    return ConsultationView(consultation=consultation, questions=[])


def text_of(modal: dict) -> str:
    return " ".join(block["text"]["text"] for block in modal["blocks"])


def test_the_saved_view_says_saved_and_that_a_receipt_with_the_answers_follows() -> None:
    modal = saved_modal(view())
    assert modal["type"] == "modal" and modal["title"]["text"] == SAVED_TITLE
    text = text_of(modal)
    assert "*Integrating care* is saved" in text
    assert "receipt with your answers follows by DM" in text
    assert "Tuesday 8 January 2030, 5pm" in text  # until when it can be edited


def test_an_anonymous_consultation_does_not_promise_the_answers_back() -> None:
    text = text_of(saved_modal(view(anonymous=True)))
    assert "A receipt follows by DM" in text and "with your answers" not in text


def test_the_title_is_escaped() -> None:
    text = text_of(saved_modal(view(title="Care <!channel> & more")))
    assert "&lt;!channel&gt; &amp; more" in text and "<!channel>" not in text
