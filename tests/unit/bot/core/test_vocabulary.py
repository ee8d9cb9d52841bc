"""The shared vocabulary: one stance scale, one grouped view, one material-difference rule."""

from __future__ import annotations

from fractions import Fraction

from bot.consultations.files import parse_consultation
from bot.core.vocabulary import (
    GROUP_KEYS,
    MATERIAL_GAP_POINTS,
    MATERIAL_MIN_ANSWERS,
    STANCE_GROUPS,
    STANCE_VALUES,
    group_of,
    grouped_counts,
    material_gap,
)


def test_every_stance_falls_in_exactly_one_group_in_scale_order() -> None:
    assert [g for v in STANCE_VALUES if (g := group_of(v))] == [
        "supportive",
        "supportive",
        "undecided",
        "disagree",
        "disagree",
    ]
    assert sorted(v for g in GROUP_KEYS for v in STANCE_GROUPS[g]) == sorted(STANCE_VALUES)
    assert group_of("maybe") is None


def test_grouped_counts_sum_the_scale_and_ignore_values_off_it() -> None:
    counts = {"strongly_agree": 5, "agree": 20, "undecided": 8, "disagree": 5}
    counts |= {"strongly_disagree": 2, "maybe": 99}
    assert grouped_counts(counts) == {"supportive": 25, "undecided": 8, "disagree": 7}


def test_a_stance_question_offers_the_scale() -> None:
    file = parse_consultation(
        "id: c\ntitle: T\ndeadline: 2030-01-08T17:00\n"
        "questions: [{id: q, text: 'Agree', kind: stance}]\n"
    )
    assert [v for v, _ in file.questions[0].choices] == list(STANCE_VALUES)


def test_material_gap_needs_both_the_gap_and_enough_answers() -> None:
    # 15 points exactly, each side with the minimum: material.
    assert material_gap(7, 10, 55, 100) == Fraction(15, 100)
    # Just under 15 points on exact shares (14.96...), though both round to a 15-point gap.
    assert material_gap(70, 100, 551, 1000 - 2) is None
    # A big gap between groups too small to tell.
    assert material_gap(9, MATERIAL_MIN_ANSWERS - 1, 0, 50) is None
    assert material_gap(9, MATERIAL_MIN_ANSWERS, 0, 50) == Fraction(9, 10)
    # Symmetric.
    assert material_gap(55, 100, 7, 10) == material_gap(7, 10, 55, 100)
    assert MATERIAL_GAP_POINTS == 15
