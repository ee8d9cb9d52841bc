"""House-style proportion phrases for the draft formal response (docs/contracts.md, The draft formal response).

Briefings by membership bodies report views as "Just under a quarter (22 per cent) of system
leaders ..." or "Almost two thirds (63 per cent) were supportive ...". Every such phrase here is
derived from the computed figure through one explicit table, so the words can never contradict
the number printed beside them.
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal
from typing import Final, NamedTuple

__all__ = [
    "ALTERNATIVE_PHRASES",
    "PHRASE_BANDS",
    "acceptable_phrases",
    "choice_headline",
    "count_phrase",
    "format_pct",
    "no_answers_sentence",
    "proportion_phrase",
    "prose_label",
    "round_pct",
    "stance_headline",
    "with_figure",
]

_THIRD: Final = 100 / 3
_TWO_THIRDS: Final = 200 / 3


class Band(NamedTuple):
    """One row of the phrase table: values between ``low`` and ``high`` map to ``phrase``.

    ``anchor`` is the fraction the phrase refers to and ``relation`` says how the value relates to
    it ("below", "about", "above"); both exist so tests can check phrases never contradict figures.
    """

    low: float
    high: float
    low_inclusive: bool
    high_inclusive: bool
    phrase: str
    anchor: float
    relation: str  # "below" | "about" | "above"


def _b(low: float, high: float, incl: str, phrase: str, anchor: float, relation: str) -> Band:
    return Band(low, high, incl[0] == "[", incl[1] == "]", phrase, anchor, relation)


# The table is ordered by value, contiguous and covers [0, 100] exactly once, so the mapping is
# total and monotonic. It follows the published briefings' house style: a figure at or just
# below its anchor is "about" it (anchor - 1 to anchor + 0.5: 49 is "half"), and once a figure is
# above its anchor it is "just over" / "over" it (76 is "over three quarters", 81 "over eight
# out of ten", 45 "over two fifths"); "just under" / "almost" / "nearly" cover the points below.
# Where two anchors compete for a value, the plainer fraction (a quarter, a third, half, two
# thirds, three quarters) wins over the "n out of m" forms, which is how such briefings read.
PHRASE_BANDS: Final[tuple[Band, ...]] = (
    _b(0, 0, "[]", "none", 0, "about"),
    _b(0, 5, "()", "less than one in twenty", 5, "below"),
    _b(5, 9, "[)", "less than one in ten", 10, "below"),
    _b(9, 10.5, "[]", "one in ten", 10, "about"),
    _b(10.5, 14, "(]", "just over one in ten", 10, "above"),
    _b(14, 16, "()", "over one in ten", 10, "above"),
    _b(16, 19, "[)", "just under one in five", 20, "below"),
    _b(19, 20.5, "[]", "one in five", 20, "about"),
    _b(20.5, 21, "()", "just over one in five", 20, "above"),
    _b(21, 24, "[)", "just under a quarter", 25, "below"),
    _b(24, 25.5, "[]", "a quarter", 25, "about"),
    _b(25.5, 30, "(]", "just over a quarter", 25, "above"),
    _b(30, _THIRD - 1, "()", "just under a third", _THIRD, "below"),
    _b(_THIRD - 1, _THIRD + 0.5, "[]", "a third", _THIRD, "about"),
    _b(_THIRD + 0.5, 36.5, "(]", "just over a third", _THIRD, "above"),
    _b(36.5, 39, "()", "just under two fifths", 40, "below"),
    _b(39, 40.5, "[]", "two fifths", 40, "about"),
    _b(40.5, 43, "()", "just over two fifths", 40, "above"),
    _b(43, 46, "[)", "over two fifths", 40, "above"),
    _b(46, 49, "[)", "almost half", 50, "below"),
    _b(49, 50.5, "[]", "half", 50, "about"),
    _b(50.5, 55, "(]", "just over half", 50, "above"),
    _b(55, 57, "()", "over half", 50, "above"),
    _b(57, 59, "[)", "almost three fifths", 60, "below"),
    _b(59, 60.5, "[]", "three fifths", 60, "about"),
    _b(60.5, 62, "()", "just over three fifths", 60, "above"),
    _b(62, _TWO_THIRDS - 1, "[)", "almost two thirds", _TWO_THIRDS, "below"),
    _b(_TWO_THIRDS - 1, _TWO_THIRDS + 0.5, "[]", "two thirds", _TWO_THIRDS, "about"),
    _b(_TWO_THIRDS + 0.5, 71, "(]", "just over two thirds", _TWO_THIRDS, "above"),
    _b(71, 74, "()", "nearly three quarters", 75, "below"),
    _b(74, 75.5, "[]", "three quarters", 75, "about"),
    _b(75.5, 79, "()", "over three quarters", 75, "above"),
    _b(79, 80.5, "[]", "eight out of ten", 80, "about"),
    _b(80.5, 85, "(]", "over eight out of ten", 80, "above"),
    _b(85, 89, "()", "almost nine out of ten", 90, "below"),
    _b(89, 90, "[)", "nine out of ten", 90, "about"),
    _b(90, 100, "[)", "the vast majority", 90, "above"),
    _b(100, 100, "[]", "all", 100, "about"),
)

#: Words the briefings also use for a figure, besides the table's own: (phrase, low, high), both
#: exclusive. "The vast majority" is said of 78 per cent as well as "over three quarters"; a
#: sentence saying it of any figure above three quarters (and short of all) is still true.
ALTERNATIVE_PHRASES: Final[tuple[tuple[str, float, float], ...]] = (
    ("the vast majority", 75.5, 100),
)


def acceptable_phrases(pct: float) -> set[str]:
    """Every house-style phrase that truly describes ``pct``: the table's, and alternatives."""
    value = _check_pct(pct)
    found = {_band_for(value).phrase}
    found |= {phrase for phrase, low, high in ALTERNATIVE_PHRASES if low < value < high}
    return found


