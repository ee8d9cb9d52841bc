"""House-style phrases must match the briefing examples and never contradict the figure."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.reporting.phrasing import (
    PHRASE_BANDS,
    acceptable_phrases,
    choice_headline,
    count_phrase,
    format_pct,
    no_answers_sentence,
    proportion_phrase,
    prose_label,
    round_pct,
    stance_headline,
    with_figure,
)

pcts = st.floats(min_value=0, max_value=100, allow_nan=False, allow_infinity=False)

ANCHORS = {
    "one in twenty": 5,
    "one in ten": 10,
    "one in five": 20,
    "a quarter": 25,
    "a third": 100 / 3,
    "two fifths": 40,
    "half": 50,
    "three fifths": 60,
    "two thirds": 200 / 3,
    "three quarters": 75,
    "eight out of ten": 80,
    "nine out of ten": 90,
}

# Every figure the published poll report (seed 001) quotes, with the words it used.
PUBLISHED_PAIRS = [
    (7, "less than one in ten"),
    (22, "just under a quarter"),
    (29, "just over a quarter"),
    (45, "over two fifths"),
    (48, "almost half"),
    (49, "half"),
    (63, "almost two thirds"),
    (76, "over three quarters"),
    (78, "over three quarters"),
    (81, "over eight out of ten"),
]
# ...and the phrases it used without a figure beside them: each is in the table.
PUBLISHED_PHRASES = ["just over two thirds", "nearly three quarters", "a quarter"]


@pytest.mark.parametrize(("pct", "phrase"), PUBLISHED_PAIRS)
def test_the_published_briefing_pairs(pct: float, phrase: str) -> None:
    assert proportion_phrase(pct) == phrase
    assert with_figure(pct, capitalise=True) == f"{phrase[0].upper()}{phrase[1:]} ({pct} per cent)"


def test_the_published_alternatives_and_unfigured_phrases() -> None:
    # The report also calls 78 per cent "the vast majority": accepted, never the default.
    assert acceptable_phrases(78) == {"over three quarters", "the vast majority"}
    assert "the vast majority" not in acceptable_phrases(75)
    table = {band.phrase for band in PHRASE_BANDS}
    assert set(PUBLISHED_PHRASES) <= table


@pytest.mark.parametrize(
    ("pct", "phrase"),
    [
        (22, "just under a quarter"),
        (49, "half"),
        (50, "half"),
        (50.5, "half"),
        (51, "just over half"),
        (29, "just over a quarter"),
        (63, "almost two thirds"),
        (62.5, "almost two thirds"),
        (78, "over three quarters"),
        (7, "less than one in ten"),
        (0, "none"),
        (100, "all"),
        (95, "the vast majority"),
        (90, "the vast majority"),
        (33, "a third"),
        (45, "over two fifths"),
        (48, "almost half"),
        (52, "just over half"),
        (55, "just over half"),
        (40, "two fifths"),
        (60, "three fifths"),
        (10, "one in ten"),
        (20, "one in five"),
        (25, "a quarter"),
        (75, "three quarters"),
        (80, "eight out of ten"),
        (76, "over three quarters"),
        (67, "two thirds"),
    ],
)
def test_examples(pct: float, phrase: str) -> None:
    assert proportion_phrase(pct) == phrase


@pytest.mark.parametrize("bad", [-0.1, 100.1, float("nan")])
def test_rejects_non_percentages(bad: float) -> None:
    with pytest.raises(ValueError):
        proportion_phrase(bad)


def test_format_pct() -> None:
    assert format_pct(22) == "22 per cent"
    assert format_pct(22.0) == "22 per cent"
    assert format_pct(62.5) == "62.5 per cent"
    assert format_pct(17.54) == "17.5 per cent"
    assert format_pct(17.55) == "17.6 per cent"  # half up, not banker's rounding
    assert format_pct(22.04) == "22 per cent"


def test_partial_shares_never_round_to_all_or_none() -> None:
    assert round_pct(99.96) == 99.9
    assert round_pct(0.02) == 0.1
    assert with_figure(99.96) == "the vast majority (99.9 per cent)"


def test_with_figure() -> None:
    assert with_figure(22) == "just under a quarter (22 per cent)"
    assert with_figure(22, capitalise=True) == "Just under a quarter (22 per cent)"
    assert with_figure(78, capitalise=True) == "Over three quarters (78 per cent)"
    assert with_figure(7) == "less than one in ten (7 per cent)"


def test_choice_headline_example() -> None:
    sentence = choice_headline(
        subject="system leaders",
        verb="favoured",
        options=[
            ("a voluntary partnerships approach", 22.5),
            ("a middle way approach", 50.0),
            ("statutory integrated authorities", 27.5),
        ],
    )
    assert sentence == (
        "Just under a quarter (22.5 per cent) of system leaders favoured a voluntary "
        "partnerships approach, with half (50 per cent) favouring a middle way approach and "
        "just over a quarter (27.5 per cent) favouring statutory integrated authorities."
    )


def test_choice_headline_variants() -> None:
    assert choice_headline("respondents", "favoured", [("option A", 100.0)]) == (
        "All (100 per cent) of respondents favoured option A."
    )
    two = choice_headline("members", "opted for", [("A", 40.0), ("B", 60.0)])
    assert two == (
        "Two fifths (40 per cent) of members opted for A, "
        "with three fifths (60 per cent) opting for B."
    )
    irregular = choice_headline("members", "chose", [("A", 40.0), ("B", 60.0)])
    assert irregular.endswith("with three fifths (60 per cent) choosing B.")
    explicit = choice_headline(
        "members", "went for", [("A", 40.0), ("B", 60.0)], gerund="going for"
    )
    assert explicit.endswith("with three fifths (60 per cent) going for B.")
    # A verb with no derivable -ing form is repeated instead, still grammatical.
    fallback = choice_headline("members", "used", [("A", 40.0), ("B", 60.0)])
    assert fallback == (
        "Two fifths (40 per cent) of members used A and three fifths (60 per cent) used B."
    )
    with pytest.raises(ValueError):
        choice_headline("members", "favoured", [])


def test_stance_headline_example() -> None:
    assert stance_headline(62.5, 17.5, 20.0) == (
        "Almost two thirds (62.5 per cent) of respondents were supportive, but 17.5 per cent "
        "disagreed and 20 per cent were undecided."
    )


def test_stance_headline_topic_and_majority_disagree() -> None:
    assert stance_headline(63, 17, 20, topic="some form of statutory integration") == (
        "Almost two thirds (63 per cent) of respondents were supportive of some form of "
        "statutory integration, but 17 per cent disagreed and 20 per cent were undecided."
    )
    assert stance_headline(30, 55, 15, subject="system leaders") == (
        "Just over half (55 per cent) of system leaders disagreed, but 30 per cent were "
        "supportive and 15 per cent were undecided."
    )


def test_stance_headline_zeros() -> None:
    assert stance_headline(62.5, 0, 37.5) == (
        "Almost two thirds (62.5 per cent) of respondents were supportive, while none "
        "disagreed and 37.5 per cent were undecided."
    )
    assert stance_headline(80, 20, 0) == (
        "Eight out of ten (80 per cent) of respondents were supportive, but 20 per cent disagreed "
        "and none were undecided."
    )
    assert stance_headline(100, 0, 0) == (
        "All (100 per cent) of respondents were supportive; none disagreed or were undecided."
    )
    assert stance_headline(0, 0, 100) == (
        "All (100 per cent) of respondents were undecided; none were supportive or disagreed."
    )
    assert stance_headline(0, 0, 0) == no_answers_sentence()


def test_no_answers_and_counts() -> None:
    assert no_answers_sentence() == "No respondents answered this question."
    assert count_phrase(1, "respondent") == "1 respondent"
    assert count_phrase(12, "respondent") == "12 respondents"
    assert count_phrase(0, "respondent") == "0 respondents"
    assert count_phrase(1234, "ICS", "ICSs") == "1,234 ICSs"
    with pytest.raises(ValueError):
        count_phrase(-1, "respondent")


def test_table_is_contiguous_and_covers_0_to_100() -> None:
    assert PHRASE_BANDS[0].low == 0 and PHRASE_BANDS[-1].high == 100
    for before, after in itertools.pairwise(PHRASE_BANDS):
        assert before.high == after.low
        # every boundary belongs to exactly one side
        assert before.high_inclusive != after.low_inclusive


def _meaning(phrase: str) -> tuple[str, float]:
    for prefix, relation in (
        ("just under ", "below"),
        ("almost ", "below"),
        ("nearly ", "below"),
        ("less than ", "below"),
        ("just over ", "above"),
        ("over ", "above"),
    ):
        if phrase.startswith(prefix):
            return relation, ANCHORS[phrase.removeprefix(prefix)]
    if phrase == "the vast majority":
        return "vast", 90
    if phrase == "all":
        return "about", 100
    if phrase == "none":
        return "about", 0
    return "about", ANCHORS[phrase]


@given(pcts)
def test_phrase_never_contradicts_figure(pct: float) -> None:
    phrase = proportion_phrase(pct)
    assert phrase
    relation, anchor = _meaning(phrase)
    if relation == "below":
        assert pct < anchor
    elif relation == "above":
        assert pct > anchor
    elif relation == "vast":
        assert 90 <= pct < 100
    elif anchor in (0, 100):
        assert pct == anchor
    else:
        assert abs(pct - anchor) <= 1 + 1e-9
    if phrase == "almost half":
        assert 45 <= pct < 49
    if phrase == "half":
        assert 49 <= pct <= 51
    for alternative in acceptable_phrases(pct) - {phrase}:
        assert alternative == "the vast majority" and 75 < pct < 100


@given(pcts, pcts)
def test_phrases_are_monotonic(a: float, b: float) -> None:
    order = [band.phrase for band in PHRASE_BANDS]
    low, high = sorted((a, b))
    assert order.index(proportion_phrase(low)) <= order.index(proportion_phrase(high))


@given(pcts)
def test_with_figure_agrees_with_printed_number(pct: float) -> None:
    text = with_figure(pct)
    shown = round_pct(pct)
    assert text == f"{proportion_phrase(shown)} ({format_pct(shown)})"
    assert text.endswith(" per cent)")
    assert not (text.startswith("all") and pct < 100)
    assert not (text.startswith("none") and pct > 0)


@given(pcts, pcts)
def test_stance_headline_is_total(s: float, d: float) -> None:
    total = s + d
    if total > 100:
        s, d = s / total * 100, d / total * 100
    u = max(0.0, 100 - s - d)
    sentence = stance_headline(s, d, u)
    assert sentence[0].isupper() and sentence.endswith(".")


@pytest.mark.parametrize(
    ("label", "phrase", "prose"),
    [
        ("Middle way", None, "middle way"),
        ("Voluntary partnerships", None, "voluntary partnerships"),
        ("Middle way", "a middle way approach", "a middle way approach"),
        ("NHS England guidance", None, "NHS England guidance"),
        ("Guidance from NHS England", None, "guidance from NHS England"),
        ("ICSs lead", None, "ICSs lead"),
        ("GP-led commissioning", None, "GP-led commissioning"),
        ("Local Determination", None, "local determination"),
        ("Legislation", None, "legislation"),
        ("Statutory ICS Bodies", None, "statutory ICS bodies"),
    ],
)
def test_options_read_as_prose(label: str, phrase: str | None, prose: str) -> None:
    assert prose_label(label, phrase) == prose
