"""Offline theme coding of consultation comments: many themes, many themes per comment.

A policy officer reading a pile of responses does three things this module imitates:

1. reads each comment as a handful of *points* (one per sentence or clause), because a member who
   says "we support Option 2, and also the timetable is too tight" has made two points;
2. sorts the points into themes, as many as the material supports (not a fixed number), and
   codes each comment to every theme one of its points belongs to;
3. names each theme with a heading in members' own words: the noun phrase around the theme's
   key terms that most of its members used ("Pooled budgets for health and social care",
   "Workforce levers for the ICS"), and picks quotes.

Everything is deterministic for the same input and seed, runs offline on numpy, scipy and
scikit-learn only, and stays fast on large inputs: the vocabulary and the topics are learnt on a
bounded, seeded sample of points and every other point is then coded against the fitted themes.

Choices were made by measurement on bench/data (python bench/themes.py): points rather than whole
comments; NMF topics over TF-IDF of words and adjacent word pairs rather than k-means (with or
without LSA, which scored the same as plain TF-IDF); the number of themes by merging topics that
share their main words (silhouette only ever grows with k on short texts); and coding each point
to every theme that explains at least half as much of it as its best theme does.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import math
import re
import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
from scipy import sparse
from sklearn.decomposition import NMF, non_negative_factorization
from sklearn.exceptions import ConvergenceWarning
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfVectorizer
from sklearn.preprocessing import normalize

__all__ = [
    "STANCE_GROUPS",
    "CodedTheme",
    "Coding",
    "CommentInput",
    "code_comments",
    "describe",
]

#: How a five-point stance folds into the three groups a theme's stance mix is reported in.
STANCE_GROUPS: Final[dict[str, str]] = {
    "strongly_agree": "supportive",
    "agree": "supportive",
    "undecided": "undecided",
    "disagree": "opposed",
    "strongly_disagree": "opposed",
}

# Words that say how a member feels about a proposal rather than what the comment is about. They
# are generic to any consultation (never tied to one subject), so they are safe to drop everywhere.
_OPINION_WORDS: Final[frozenset[str]] = frozenset(
    {
        "absolutely",
        "agree",
        "agreed",
        "also",
        "balance",
        "believe",
        "broadly",
        "chance",
        "concern",
        "concerned",
        "consultation",
        "could",
        "disagree",
        "doubt",
        "feel",
        "fine",
        "frankly",
        "fully",
        "generally",
        "glad",
        "happy",
        "hope",
        "keen",
        "sooner",
        "honestly",
        "just",
        "like",
        "may",
        "maybe",
        "might",
        "need",
        "needs",
        "oppose",
        "opposed",
        "perhaps",
        "please",
        "point",
        "points",
        "principle",
        "proposal",
        "proposals",
        "question",
        "really",
        "right",
        "say",
        "should",
        "strong",
        "strongly",
        "support",
        "supported",
        "supportive",
        "sure",
        "think",
        "undecided",
        "unsure",
        "view",
        "views",
        "want",
        "way",
        "welcome",
        "yes",
        "would",
    }
)
_STOP_WORDS: Final[frozenset[str]] = frozenset(ENGLISH_STOP_WORDS | _OPINION_WORDS)
# Words that may sit *inside* a label phrase ("budgets for health and social care") but never
# start or end it; "the" only straight after a preposition ("levers for the ICS").
_LABEL_JOINERS: Final[frozenset[str]] = frozenset(
    {"and", "for", "of", "in", "on", "to", "with", "between", "across"}
)
_INNER_DETERMINERS: Final[frozenset[str]] = frozenset({"the"})
_PREPOSITIONS: Final[frozenset[str]] = _LABEL_JOINERS - {"and"}
_PARTICLES: Final[frozenset[str]] = frozenset({"up", "out", "down", "off"})
# English function words (determiners, pronouns, prepositions, conjunctions, auxiliaries), which
# break a noun phrase: scikit-learn's stop words less the nouns and adjectives it also lists
# ("system", "part", "whole"), which make good headings.
_FUNCTION_WORDS: Final[frozenset[str]] = frozenset(
    (
        ENGLISH_STOP_WORDS
        - {"system", "interest", "part", "amount", "side", "detail", "bill", "name", "front"}
        - {"top", "bottom", "fire", "mill", "whole", "full"}
    )
    | {"must", "shall", "including", "plus", "via", "versus", "vs", "etc", "let", "lets", "fewer"}
)
# Common English verbs, which break a noun phrase ("Backlog means clinics run", "ICS gets real
# levers"), and adjectives, which may start a heading ("Proper backfill") but never end it
# ("Local"). General English, not tied to any consultation: without a part-of-speech tagger
# (none ships offline) these lists and the suffix rules below are what keep labels noun phrases.
_VERB_STEMS: Final = """
    add agree allow apply ask become bring build carry cause come continue create decide deliver
    depend deserve develop differ do enable ensure exist expect explain get give go happen help
    improve include invest involve keep know leave let lose make mean prevent provide
    publish push put raise recover reduce reflect relate remain remove require run say see seem show
    simplify sit suggest take tell tend try understand underwrite want write
    """.split()
_IRREGULAR_VERBS: Final = """
    became brought built came did done gave given gone got kept knew known left lost made meant
    put ran said saw seen shown sat taken told took tried wrote is ends
    """.split()


def _verb_forms(stem: str) -> set[str]:
    """The base and third-person forms of a verb ("carry", "carries"; "fix", "fixes")."""
    if stem.endswith("y") and stem[-2:-1] not in "aeiou":
        return {stem, stem[:-1] + "ies"}
    if stem.endswith(("s", "sh", "ch", "x", "o")):
        return {stem, stem + "es"}
    return {stem, stem + "s"}


_VERBS: Final[frozenset[str]] = frozenset(
    {form for stem in _VERB_STEMS for form in _verb_forms(stem)} | set(_IRREGULAR_VERBS)
)
_ADJECTIVES: Final[frozenset[str]] = frozenset(
    """
    able active alike bad best better big clear complex current difficult different early easier
    easy effective equal essential existing extra fair far full good great hard high huge
    important joint key large late likely long low main many mental much national necessary
    new old other own poor possible primary proper public real right same secondary separate
    several simple single slow small social statutory strong sufficient true unable unsafe
    urgent voluntary whole wide wider wrong
    bigger closer easier faster greater harder higher longer lower quicker simpler smaller
    stronger
    """.split()
)
_ADJECTIVE_ENDINGS: Final = ("ous", "ful", "ical", "ial", "onal", "able", "ible", "less")
_LY_NOUNS: Final[frozenset[str]] = frozenset(
    {"family", "supply", "assembly", "monopoly", "anomaly"}
)


MAX_QUOTE_CHARS: Final = 300
_MAX_QUOTES: Final = 5  # more than any output shows: scoped views and consent may remove some
_MIN_POINT_WORDS: Final = 3  # content words; shorter fragments ("Agree.") join a neighbour
_FIT_SAMPLE_POINTS: Final = 4000  # points the vocabulary, LSA and clusters are learnt on
_NMF_MAX_ITER: Final = 400
_MAX_TOPIC_OVERLAP: Final = 0.25
_KEY_TERMS: Final = 2  # a theme's key hashes its strongest terms: few, so a refresh keeps them
_MIN_TOPIC_SHARE: Final = 0.2  # a point explained less than this by every theme fits none
_SECOND_THEME_RATIO: Final = 0.5  # a point also counts in a theme explaining half its best
_MIN_THEME_SHARE: Final = 0.02  # themes raised by fewer respondents than this are folded away
_MIN_THEME_RESPONDENTS: Final = 3
_MAX_LABEL_WORDS: Final = 7  # "pooled budgets for health and social care"
_MAX_LABEL_CONTENT_WORDS: Final = 5
_MIN_LABEL_RESPONDENTS: Final = 2  # a label is wording at least two respondents used, if any
_WIDEN_SHARE: Final = 0.5  # a longer phrase replaces a label if half its respondents used it
_OFF_TOPIC_WEIGHT: Final = 0.25  # a phrase without any of the theme's key terms
_LABEL_KEY_TERMS: Final = 10
# A phrase several times likelier inside a theme than outside is distinctive enough: beyond that,
# lift only says it is rarer elsewhere, which should not outweigh how many members used it.
_LIFT_CAP: Final = 4.0
_OPENING_WEIGHT: Final = 1.25
_QUESTION_WORD_SHARE: Final = 0.3  # a word in more of the points names the question…
_MAX_UNCODED_SHARE: Final = 0.5  # …unless leaving such words out leaves most comments uncoded
_FEW_SUBJECTS_WORD_SHARE: Final = 0.7
# A heading of two to four words reads like a policy officer's ("Duty to collaborate", "Social
# care funding"); a single word ("Money", "Local") rarely does, so it needs a far stronger claim.
_LENGTH_WEIGHT: Final[dict[int, float]] = {1: 0.3, 2: 1.0, 3: 1.3, 4: 1.45, 5: 1.55}

_TOKEN_RE: Final = re.compile(r"[A-Za-z][A-Za-z'’-]*[A-Za-z]|[A-Za-z]|\d+")
# Where one point ends and the next begins: sentence ends, semicolons, line breaks and bullets,
# and the connectives people use to add a separate point inside one sentence.
_BOUNDARY_RE: Final = re.compile(
    r"(?<=[.!?;])\s+(?:\(\d+\)\s*)?"
    r"|\n+\s*(?:[-*•]\s*)?"
    r"|\s+\(\d+\)\s*"
    # Inside a sentence only a connective that opens a new clause starts a new point: "and
    # also", or "secondly" after a comma; "would finally make clear" stays one point.
    r"|,?\s+(?=(?:and|but) (?:also|secondly|thirdly|finally|furthermore|moreover)\b)"
    r"|,\s+(?=(?:secondly|thirdly|finally|furthermore|additionally|in addition|moreover)\b)",
    re.IGNORECASE,
)
_SENTENCE_END_RE: Final = re.compile(r"[.!?](?=\s|$)")


# --- public types ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CommentInput:
    """One respondent's free-text comment on a question, with the stance they chose (if any)."""

    respondent_key: str
    text: str
    stance: str | None = None
    # False when the respondent asked not to be quoted: their points are coded, never quoted.
    quotable: bool = True

    def __post_init__(self) -> None:
        if self.stance is not None and self.stance not in STANCE_GROUPS:
            raise ValueError(
                f"unknown stance {self.stance!r}; expected one of {list(STANCE_GROUPS)}"
            )