def _check_pct(pct: float) -> float:
    """Reject values that cannot be a percentage: better to fail than to print a wrong claim."""
    value = float(pct)
    if math.isnan(value) or value < 0 or value > 100:
        raise ValueError(f"percentage must be within 0..100, got {pct!r}")
    return value


def _band_for(value: float) -> Band:
    for band in PHRASE_BANDS:
        above_low = value >= band.low if band.low_inclusive else value > band.low
        below_high = value <= band.high if band.high_inclusive else value < band.high
        if above_low and below_high:
            return band
    raise AssertionError(f"phrase table does not cover {value}")  # pragma: no cover


def proportion_phrase(pct: float) -> str:
    """Lower-case house-style words for ``pct`` (0..100), e.g. 22 -> "just under a quarter"."""
    return _band_for(_check_pct(pct)).phrase


def round_pct(pct: float) -> float:
    """Round to one decimal place, half up, never rounding a partial share to 0 or 100.

    Figures are published to one decimal place (docs/contracts.md, Export JSON); "all" and "none" must only ever be
    said when literally true, so 99.96 shows as 99.9 and 0.02 as 0.1.
    """
    value = _check_pct(pct)
    rounded = float(Decimal(repr(value)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))
    if value < 100 and rounded >= 100:
        return 99.9
    if value > 0 and rounded <= 0:
        return 0.1
    return rounded


def format_pct(pct: float) -> str:
    """ "22 per cent" / "62.5 per cent": one decimal place kept only when it is not zero."""
    rounded = round_pct(pct)
    text = f"{rounded:.0f}" if rounded.is_integer() else f"{rounded:.1f}"
    return f"{text} per cent"


def _capitalise(text: str) -> str:
    return text[:1].upper() + text[1:]


def with_figure(pct: float, capitalise: bool = False) -> str:
    """ "just under a quarter (22 per cent)"; words come from the rounded figure so they agree."""
    rounded = round_pct(pct)
    text = f"{proportion_phrase(rounded)} ({format_pct(rounded)})"
    return _capitalise(text) if capitalise else text


_IRREGULAR_GERUNDS: Final[dict[str, str]] = {
    "agreed": "agreeing",
    "chose": "choosing",
    "saw": "seeing",
    "felt": "feeling",
    "gave": "giving",
    "preferred": "preferring",
    "referred": "referring",
    "wanted": "wanting",
}


def _gerund(verb: str) -> str | None:
    """Best-effort "-ing" form of a past-tense verb phrase ("favoured" -> "favouring").

    Only regular "-ed" forms and a few irregulars are handled; anything else returns None and
    the caller falls back to repeating the verb, which is always grammatical.
    """
    head, _, rest = verb.strip().partition(" ")
    lower = head.lower()
    if lower in _IRREGULAR_GERUNDS:
        form = _IRREGULAR_GERUNDS[lower]
    elif lower.endswith("ied"):
        form = lower[:-3] + "ying"
    elif lower.endswith("ed") and len(lower) > 4 and not lower.endswith("eed"):
        form = lower[:-2] + "ing"
    else:
        return None
    return f"{form} {rest}".strip()


