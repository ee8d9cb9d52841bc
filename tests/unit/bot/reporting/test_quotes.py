"""Quotes in the draft are cut at a sentence or word boundary, never mid-word."""

from __future__ import annotations

from bot.reporting.quotes import trim_quote


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
