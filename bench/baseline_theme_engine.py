"""The theme engine consultbot had before bot/reporting/theme_engine.py, kept only as the
`bench/themes.py` baseline ("before"). Themes from members' free-text comments: offline, deterministic, fast (docs/contracts.md, Export JSON and The draft formal response).

The draft response reports "the themes with how many raised each and representative quotes".
Themes are found with TF-IDF + (optional) LSA + k-means, all seeded, so the same comments always
give the same themes and no text leaves the machine. Large inputs are clustered on a bounded
sample and the rest assigned to the nearest centre, keeping 25,000 comments within a few seconds.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

import numpy as np
from scipy import sparse
from sklearn.cluster import KMeans
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfVectorizer
from sklearn.metrics import silhouette_score
from sklearn.preprocessing import normalize

from bot.reporting.quotes import trim_quote

__all__ = [
    "DOMAIN_STOP_WORDS",
    "CommentInput",
    "Quote",
    "Theme",
    "extract_themes",
]

Quotable = Literal["named", "anonymous", "no"]

#: Words that appear in nearly every comment on an NHS consultation and so carry no theme.
DOMAIN_STOP_WORDS: Final[frozenset[str]] = frozenset(
    {
        "agree",
        "agreed",
        "also",
        "believe",
        "consultation",
        "disagree",
        "feel",
        "ics",
        "icss",
        "just",
        "like",
        "nhs",
        "proposal",
        "proposals",
        "question",
        "really",
        "strongly",
        "think",
        "view",
        "views",
        "way",
        "yes",
    }
)

MAX_QUOTE_CHARS: Final = 300
_MIN_WORDS: Final = 3
_BIGRAM_BOOST: Final = 1.5
_VOCAB_SAMPLE: Final = 5000
_WORD_RE: Final = re.compile(r"[A-Za-z][A-Za-z'-]+")
_TOKEN_RE: Final = re.compile(r"[a-z]+")


@dataclass(frozen=True, slots=True)
class CommentInput:
    """One respondent's comment with their quoting consent.

    ``attribution`` (e.g. "Chief executive, Example ICS") is only ever shown when ``quotable`` is
    "named"; "anonymous" comments may be quoted without it and "no" comments are never quoted.
    """

    respondent_key: str
    text: str
    quotable: Quotable = "anonymous"
    attribution: str | None = None

    def __post_init__(self) -> None:
        if self.quotable not in ("named", "anonymous", "no"):
            raise ValueError(f"quotable must be named, anonymous or no, got {self.quotable!r}")


@dataclass(frozen=True, slots=True)
class Quote:
    """A representative comment, trimmed for the report; attribution only with named consent."""

    text: str
    attribution: str | None = None


@dataclass(slots=True)
class Theme:
    """A cluster of comments: a short label, how many respondents raised it, and the evidence."""

    label: str
    count: int
    respondent_keys: list[str] = field(default_factory=list)
    quotes: list[Quote] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Shape used by the JSON export (docs/contracts.md, Export JSON)."""
        return {
            "label": self.label,
            "count": self.count,
            "quotes": [q.text for q in self.quotes],
        }


def _clean(text: str) -> str:
    return " ".join(text.split())


def _usable(comment: CommentInput) -> bool:
    return len(_WORD_RE.findall(comment.text)) >= _MIN_WORDS