@dataclass(frozen=True, slots=True)
class CodedTheme:
    """A theme: its stable key, a sentence-case label, who raised it, their stance mix and quotes."""

    key: str
    label: str
    description: str
    respondent_keys: tuple[str, ...]
    stance: dict[str, int]
    quotes: tuple[str, ...]
    quote_keys: tuple[str, ...] = ()  # whose comment each quote is from, in the same order

    @property
    def count(self) -> int:
        """Respondents who raised the theme (a respondent counts once however many points)."""
        return len(self.respondent_keys)


@dataclass(frozen=True, slots=True)
class Coding:
    """The themes, largest first; each respondent's themes; and those whose points fit none."""

    themes: tuple[CodedTheme, ...]
    assignments: dict[str, tuple[str, ...]]
    other_keys: tuple[str, ...]


# --- points ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Point:
    comment_index: int
    start: int
    end: int


def _content_words(text: str) -> list[str]:
    return [t for t in (w.lower() for w in _TOKEN_RE.findall(text)) if t not in _STOP_WORDS]


def _split_points(text: str) -> list[tuple[int, int]]:
    """Character spans of the separate points made in ``text``.

    Fragments with too few content words ("Agree.", "Option 2, without hesitation.") are joined
    to the following point (or the previous one at the end), so a stance word never stands alone.
    """
    spans: list[tuple[int, int]] = []
    start = 0
    for match in _BOUNDARY_RE.finditer(text):
        spans.append((start, match.start()))
        start = match.end()
    spans.append((start, len(text)))
    spans = [_strip_span(text, a, b) for a, b in spans]
    spans = [(a, b) for a, b in spans if b > a]

    merged: list[tuple[int, int]] = []
    pending: tuple[int, int] | None = None
    for a, b in spans:
        if pending is not None:
            a, pending = pending[0], None
        if len(_content_words(text[a:b])) < _MIN_POINT_WORDS:
            pending = (a, b)
            continue
        merged.append((a, b))
    if pending is not None:
        if merged:
            merged[-1] = (merged[-1][0], pending[1])
        else:
            merged.append(pending)
    return merged


