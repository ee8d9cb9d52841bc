"""Quotes as a formal document prints them: cut where a reader expects a cut."""

from __future__ import annotations

from typing import Final

MAX_QUOTE_CHARS: Final = 300


def trim_quote(text: str, limit: int = MAX_QUOTE_CHARS) -> str:
    """Shorten ``text`` to at most ``limit`` characters at a sentence, else word, boundary.

    Quotes go into a formal document, so they are cut where a reader expects a cut and marked
    with an ellipsis rather than chopped mid-word.
    """
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    window = text[: limit - 1]
    sentence_end = max(window.rfind(mark) for mark in (". ", "! ", "? "))
    if sentence_end >= limit // 2:
        return window[: sentence_end + 1] + " …"
    space = window.rfind(" ")
    cut = window[:space] if space >= limit // 3 else window
    return cut.rstrip(" ,;:-—") + "…"
