"""`/consult help` and `/consult list` as Block Kit."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.consultations.blocks.listing import help_blocks, list_blocks
from bot.consultations.catalogue import ConsultationSummary
from bot.core.permissions import Actor, allowed_actions
from storage.models import Consultation


def summary(
    cid: str = "integrating-care",
    title: str = "Integrating care",
    *,
    status: str = "open",
    questions: int = 4,
    respondents: int = 12,
) -> ConsultationSummary:
    consultation = Consultation(
        id=cid,
        title=title,
        deadline=datetime(2021, 1, 8, 17, 0, tzinfo=UTC),
        timezone="Europe/London",
        status=status,
    )
    return ConsultationSummary(consultation, questions, respondents)


def text_of(blocks: list[dict[str, Any]]) -> str:
    return json.dumps(blocks, ensure_ascii=False)


def test_empty_list_says_so() -> None:
    blocks = list_blocks([], show_counts=True)
    assert len(blocks) == 1
    assert "no consultations yet" in text_of(blocks)


def test_list_shows_title_id_status_deadline_and_questions() -> None:
    blocks = list_blocks(
        [summary(), summary("sbd", "System by default", status="draft", questions=1)],
        show_counts=False,
    )
    text = text_of(blocks)
    assert blocks[0]["type"] == "header"
    assert "*Integrating care*" in text and "`integrating-care`" in text
    assert "Open · deadline Friday 8 January 2021, 5pm · 4 questions" in text
    assert "Not launched" in text and "1 question" in text and "1 questions" not in text
    assert "respondent" not in text
    assert "/consult help" in text


def test_counts_are_shown_only_when_asked() -> None:
    text = text_of(list_blocks([summary(respondents=1)], show_counts=True))
    assert "1 respondent" in text and "1 respondents" not in text
    assert "12 respondents" in text_of(list_blocks([summary()], show_counts=True))


def test_titles_are_escaped() -> None:
    text = text_of(list_blocks([summary(title="<!channel> Health & care")], show_counts=False))
    assert "<!channel>" not in text
    assert "&lt;!channel&gt; Health &amp; care" in text


def test_a_long_list_is_cut_with_a_note() -> None:
    items = [summary(f"c{i}", f"Consultation {i}") for i in range(50)]
    blocks = list_blocks(items, show_counts=False)
    text = text_of(blocks)
    assert len(blocks) <= 50  # Slack allows 50 blocks in a message
    assert "…and 5 more." in text
    assert "`c44`" in text and "`c45`" not in text


@pytest.mark.parametrize(
    ("role", "shown", "hidden"),
    [
        ("member", ["/consult list"], ["/consult launch", "/consult status", "/consult export"]),
        ("lead", ["/consult status", "/consult summary", "/consult remind"], ["/consult launch"]),
        (
            "staff",
            ["/consult new", "/consult launch", "/consult export", "/consult extend"],
            [],
        ),
    ],
)
def test_help_shows_what_the_role_may_do(role: str, shown: list[str], hidden: list[str]) -> None:
    actor = {
        "member": Actor("U1"),
        "lead": Actor("U2", lead_regions=frozenset({"london"})),
        "staff": Actor("U3", is_staff=True),
    }[role]
    text = text_of(help_blocks(allowed_actions(actor)))
    for command in shown:
        assert command in text
    for command in hidden:
        assert command not in text