def _strip_span(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start] in " \t\n,;:-–—•*":
        start += 1
    while end > start and text[end - 1] in " \t\n,;:-–—":
        end -= 1
    return start, end


# --- features -------------------------------------------------------------------------------


_SUFFIXES: Final = (
    "abilities", "ability", "ables", "able", "ations", "ation", "ates", "ated", "ating", "ate",
    "ities", "ity", "ings", "ing", "ments", "ment", "ness", "ised", "ises",
    "ise", "ized", "izes", "ize", "ions", "ion", "ives", "ive", "ers", "er", "ed", "es", "s",
    "ly", "al", "e",
)  # fmt: skip
_MIN_STEM: Final = 4


@functools.lru_cache(maxsize=1 << 16)  # a corpus repeats a few thousand words many times
def _stem(word: str) -> str:
    """Fold the commonest English suffixes so "pooled", "pooling" and "pool" are one feature.

    A crude suffix stripper rather than a full stemmer: it only has to make the member's words
    meet each other, and labels are always built from the words as written.
    """
    if word.endswith("ies") and len(word) > 4:
        word = word[:-3] + "y"
    for _ in range(2):  # twice, so "commissioners" and "commission" meet
        for suffix in _SUFFIXES:
            if word.endswith(suffix) and len(word) - len(suffix) >= _MIN_STEM:
                word = word[: -len(suffix)]
                break
    if len(word) > _MIN_STEM and word[-1] == word[-2] and word[-1] not in "ls":
        word = word[:-1]  # "planned" -> "plann" -> "plan"
    return word


def _analyse(text: str) -> list[str]:
    """Stemmed content words plus pairs of content words adjacent in the original text."""
    tokens = [w.lower().replace("’", "'") for w in _TOKEN_RE.findall(text)]
    keep = [t not in _STOP_WORDS and (len(t) > 1 or t.isdigit()) for t in tokens]
    stems = [_stem(t) for t in tokens]
    terms = [s for s, k in zip(stems, keep, strict=True) if k]
    terms.extend(
        f"{a} {b}"
        for (a, ka), (b, kb) in itertools.pairwise(zip(stems, keep, strict=True))
        if ka and kb
    )
    return terms


def _vectoriser(n_fit: int, max_df: float = 0.3) -> TfidfVectorizer:
    return TfidfVectorizer(
        analyzer=_analyse,
        sublinear_tf=True,
        min_df=2 if n_fit >= 40 else 1,
        # A term in a third of all points names the question, not a theme within it.
        max_df=max_df if n_fit >= 40 else 1.0,
        max_features=20_000,
        dtype=np.float32,
    )


# --- clustering -----------------------------------------------------------------------------


def _fit_topics(matrix: sparse.csr_matrix, k: int, seed: int) -> np.ndarray:
    model = NMF(n_components=k, init="nndsvda", random_state=seed, max_iter=_NMF_MAX_ITER)
    with warnings.catch_warnings():
        # Topics that have not fully converged after _NMF_MAX_ITER still code points well
        # (measured); the warning would only alarm whoever reads the bot's log.
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(matrix)
    return np.asarray(model.components_)


