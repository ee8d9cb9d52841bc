"""The FAQ matcher on the example FAQ: reworded questions find their entry, unrelated ones none."""

from __future__ import annotations

import sys
from pathlib import Path

from bot.engagement.faq_match import MATCH_THRESHOLD, FaqItem, best_match

ROOT = Path(__file__).resolve().parents[4]
sys.path.insert(0, str(ROOT))
from bench.faq_match import CONSULTATION, FIXTURE, load, measure  # noqa: E402


def test_at_the_threshold_no_member_gets_a_wrong_answer_and_most_get_one() -> None:
    items, reworded, unanswered = load(FIXTURE, CONSULTATION)
    precision, recall, _ = measure(items, reworded, unanswered, MATCH_THRESHOLD)
    assert precision == 1.0
    assert recall >= 0.6


def test_each_faq_question_as_written_finds_its_own_entry() -> None:
    items, _, _ = load(FIXTURE, CONSULTATION)
    for item in items:
        found = best_match(item.question, items)
        assert found is not None and found.item == item


def test_unrelated_questions_go_to_staff() -> None:
    items, _, _ = load(FIXTURE, CONSULTATION)
    assert best_match("When is the deadline for this consultation?", items) is None
    assert best_match("", items) is None


def test_a_consultation_without_faq_answers_nothing() -> None:
    assert best_match("Why legislate now?", []) is None


def test_an_entry_added_by_staff_answers_the_next_member_who_asks() -> None:
    items, _, _ = load(FIXTURE, CONSULTATION)
    added = FaqItem(99, "Will the mental health investment standard continue?", "Yes, in 2021/22.")
    found = best_match("Is the mental health investment standard continuing?", [*items, added])
    assert found is not None and found.item == added