def _join(parts: list[str]) -> str:
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def choice_headline(
    subject: str = "respondents",
    verb: str = "favoured",
    options: list[tuple[str, float]] | None = None,
    *,
    gerund: str | None = None,
) -> str:
    """Headline sentence for a multiple-choice question, options in the order given.

    ``choice_headline("system leaders", "favoured", [("a voluntary partnerships approach", 22.5),
    ("a middle way approach", 50.0)])`` -> "Just under a quarter (22.5 per cent) of system leaders
    favoured a voluntary partnerships approach, with half (50 per cent) favouring a middle way
    approach." ``gerund`` overrides the derived "-ing" form of ``verb``.
    """
    if not options:
        raise ValueError("choice_headline needs at least one option")
    (first_label, first_pct), *others = options
    sentence = f"{with_figure(first_pct, capitalise=True)} of {subject} {verb} {first_label}"
    if others:
        ing = gerund or _gerund(verb)
        if ing:
            tail = [f"{with_figure(pct)} {ing} {label}" for label, pct in others]
            sentence += ", with " + _join(tail)
        else:
            tail = [f"{with_figure(pct)} {verb} {label}" for label, pct in others]
            sentence = _join([sentence, *tail])
    return sentence + "."


def _share(pct: float) -> str:
    """Short form for secondary figures: "17.5 per cent", or "none" when zero."""
    return "none" if round_pct(pct) == 0 else format_pct(pct)


def stance_headline(
    supportive: float,
    disagree: float,
    undecided: float,
    *,
    subject: str = "respondents",
    topic: str | None = None,
) -> str:
    """Headline for an agree/disagree question, leading with whichever side is larger.

    (62.5, 17.5, 20.0) -> "Almost two thirds (62.5 per cent) of respondents were supportive, but
    17.5 per cent disagreed and 20 per cent were undecided." If more disagree than support, the
    disagreement leads. ``topic`` (e.g. "some form of statutory integration") completes the verb.
    """
    for value in (supportive, disagree, undecided):
        _check_pct(value)
    if round_pct(supportive) == 0 and round_pct(disagree) == 0 and round_pct(undecided) == 0:
        return no_answers_sentence(subject)

    support_verb = f"were supportive of {topic}" if topic else "were supportive"
    disagree_verb = f"disagreed with {topic}" if topic else "disagreed"

    if round_pct(supportive) == 0 and round_pct(disagree) == 0:
        return (
            f"{with_figure(undecided, capitalise=True)} of {subject} were undecided; "
            "none were supportive or disagreed."
        )

    if disagree > supportive:
        lead = f"{with_figure(disagree, capitalise=True)} of {subject} {disagree_verb}"
        other_pct, other_verb = supportive, "were supportive"
    else:
        lead = f"{with_figure(supportive, capitalise=True)} of {subject} {support_verb}"
        other_pct, other_verb = disagree, "disagreed"

    other_zero = round_pct(other_pct) == 0
    undecided_zero = round_pct(undecided) == 0
    if other_zero and undecided_zero:
        return f"{lead}; none {other_verb} or were undecided."
    undecided_clause = f"{_share(undecided)} were undecided"
    if other_zero:
        return f"{lead}, while none {other_verb} and {undecided_clause}."
    return f"{lead}, but {_share(other_pct)} {other_verb} and {undecided_clause}."


def no_answers_sentence(subject: str = "respondents") -> str:
    """Sentence for a question nobody answered, so no percentage of zero is ever printed."""
    return f"No {subject} answered this question."


def count_phrase(n: int, noun_singular: str, noun_plural: str | None = None) -> str:
    """ "1 respondent" / "12 respondents" / "1,234 respondents"."""
    if n < 0:
        raise ValueError(f"count must not be negative, got {n}")
    noun = noun_singular if n == 1 else (noun_plural or f"{noun_singular}s")
    return f"{n:,} {noun}"


def _is_acronym(word: str) -> bool:
    """ "NHS", "ICSs", "GP-led", "NHSEI": more than one capital, or a capital after the first
    letter; such words keep their case in running text."""
    letters = [c for c in word if c.isalpha()]
    return sum(c.isupper() for c in letters) > 1 or any(c.isupper() for c in letters[1:])


def prose_label(label: str, phrase: str | None = None) -> str:
    """How an option reads inside a sentence: its ``phrase`` when the consultation file gives
    one ("a middle way approach"), else its label lower-cased sensibly: the sentence-case
    capital of the first word goes ("Middle way" -> "middle way"), acronyms and proper nouns
    later in the label stay ("Guidance from NHS England"), and a label in Title Case is
    lowered word by word except for acronyms ("Local Determination" -> "local determination").
    """
    if phrase:
        return phrase
    words = label.split(" ")
    title_case = len(words) > 1 and all(w[:1].isupper() for w in words if w[:1].isalpha())
    lowered = []
    for index, word in enumerate(words):
        if (index == 0 or title_case) and word[:1].isupper() and not _is_acronym(word):
            word = word[:1].lower() + word[1:]
        lowered.append(word)
    return " ".join(lowered)