def _distinct_topic_count(topics: np.ndarray) -> int:
    """How many topics remain once those sharing their main words are merged, closest first."""
    groups = [row for row in topics if np.any(row > 0)]
    while len(groups) > 1:
        unit = normalize(np.vstack(groups))
        overlap = unit @ unit.T
        np.fill_diagonal(overlap, -1.0)
        first, second = np.unravel_index(int(np.argmax(overlap)), overlap.shape)
        if overlap[first, second] <= _MAX_TOPIC_OVERLAP:
            break
        low, high = sorted((int(first), int(second)))
        groups[low] = unit[low] + unit[high]  # both halves weigh the same, whatever their size
        del groups[high]
    return len(groups)


def _choose_topics(matrix: sparse.csr_matrix, max_themes: int, seed: int) -> np.ndarray | None:
    """Topic vectors (one row per theme, over the TF-IDF terms) for as many themes as the
    material supports, at most ``max_themes``.

    Non-negative matrix factorisation reads each point as a mix of a few topics, which suits
    short clauses better than k-means' one centre each (measured on bench/data: purity 0.76
    against 0.67). Where the material holds fewer subjects than ``max_themes``, NMF splits one
    subject into near-copies that share their main words (cosine of term weights above
    _MAX_TOPIC_OVERLAP); merging those gives the number of themes, and NMF is fitted again with
    that many topics, which codes better than the merged ones (measured). Silhouette was
    measured as the chooser too: it rises with every extra topic on short texts.
    """
    k = min(max_themes, matrix.shape[0] - 1, matrix.shape[1] - 1)
    if k < 1:
        return None
    topics = _fit_topics(matrix, k, seed)
    distinct = _distinct_topic_count(topics)
    if distinct == 0:
        return None
    if distinct < k:
        topics = _fit_topics(matrix, distinct, seed)
    topics = topics[np.any(topics > 0, axis=1)]
    return topics if len(topics) else None


