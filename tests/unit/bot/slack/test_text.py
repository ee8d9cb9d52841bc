"""User text echoed into Slack must never ping anyone or break formatting."""

from __future__ import annotations

import pytest

from bot.slack.text import escape, truncate


@pytest.mark.parametrize(
    ("text", "escaped"),
    [
        ("<!channel> please answer", "&lt;!channel&gt; please answer"),
        ("<!here>", "&lt;!here&gt;"),
        ("ask <@U123> about it", "ask &lt;@U123&gt; about it"),
        ("<#C01ICSNET|ics>", "&lt;#C01ICSNET|ics&gt;"),
        ("health & care", "health &amp; care"),
        ("already &amp; escaped", "already &amp;amp; escaped"),
        ("<https://evil.example|click>", "&lt;https://evil.example|click&gt;"),
        ("plain *bold* _it_", "plain *bold* _it_"),
        ("", ""),
    ],
)
def test_escape(text: str, escaped: str) -> None:
    assert escape(text) == escaped


def test_escaped_text_holds_no_angle_brackets() -> None:
    out = escape("<!channel> <@U1> <!subteam^S1> a > b < c & d")
    assert "<" not in out and ">" not in out


def test_truncate_leaves_short_text_alone() -> None:
    assert truncate("short", 10) == "short"
    assert truncate("x" * 10, 10) == "x" * 10


def test_truncate_fits_the_limit_and_says_it_was_cut() -> None:
    text = "word " * 100
    out = truncate(text, 50)
    assert len(out) <= 50
    assert out.endswith("…")


def test_truncate_cuts_at_a_word_boundary() -> None:
    out = truncate("Integrating care next steps for integrated care systems", 30)
    assert out == "Integrating care next steps…"
    assert len(out) <= 30


def test_truncate_cuts_a_long_word_mid_word() -> None:
    out = truncate("a " + "x" * 100, 20)
    assert len(out) == 20
    assert out.endswith("…")


def test_truncate_with_custom_suffix() -> None:
    out = truncate("one two three four five six", 15, suffix=" [more]")
    assert out.endswith(" [more]")
    assert len(out) <= 15
