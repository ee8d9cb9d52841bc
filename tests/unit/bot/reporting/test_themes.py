"""Theme extraction: finds planted topics, respects quoting consent, is deterministic."""

from __future__ import annotations

import random

import pytest

from bot.reporting.themes import CommentInput, Theme, extract_themes, trim_quote

TOPICS: dict[str, list[str]] = {
    "workforce": [
        "workforce shortages",
        "staff recruitment",
        "retention of nurses",
        "staff burnout",
        "vacancies in the workforce",
        "workforce planning",
    ],
    "funding": [
        "funding pressures",
        "financial pressure",
        "budget deficits",
        "capital funding",
        "financial allocations",
        "funding settlement",
    ],
    "digital": [
        "data sharing",
        "digital systems",
        "shared care records",
        "information governance",
        "interoperable digital records",
        "data sharing agreements",
    ],
}
TOPIC_WORDS = {
    "workforce": {"workforce", "staff", "recruitment", "retention", "nurses", "burnout"},
    "funding": {"funding", "financial", "budget", "deficits", "capital", "allocations"},
    "digital": {"data", "digital", "sharing", "records", "governance", "information"},
}
OPENERS = [
    "We are concerned about",
    "The biggest issue is",
    "Our members highlight",
    "There must be action on",
    "In our area the problem is",
    "Leaders told us about",
]
TAILS = [
    "across the region.",
    "over the next five years.",
    "for community services.",
    "in primary care.",
    "which affects patients.",
]


def corpus(per_topic: int = 15, seed: int = 7) -> tuple[list[CommentInput], dict[str, str]]:
    """Three clear topics; quoting consent cycles through named / anonymous / no."""
    rng = random.Random(seed)
    comments: list[CommentInput] = []
    topic_of: dict[str, str] = {}
    i = 0
    for topic, phrases in TOPICS.items():
        for _ in range(per_topic):
            text = " ".join(
                f"{rng.choice(OPENERS)} {rng.choice(phrases)} {rng.choice(TAILS)}" for _ in range(3)
            )
            quotable = ("named", "anonymous", "no")[i % 3]
            key = f"r{i:03d}"
            comments.append(
                CommentInput(
                    respondent_key=key,
                    text=text,
                    quotable=quotable,
                    attribution=f"Chief executive, Org {i}",
                )
            )
            topic_of[key] = topic
            i += 1
    rng.shuffle(comments)
    return comments, topic_of


def test_finds_three_planted_topics() -> None:
    comments, topic_of = corpus()
    themes = extract_themes(comments)
    assert len(themes) == 3
    found = set()
    for theme in themes:
        topics = {topic_of[k] for k in theme.respondent_keys}
        assert len(topics) == 1, theme
        topic = topics.pop()
        found.add(topic)
        assert set(theme.label.replace("/", " ").split()) & TOPIC_WORDS[topic], theme.label
        assert 13 <= theme.count <= 17
        assert theme.count == len(theme.respondent_keys)
        assert 2 <= len(theme.quotes) <= 3
    assert found == set(TOPICS)
    assert [t.count for t in themes] == sorted((t.count for t in themes), reverse=True)


def test_quoting_consent_is_respected() -> None:
    comments, _ = corpus()
    by_text = {" ".join(c.text.split()): c for c in comments}
    for theme in extract_themes(comments):
        for quote in theme.quotes:
            source = by_text[quote.text]
            assert source.quotable != "no"
            if source.quotable == "anonymous":
                assert quote.attribution is None
            else:
                assert quote.attribution == source.attribution


def test_never_quotes_when_nobody_consents() -> None:
    comments, _ = corpus()
    silent = [CommentInput(c.respondent_key, c.text, "no", c.attribution) for c in comments]
    themes = extract_themes(silent)
    assert themes
    assert all(t.quotes == [] for t in themes)


def test_deterministic() -> None:
    comments, _ = corpus()
    first = extract_themes(comments, seed=3)
    assert extract_themes(list(comments), seed=3) == first
    assert extract_themes(comments, seed=3) == first


def test_respondent_counted_once_per_theme() -> None:
    comments, _ = corpus()
    doubled = comments + [
        CommentInput(c.respondent_key, c.text + " Again, this matters.", c.quotable, None)
        for c in comments
    ]
    for theme in extract_themes(doubled):
        assert theme.count == len(set(theme.respondent_keys))
        assert 13 <= theme.count <= 17
        keys = [q.text for q in theme.quotes]
        assert len(keys) == len(set(keys))


def test_tiny_or_empty_input_returns_nothing() -> None:
    assert extract_themes([]) == []
    two = [
        CommentInput("a", "Workforce shortages are the main concern", "anonymous", None),
        CommentInput("b", "Funding pressures are severe this year", "anonymous", None),
    ]
    assert extract_themes(two) == []
    short = [
        CommentInput(str(i), text, "anonymous", None)
        for i, text in enumerate(["yes", "no", "Agree.", "", "   ", "ok fine"] * 3)
    ]
    assert extract_themes(short) == []


def test_max_themes_respected() -> None:
    comments, _ = corpus()
    themes = extract_themes(comments, max_themes=2)
    assert 1 <= len(themes) <= 2
    assert all(isinstance(t, Theme) for t in themes)
    assert extract_themes(comments, max_themes=0) == []


def test_invalid_quotable_rejected() -> None:
    with pytest.raises(ValueError):
        CommentInput("a", "text", "maybe", None)  # type: ignore[arg-type]


def test_trim_quote() -> None:
    assert trim_quote("Short and  sweet.") == "Short and sweet."
    sentences = "This is a complete sentence about workforce. " * 10
    trimmed = trim_quote(sentences)
    assert len(trimmed) <= 300
    assert trimmed.endswith("workforce. …")
    words = "word " * 100
    trimmed = trim_quote(words)
    assert len(trimmed) <= 300
    assert trimmed.endswith("word…")
    blob = "x" * 400
    assert len(trim_quote(blob)) <= 300


def test_long_quotes_are_trimmed() -> None:
    comments, _ = corpus()
    long = [
        CommentInput(c.respondent_key, c.text + " " + c.text + " " + c.text, c.quotable, None)
        for c in comments
    ]
    for theme in extract_themes(long):
        assert all(len(q.text) <= 300 for q in theme.quotes)