def _topic_shares(matrix: sparse.csr_matrix, topics: np.ndarray) -> np.ndarray:
    """How much of each (unit-length) point each topic explains, one column per topic.

    The point is written as a non-negative mix of the fixed topics, so a clause about two
    subjects gets weight on both while a word shared by two topics is not counted twice; coding
    by these shares beat cosine to each topic on bench/data (measured: purity 0.74 against 0.71
    at the same F1).
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        weights, _, _ = non_negative_factorization(
            matrix,
            H=topics.astype(matrix.dtype),
            n_components=topics.shape[0],
            init="custom",
            update_H=False,
            max_iter=_NMF_MAX_ITER,
        )
    return np.asarray(weights * np.linalg.norm(topics, axis=1)[None, :])


def _code_points(shares: np.ndarray) -> list[list[int]]:
    """Each point's themes: the one explaining most of it, plus any explaining at least
    _SECOND_THEME_RATIO as much; none when no theme explains _MIN_TOPIC_SHARE of it."""
    coded: list[list[int]] = []
    for row in shares:
        best = float(row.max()) if row.size else 0.0
        if best < _MIN_TOPIC_SHARE:
            coded.append([])
            continue
        bar = max(_MIN_TOPIC_SHARE, _SECOND_THEME_RATIO * best)
        coded.append([int(c) for c in np.flatnonzero(row >= bar)])
    return coded


# --- labels ---------------------------------------------------------------------------------


@dataclass(slots=True)
class _PhraseStats:
    surfaces: Counter[str]
    points_by_theme: Counter[int]  # -1: all points
    openings_by_theme: Counter[int]  # points of the theme that open with the phrase
    respondents_by_theme: dict[int, set[str]]


def _is_adverb(word: str) -> bool:
    return len(word) > 4 and word.endswith("ly") and word not in _LY_NOUNS


def _looks_adjectival(word: str) -> bool:
    """Endings that mostly mark adjectives and participles ("specialised", "financial",
    "pooled", "regional"): a heading does not end on one, though it may start with one."""
    if word in _ADJECTIVES:
        return True
    if len(word) > 4 and word.endswith("ed") and not word.endswith("eed"):
        return True
    return len(word) > 5 and word.endswith(_ADJECTIVE_ENDINGS)


def _never_in_label(word: str) -> bool:
    """Words that break a noun phrase wherever they stand: function words, opinion words,
    common verbs, adverbs and contractions ("don't")."""
    return (
        word in _FUNCTION_WORDS
        or word in _OPINION_WORDS
        or word in _VERBS
        or _is_adverb(word)
        or "'" in word
        or "’" in word
    )


def _phrases_of(text: str) -> set[tuple[str, str, bool]]:
    """(normalised key, surface text, opens the point) of each well-formed noun phrase in the
    member's words; a phrase opens the point when only function words come before it.

    A phrase starts on a noun- or adjective-like word, ends on a noun-like word, holds no verb,
    function word or adverb, and may hold joining words inside it ("for", "of", "and", "the"
    after a joiner), so "pooled budgets for health and social care" and "workforce levers for
    the ICS" qualify but "budgets for", "represented on ICS boards" and "backlog means clinics
    run" do not. Without a part-of-speech tagger (none ships offline) these generic English
    word lists and suffix rules are what keep labels noun phrases.
    """
    words = [(m.group(), m.start()) for m in _TOKEN_RE.finditer(text)]
    lowered = [w.lower() for w, _ in words]
    found: set[tuple[str, str, bool]] = set()
    opening = 0  # words before this index are all function words
    while opening < len(lowered) and lowered[opening] in _FUNCTION_WORDS:
        opening += 1
    for i, first in enumerate(lowered):
        if first.isdigit() or first in _LABEL_JOINERS or _never_in_label(first):
            continue
        content = 0
        for j in range(i, min(i + _MAX_LABEL_WORDS, len(words))):
            word = lowered[j]
            if j > i and _crosses_punctuation(text, words[j - 1], words[j]):
                break
            if word in _LABEL_JOINERS:
                if j == i + 1 and _looks_adjectival(first):
                    break  # "represented on", "keen for": a participle or adjective, not a noun
                continue
            if word in _PARTICLES and j == i + 1 and first.endswith("ing"):
                continue  # "setting up pooled budgets", "joining up services"
            if word in _INNER_DETERMINERS and lowered[j - 1] in _PREPOSITIONS:
                continue  # "levers for the ICS"
            if _never_in_label(word):
                break
            if word.isdigit() and (j == i or lowered[j - 1] in _LABEL_JOINERS):
                break
            content += 1
            if content > _MAX_LABEL_CONTENT_WORDS:
                break
            if _looks_adjectival(word):
                continue  # may sit inside a phrase, never end it
            if (
                j + 1 < len(words)
                and lowered[j + 1] == "of"
                and not _crosses_punctuation(text, words[j], words[j + 1])
            ):
                continue  # "the middle", "the Secretary": the phrase goes on ("of State")
            run = words[i : j + 1]
            surface = " ".join(w for w, _ in run)
            key = " ".join(_stem(w.lower()) for w, _ in run)
            found.add((key, surface, i == opening))
    return found


def _crosses_punctuation(text: str, left: tuple[str, int], right: tuple[str, int]) -> bool:
    between = text[left[1] + len(left[0]) : right[1]]
    return any(ch in between for ch in ",.;:!?()/\n") or " - " in between


def _proper_nouns(texts: Sequence[str]) -> frozenset[str]:
    """Words members capitalise inside a sentence more often than not ("England", "State"):
    names, which a heading keeps capitalised."""
    capitalised = Counter[str]()
    lower = Counter[str]()
    for text in texts:
        for match in _TOKEN_RE.finditer(text):
            word = match.group()
            before = text[: match.start()].rstrip()
            if not before or before[-1] in '.!?:;"“(•*-':
                continue  # a sentence's first word is capitalised whatever it is
            (capitalised if word[:1].isupper() else lower)[word.lower()] += 1
    return frozenset(w for w, n in capitalised.items() if n > lower[w])


def _sentence_case(surfaces: Counter[str], names: frozenset[str] = frozenset()) -> str:
    """The members' most common wording, capitalised as a heading: acronyms and names kept,
    first letter up."""
    surface = max(surfaces.items(), key=lambda item: (item[1], item[0]))[0]
    words = []
    for word in surface.split():
        # Acronyms keep their capitals, plural ones too ("GPs", "CCGs"), and so do numbers.
        capitals = sum(ch.isupper() for ch in word)
        keep_case = capitals >= 2 or any(ch.isdigit() for ch in word)
        if word.lower() in names:
            words.append(word[:1].upper() + word[1:])
        else:
            words.append(word if keep_case else word.lower())
    text = " ".join(words)
    return text[:1].upper() + text[1:]


def _content_count(key: str) -> int:
    return sum(w not in _LABEL_JOINERS | _INNER_DETERMINERS | _PARTICLES for w in key.split())


def _contains(longer: str, shorter: str) -> bool:
    return f" {shorter} " in f" {longer} "


def _label_themes(
    point_texts: Sequence[str],
    point_themes: Sequence[Sequence[int]],
    point_owners: Sequence[str],
    key_terms: Sequence[dict[str, float]],
) -> tuple[list[str], list[list[str]]]:
    """A distinct label for each theme and the next few phrases that characterise it.

    A label is a noun phrase from the members' own wording around the theme's key terms
    (``key_terms``: stems of its strongest topic words, weighted by their share of the topic's
    strongest). A phrase scores by how many of the theme's respondents used it, times how much
    more often it is used inside the theme than outside (lift), times the weight of its most
    central key term, longer phrases preferred; the winner is then widened to the longest phrase
    around it that keeps at least half its respondents, so "pooled budgets" becomes "pooled
    budgets for health and social care" when members wrote that. A single word is a last resort.
    """
    n_themes = len(key_terms)
    stats: dict[str, _PhraseStats] = {}
    points_in_theme = Counter[int]()
    for text, themes, owner in zip(point_texts, point_themes, point_owners, strict=True):
        points_in_theme.update(themes)
        for key, surface, opens in _phrases_of(text):
            entry = stats.get(key)
            if entry is None:
                entry = stats[key] = _PhraseStats(Counter(), Counter(), Counter(), {})
            entry.surfaces[surface] += 1
            for theme in themes:
                entry.points_by_theme[theme] += 1
                entry.openings_by_theme[theme] += opens
                entry.respondents_by_theme.setdefault(theme, set()).add(owner)
            entry.points_by_theme[-1] += 1
    n_points = max(1, len(point_texts))
    names = _proper_nouns(point_texts)

    def support(key: str, theme: int) -> int:
        return len(stats[key].respondents_by_theme.get(theme, ()))

    scores: list[dict[str, float]] = []
    shared_scores: list[dict[str, float]] = []
    for theme in range(n_themes):
        size = max(1, points_in_theme[theme])
        terms = key_terms[theme]
        scored: dict[str, float] = {}
        shared: dict[str, float] = {}
        for key, entry in stats.items():
            inside = entry.points_by_theme[theme]
            if inside < 1:
                continue
            lift = (inside / size) / (entry.points_by_theme[-1] / n_points)
            on_topic = max([_OFF_TOPIC_WEIGHT, *(terms.get(w, 0.0) for w in key.split())])
            length = _LENGTH_WEIGHT[min(_content_count(key), len(_LENGTH_WEIGHT))]
            if lift <= 1.0 and n_themes > 1:
                if " " in key:  # wording every theme uses: only to describe a lone word
                    shared[key] = support(key, theme) * length * on_topic
                continue
            # A lone theme holds every point, so lift says nothing: how often a phrase is used does.
            distinct = math.log(min(lift, _LIFT_CAP)) if n_themes > 1 else 1.0
            # What a member opens a point with is usually what the point is about.
            opens = entry.openings_by_theme[theme] * 2 >= inside
            subject = _OPENING_WEIGHT if opens else 1.0
            scored[key] = support(key, theme) * distinct * length * on_topic * subject
        scores.append(scored)
        shared_scores.append(shared)

    def widen(key: str, theme: int) -> str:
        """The longest phrase around ``key`` that at least half its respondents used and that
        adds one of the theme's key terms ("pooled budgets" + "for health and social care", but
        not "organisational boundaries" + "in the middle")."""
        floor = max(_MIN_LABEL_RESPONDENTS, math.ceil(_WIDEN_SHARE * support(key, theme)))
        wider = [
            other
            for other in scores[theme]
            if other != key
            and _contains(other, key)
            and support(other, theme) >= floor
            and any(key_terms[theme].get(w) for w in set(other.split()) - set(key.split()))
        ]
        if not wider:
            return key
        return max(wider, key=lambda k: (len(k.split()), support(k, theme), k))

    def candidates(theme: int) -> list[str]:
        """Phrases in the order they are tried as the theme's label: recurring phrases of
        several words, widened; then phrases one respondent used; then the members' wording
        around the theme's strongest single words ("workforce planning" rather than "Staff"),
        even where other themes use it too; single words last."""
        ranked = sorted(scores[theme], key=lambda k: (-scores[theme][k], k))
        several = [k for k in ranked if " " in k]
        recurring = [k for k in several if support(k, theme) >= _MIN_LABEL_RESPONDENTS]
        widened = list(dict.fromkeys(widen(k, theme) for k in recurring))
        singles = [k for k in ranked if " " not in k]
        common = sorted(shared_scores[theme], key=lambda k: (-shared_scores[theme][k], k))
        around = [k for word in singles for k in common if _contains(k, word)]
        return list(
            dict.fromkeys(
                [*widened, *several, *around, *common, *(_join_with(w, ranked) for w in singles)]
            )
        )

    def surfaces_of(key: str) -> Counter[str]:
        if key in stats:
            return stats[key].surfaces
        first, other = key.split(" and ")  # a lone word joined with another (_join_with)
        surface = " and ".join(
            max(stats[k].surfaces.items(), key=lambda item: (item[1], item[0]))[0]
            for k in (first, other)
        )
        return Counter({surface: 1})

    labels: list[str] = []
    keywords: list[list[str]] = []
    taken: set[str] = set()
    taken_keys: list[str] = []
    # Larger themes choose first so the most-raised theme gets its most natural heading.
    order = sorted(range(n_themes), key=lambda t: (-points_in_theme[t], t))
    for theme in order:
        label = ""
        for key in candidates(theme):
            candidate = _sentence_case(surfaces_of(key), names)
            # Two headings where one is the other plus a word ("Agency staff", "Fewer agency
            # staff") read as the same theme twice.
            if candidate.lower() not in taken and not any(
                (_contains(key, other) or _contains(other, key))
                and abs(_content_count(key) - _content_count(other)) <= 1
                for other in taken_keys
            ):
                label = candidate
                taken_keys.append(key)
                break
        if not label:
            label = f"Further points ({theme + 1})"
        taken.add(label.lower())
        labels.append(label)
        ranked = sorted(scores[theme], key=lambda k: (-scores[theme][k], k))
        keywords.append(_keywords(label, ranked, stats))
    by_theme = dict(zip(order, zip(labels, keywords, strict=True), strict=True))
    return [by_theme[t][0] for t in range(n_themes)], [by_theme[t][1] for t in range(n_themes)]


def _join_with(word: str, ranked_keys: Sequence[str]) -> str:
    """A lone word made descriptive with the theme's strongest other word ("staff and
    wellbeing"), when members used no phrase around it at all."""
    other = next((k for k in ranked_keys if " " not in k and k != word), None)
    return word if other is None else f"{word} and {other}"


