"""Which FAQ entry answers a member's question: offline text similarity, no model to download.

Each FAQ entry is represented by its question (and, with half the weight, its answer) as TF-IDF
vectors of word uni/bigrams and of character 3-5-grams within words, both over the text's
content words (English stop words removed); character n-grams (which survive rewording: "legislate"/"legislation", "councils"/"council"). The score of
an entry is the cosine similarity of the member's question to it; the best entry answers when
its score reaches MATCH_THRESHOLD. The threshold was measured on the example FAQ's questions
reworded by hand and on questions it does not answer (bench/faq_match.py, its fixture in
tests/unit/bot/engagement/faq_rewordings.yaml); the figures are by MATCH_THRESHOLD.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfVectorizer
from sklearn.pipeline import FeatureUnion

# Measured with bench/faq_match.py on the rewordings fixture: precision 1.00 and recall 0.65
# here; at 0.35 one question is answered with the wrong entry (0.96, 0.71), at 0.30 unrelated
# questions start to be answered (0.88, 0.71). A wrong answer misleads; staff only take longer.
MATCH_THRESHOLD = 0.375
# How much an entry's answer counts next to its question (the question is what members reword).
ANSWER_WEIGHT = 0.5
WORD = re.compile(r"[a-z0-9]+")


@dataclass(frozen=True)
class FaqItem:
    entry_id: int
    question: str
    answer: str


@dataclass(frozen=True)
class FaqMatch:
    item: FaqItem
    score: float


def content_words(text: str) -> str:
    """Lowercase words without English stop words: "what", "the", "will" say nothing of which
    entry is meant, and their character n-grams would make unrelated questions look alike."""
    return " ".join(w for w in WORD.findall(text.lower()) if w not in ENGLISH_STOP_WORDS)


def _vectoriser() -> FeatureUnion:
    return FeatureUnion(
        [
            (
                "words",
                TfidfVectorizer(
                    analyzer="word",
                    ngram_range=(1, 2),
                    preprocessor=content_words,
                    sublinear_tf=True,
                ),
            ),
            (
                "chars",
                TfidfVectorizer(
                    analyzer="char_wb",
                    ngram_range=(3, 5),
                    preprocessor=content_words,
                    sublinear_tf=True,
                ),
            ),
        ]
    )


def _normalise(rows: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return rows / norms


def score_all(question: str, items: Sequence[FaqItem]) -> list[float]:
    """The similarity of `question` to each item (0..1), in the items' order."""
    if not items or not question.strip():
        return [0.0] * len(items)
    vectoriser = _vectoriser()
    # The vocabulary and IDF come from the FAQ itself: words every entry shares weigh little.
    vectoriser.fit([item.question for item in items] + [item.answer for item in items])
    questions = _normalise(vectoriser.transform([i.question for i in items]).toarray())
    answers = _normalise(vectoriser.transform([i.answer for i in items]).toarray())
    entries = _normalise(questions + ANSWER_WEIGHT * answers)
    asked = _normalise(vectoriser.transform([question]).toarray())
    return [float(s) for s in (entries @ asked[0])]


def best_match(
    question: str, items: Sequence[FaqItem], threshold: float = MATCH_THRESHOLD
) -> FaqMatch | None:
    """The entry that answers `question`, or None when none is close enough."""
    scores = score_all(question, items)
    if not scores:
        return None
    best = int(np.argmax(scores))
    if scores[best] < threshold:
        return None
    return FaqMatch(items[best], scores[best])