def _min_df(n_docs: int) -> int:
    """Ignore one-off words in larger corpora; keep everything in small ones."""
    if n_docs < 30:
        return 1
    if n_docs < 1000:
        return 2
    return max(2, min(20, n_docs // 1000))


def _analyser(stop_words: frozenset[str]) -> Callable[[str], list[str]]:
    """Unigrams plus bigrams of words adjacent in the original text.

    sklearn's built-in analyser forms bigrams after removing stop words, inventing phrases such
    as "pressures deficits" from "pressures and deficits"; theme labels must read naturally.
    """

    def analyse(text: str) -> list[str]:
        tokens = _TOKEN_RE.findall(text.lower())
        keep = [len(t) > 1 and t not in stop_words for t in tokens]
        terms = [t for t, k in zip(tokens, keep, strict=True) if k]
        terms.extend(
            f"{a} {b}"
            for (a, ka), (b, kb) in itertools.pairwise(zip(tokens, keep, strict=True))
            if ka and kb
        )
        return terms

    return analyse


def _vectorise(
    texts: list[str], stop_words: frozenset[str], seed: int
) -> tuple[sparse.csr_matrix | None, np.ndarray]:
    """TF-IDF over words and adjacent word pairs; very common terms are dropped if possible.

    Building the vocabulary is the slowest step on big inputs, so it is learnt from a seeded
    sample of at most ``_VOCAB_SAMPLE`` comments and then applied to all of them.
    """
    analyse = _analyser(stop_words)
    if len(texts) > _VOCAB_SAMPLE:
        rows = np.random.default_rng(seed).choice(len(texts), size=_VOCAB_SAMPLE, replace=False)
        fit_texts = [texts[i] for i in np.sort(rows)]
    else:
        fit_texts = texts
    # Terms in most comments say nothing about which theme a comment belongs to, but when the
    # corpus is uniform (everyone said the same thing) they are all there is, so retry without.
    for max_df in (0.8, 1.0) if len(texts) >= 10 else (1.0,):
        vectorizer = TfidfVectorizer(
            analyzer=analyse,
            sublinear_tf=True,
            min_df=_min_df(len(fit_texts)),
            max_df=max_df,
            max_features=8_000,
            dtype=np.float32,
        )
        try:
            vectorizer.fit(fit_texts)
            matrix = sparse.csr_matrix(vectorizer.transform(texts))
        except ValueError:  # nothing left after pruning
            continue
        return matrix, vectorizer.get_feature_names_out()
    return None, np.array([], dtype=object)


def _choose_k(points: np.ndarray, k_max: int, seed: int) -> KMeans:
    """Fit k-means for k = 2..k_max and keep the best silhouette (ties -> smaller k)."""
    best: tuple[float, KMeans] | None = None
    n = points.shape[0]
    n_distinct = len(np.unique(points.round(6), axis=0))
    for k in range(2, min(k_max, n - 1, n_distinct) + 1):
        model = KMeans(n_clusters=k, n_init=2, random_state=seed).fit(points)
        labels = model.labels_
        if len(np.unique(labels)) < 2:
            continue
        score = float(silhouette_score(points, labels, random_state=seed))
        if best is None or score > best[0] + 1e-9:
            best = (score, model)
    if best is None:
        return KMeans(n_clusters=1, n_init=1, random_state=seed).fit(points)
    return best[1]


def _label(scores: np.ndarray, vocabulary: np.ndarray, taken: set[str]) -> str:
    """Join the most distinctive phrases (2-4 words), preferring bigrams, skipping repeats."""
    # Bigrams read better than single words ("data sharing" over "data") but score lower because
    # they are rarer, so give them a modest boost before ranking.
    is_bigram = np.char.count(vocabulary.astype(str), " ") > 0
    order = np.argsort(-(scores * np.where(is_bigram, _BIGRAM_BOOST, 1.0)), kind="stable")
    picked: list[str] = []
    words_used: set[str] = set()
    for idx in order[:40]:
        if scores[idx] <= 0:
            break
        phrase = str(vocabulary[idx])
        words = phrase.split()
        if set(words) <= words_used:
            continue
        n_words = sum(len(p.split()) for p in picked)
        if picked and n_words + len(words) > 4:
            continue
        picked.append(phrase)
        words_used.update(words)
        if len(picked) == 2 or n_words + len(words) >= 3:
            break
    label = " / ".join(picked) or "other comments"
    # Keep labels distinct so the report never shows two identical theme headings.
    if label in taken:
        for idx in order[:40]:
            extra = str(vocabulary[idx])
            if extra not in label:
                label = f"{label} / {extra}"
                break
    return label


def extract_themes(
    comments: Sequence[CommentInput],
    *,
    max_themes: int = 5,
    min_comments: int = 3,
    seed: int = 0,
    max_quotes: int = 3,
    min_share: float = 0.05,
    sample_size: int = 1500,
    extra_stop_words: Iterable[str] = DOMAIN_STOP_WORDS,
) -> list[Theme]:
    """Cluster ``comments`` into at most ``max_themes`` themes, largest first.

    Returns [] when fewer than ``min_comments`` comments have any substance. Clusters holding
    less than ``min_share`` of the usable comments (or fewer than two) are dropped as noise.
    The same input and ``seed`` always give the same output.
    """
    if max_themes < 1:
        return []
    usable = [c for c in comments if _usable(c)]
    if len(usable) < max(min_comments, 2):
        return []
    texts = [_clean(c.text) for c in usable]

    stop_words = frozenset(ENGLISH_STOP_WORDS | {w.lower() for w in extra_stop_words})
    tfidf, vocabulary = _vectorise(texts, stop_words, seed)
    if tfidf is None:  # every word was a stop word
        return []

    # Comments made only of stop words have empty rows and would form a spurious cluster.
    has_terms = np.asarray(tfidf.getnnz(axis=1) > 0)
    doc_idx = np.flatnonzero(has_terms)
    if len(doc_idx) < max(min_comments, 3):
        return []
    tfidf = sparse.csr_matrix(tfidf[doc_idx])

    rng = np.random.default_rng(seed)
    n_docs = len(doc_idx)
    if n_docs > sample_size:
        fit_rows = np.sort(rng.choice(n_docs, size=sample_size, replace=False))
    else:
        fit_rows = np.arange(n_docs)

    n_features = tfidf.shape[1]
    if n_features > 300 and len(fit_rows) > 50:
        n_components = min(60, n_features - 1, len(fit_rows) - 1)
        svd = TruncatedSVD(n_components=n_components, random_state=seed, n_iter=4)
        svd.fit(tfidf[fit_rows])
        points = normalize(svd.transform(tfidf)).astype(np.float64)
    else:
        points = tfidf.toarray().astype(np.float64)

    model = _choose_k(points[fit_rows], max(2, max_themes), seed)
    labels = model.predict(points) if n_docs > len(fit_rows) else model.labels_
    distances = np.linalg.norm(points - model.cluster_centers_[labels], axis=1)

    min_size = max(2, int(np.ceil(min_share * n_docs)))
    column_mean = np.asarray(tfidf.mean(axis=0)).ravel()
    themes: list[Theme] = []
    taken: set[str] = set()
    cluster_ids = sorted(
        (int(c) for c in np.unique(labels)), key=lambda c: (-int(np.sum(labels == c)), c)
    )
    for cluster in cluster_ids:
        members = np.flatnonzero(labels == cluster)
        if len(members) < min_size:
            continue
        inside = np.asarray(tfidf[members].mean(axis=0)).ravel()
        rest = n_docs - len(members)
        outside = (column_mean * n_docs - inside * len(members)) / max(rest, 1)
        label = _label(inside - outside, vocabulary, taken)
        taken.add(label)

        keys = sorted({usable[doc_idx[m]].respondent_key for m in members})
        themes.append(
            Theme(
                label=label,
                count=len(keys),
                respondent_keys=keys,
                quotes=_quotes(members, distances, doc_idx, usable, max_quotes),
            )
        )

    themes.sort(key=lambda t: (-t.count, t.label))
    return themes[:max_themes]


def _quotes(
    members: np.ndarray,
    distances: np.ndarray,
    doc_idx: np.ndarray,
    usable: list[CommentInput],
    max_quotes: int,
) -> list[Quote]:
    """The comments nearest the centre that respondents allowed us to quote, one per person."""
    order = members[np.lexsort((members, distances[members]))]
    quotes: list[Quote] = []
    seen_text: set[str] = set()
    seen_people: set[str] = set()
    for m in order:
        comment = usable[doc_idx[m]]
        if comment.quotable == "no" or comment.respondent_key in seen_people:
            continue
        text = trim_quote(comment.text)
        if text.lower() in seen_text:
            continue
        attribution = comment.attribution if comment.quotable == "named" else None
        quotes.append(Quote(text=text, attribution=attribution or None))
        seen_text.add(text.lower())
        seen_people.add(comment.respondent_key)
        if len(quotes) >= max_quotes:
            break
    return quotes