def _keywords(label: str, ranked_keys: Sequence[str], stats: dict[str, _PhraseStats]) -> list[str]:
    """Up to three more phrases of the theme that neither repeat the label nor each other."""
    chosen: list[str] = []
    seen = [{_stem(w) for w in label.lower().split()}]
    phrases_first = [k for k in ranked_keys if " " in k] + [k for k in ranked_keys if " " not in k]
    for key in phrases_first:
        words = set(key.split())
        if any(words <= other or other <= words for other in seen):
            continue
        chosen.append(_sentence_case(stats[key].surfaces).lower())
        seen.append(words)
        if len(chosen) == 3:
            break
    return chosen


def describe(label: str, keywords: Sequence[str]) -> str:
    """One sentence for the report: the theme and the members' other words for it.

    No count: counts are computed wherever they are shown, from the coding and the scope."""
    subject = label if label[:2].isupper() else label[:1].lower() + label[1:]
    if not keywords:
        return f"Points members made on {subject}."
    quoted = [f"“{k}”" for k in keywords]
    listed = quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]
    return f"Points members made on {subject}, in their words {listed}."


# --- quotes and keys ------------------------------------------------------------------------


def _trim_quote(text: str) -> str:
    """At most MAX_QUOTE_CHARS, cut after a full sentence where possible, else at a word.

    The result is always a verbatim substring of the comment: no ellipsis is added.
    """
    text = text.strip()
    if len(text) <= MAX_QUOTE_CHARS:
        return text
    window = text[:MAX_QUOTE_CHARS]
    ends = [m.end() for m in _SENTENCE_END_RE.finditer(window)]
    if ends and ends[-1] >= MAX_QUOTE_CHARS // 3:
        return window[: ends[-1]].strip()
    space = window.rfind(" ")
    return window[:space].rstrip(" ,;:-") if space > 0 else window


def _theme_key(top_terms: Sequence[str]) -> str:
    """A short id from the theme's strongest terms, so a refresh that finds the same theme keeps it."""
    digest = hashlib.sha1("|".join(sorted(top_terms)).encode()).hexdigest()
    return f"t{digest[:8]}"


# --- the engine -----------------------------------------------------------------------------


def code_comments(
    comments: Sequence[CommentInput], *, max_themes: int = 12, seed: int = 0
) -> Coding:
    """Code every comment to the themes its points raise.

    Returns no themes (and every respondent in ``other_keys``) when there are too few points of
    substance to find a theme in. The same comments and ``seed`` always give the same coding.

    Words in more than a third of the points are first left out, as they usually name the
    question rather than a theme; but when members made only a few points, each in a third of
    the comments or more, that leaves most comments uncoded, so the words are let back in.
    """
    coding = _code_comments(comments, max_themes, seed, _QUESTION_WORD_SHARE)
    if len(coding.other_keys) > _MAX_UNCODED_SHARE * max(1, len(coding.assignments)):
        wider = _code_comments(comments, max_themes, seed, _FEW_SUBJECTS_WORD_SHARE)
        if len(wider.other_keys) < len(coding.other_keys):
            return wider
    return coding


def _code_comments(
    comments: Sequence[CommentInput], max_themes: int, seed: int, max_df: float
) -> Coding:
    points: list[_Point] = []
    for index, comment in enumerate(comments):
        for start, end in _split_points(comment.text):
            points.append(_Point(index, start, end))
    point_texts = [comments[p.comment_index].text[p.start : p.end] for p in points]
    everyone = tuple(dict.fromkeys(c.respondent_key for c in comments))
    no_themes = Coding(themes=(), assignments={k: () for k in everyone}, other_keys=everyone)
    if max_themes < 1 or len(points) < 2 * _MIN_THEME_RESPONDENTS:
        return no_themes

    rng = np.random.default_rng(seed)
    if len(points) > _FIT_SAMPLE_POINTS:
        fit_rows = np.sort(rng.choice(len(points), size=_FIT_SAMPLE_POINTS, replace=False))
    else:
        fit_rows = np.arange(len(points))
    fit_texts = [point_texts[i] for i in fit_rows]

    vectoriser = _vectoriser(len(fit_texts), max_df)
    try:
        vectoriser.fit(fit_texts)
    except ValueError:  # nothing but stop words
        return no_themes
    vocabulary = vectoriser.get_feature_names_out()
    tfidf = sparse.csr_matrix(vectoriser.transform(point_texts))

    has_terms = np.asarray(tfidf.getnnz(axis=1) > 0)
    fit_rows = fit_rows[has_terms[fit_rows]]
    if len(fit_rows) < 2 * _MIN_THEME_RESPONDENTS:
        return no_themes
    centres = _choose_topics(tfidf[fit_rows], max_themes, seed)
    if centres is None:
        return no_themes

    # Themes too small to report are folded away and their points re-coded against the rest.
    for _ in range(max_themes):
        point_themes = _code_points(_topic_shares(tfidf, centres))
        point_themes = [t if has_terms[i] else [] for i, t in enumerate(point_themes)]
        raised = _respondents_per_theme(points, point_themes, comments, len(centres))
        floor = max(_MIN_THEME_RESPONDENTS, math.ceil(_MIN_THEME_SHARE * len(everyone)))
        keep = [t for t in range(len(centres)) if len(raised[t]) >= floor]
        if not keep and len(centres) > 1:
            # Every topic was too small (each comment's own detail, such as a number, made its
            # own): what the comments share may still be one theme.
            centres = _fit_topics(tfidf[fit_rows], 1, seed)
            continue
        if len(keep) == len(centres) or not keep:
            break
        centres = centres[keep]
    if not keep:
        return no_themes

    # Labels and quotes come from the fitted sample: reading every point of a huge input would
    # cost time and add nothing the sample does not already show.
    sample_texts = [point_texts[i] for i in fit_rows]
    sample_themes = [point_themes[i] for i in fit_rows]
    sample_owners = [comments[points[i].comment_index].respondent_key for i in fit_rows]

    def top_terms_of(row: np.ndarray) -> np.ndarray:
        return np.argsort(-row, kind="stable")[:_LABEL_KEY_TERMS]

    key_terms: list[dict[str, float]] = []
    for row in centres:
        weights: dict[str, float] = {}
        for index in top_terms_of(row):
            for stem in str(vocabulary[index]).split():
                weights[stem] = max(weights.get(stem, 0.0), float(row[index] / row.max()))
        key_terms.append(weights)
    labels, keywords = _label_themes(sample_texts, sample_themes, sample_owners, key_terms)
    shares = _topic_shares(tfidf, centres)

    themes: list[CodedTheme] = []
    keys: list[str] = []
    for theme in range(len(centres)):
        members = np.array([i for i, t in enumerate(point_themes) if theme in t], dtype=np.intp)
        top_terms = [str(vocabulary[i]) for i in np.argsort(-centres[theme], kind="stable")]
        top_terms = top_terms[:_KEY_TERMS]
        key = _theme_key(top_terms)
        while key in keys:  # two themes sharing top terms still get distinct keys
            key = _theme_key([*top_terms, key])
        keys.append(key)
        respondent_keys = tuple(sorted(raised[theme]))
        quoted = _quotes(members, shares[:, theme], points, comments)
        themes.append(
            CodedTheme(
                key=key,
                label=labels[theme],
                description=describe(labels[theme], keywords[theme]),
                respondent_keys=respondent_keys,
                stance=_stance_mix(respondent_keys, comments),
                quotes=tuple(q for q, _ in quoted),
                quote_keys=tuple(k for _, k in quoted),
            )
        )

    assignments: dict[str, list[str]] = {k: [] for k in everyone}
    for point, coded in zip(points, point_themes, strict=True):
        owner = assignments[comments[point.comment_index].respondent_key]
        owner.extend(keys[t] for t in coded if keys[t] not in owner)
    order = sorted(range(len(themes)), key=lambda t: (-themes[t].count, themes[t].label))
    rank = {keys[t]: position for position, t in enumerate(order)}
    return Coding(
        themes=tuple(themes[t] for t in order),
        assignments={k: tuple(sorted(v, key=rank.__getitem__)) for k, v in assignments.items()},
        other_keys=tuple(k for k in everyone if not assignments[k]),
    )


def _respondents_per_theme(
    points: Sequence[_Point],
    point_themes: Sequence[Sequence[int]],
    comments: Sequence[CommentInput],
    n_themes: int,
) -> list[set[str]]:
    raised: list[set[str]] = [set() for _ in range(n_themes)]
    for point, coded in zip(points, point_themes, strict=True):
        for theme in coded:
            raised[theme].add(comments[point.comment_index].respondent_key)
    return raised


def _stance_mix(respondent_keys: Sequence[str], comments: Sequence[CommentInput]) -> dict[str, int]:
    """Respondents of the theme by stance group; a respondent without a stance is not counted."""
    stance_of: dict[str, str | None] = {}
    for comment in comments:
        if comment.stance is not None or comment.respondent_key not in stance_of:
            stance_of[comment.respondent_key] = comment.stance
    mix = {"supportive": 0, "undecided": 0, "opposed": 0}
    for key in respondent_keys:
        stance = stance_of.get(key)
        if stance is not None:
            mix[STANCE_GROUPS[stance]] += 1
    return mix


def _quotes(
    members: np.ndarray,
    shares: np.ndarray,
    points: Sequence[_Point],
    comments: Sequence[CommentInput],
) -> list[tuple[str, str]]:
    """(quote, respondent) for the points the theme explains best, one per respondent,
    verbatim, from respondents who allowed quoting."""
    order = members[np.lexsort((members, -shares[members]))]
    quotes: list[tuple[str, str]] = []
    people: set[str] = set()
    seen: set[str] = set()
    for m in order:
        point = points[int(m)]
        comment = comments[point.comment_index]
        if comment.respondent_key in people or not comment.quotable:
            continue
        quote = _trim_quote(comment.text[point.start : point.end])
        if not quote or quote.lower() in seen:
            continue
        quotes.append((quote, comment.respondent_key))
        people.add(comment.respondent_key)
        seen.add(quote.lower())
        if len(quotes) == _MAX_QUOTES:
            break
    return quotes
