"""The themes review modal: what staff see per theme, escaped, and the form read back."""

from __future__ import annotations

from bot.consultations.catalogue import QuestionView
from bot.demo.sandbox import render_blocks_as_text
from bot.reporting.aggregation import ThemeSummary
from bot.reporting.codebook import Review
from bot.reporting.theme_blocks import read_edit, read_metadata, review_modal

Q1 = QuestionView(id=1, key="q1", text="Do you agree?", kind="stance", comment="optional")
Q2 = QuestionView(id=2, key="q2", text="Anything else?", kind="free_text", comment="optional")


def review(*themes: ThemeSummary) -> Review:
    return Review(
        consultation_id="c1",
        title="Integration",
        question=Q1,
        questions=(Q1, Q2),
        engine="offline",
        themes=themes,
        other_points=2,
        comments=12,
    )


def test_each_theme_shows_count_stance_and_a_quote_with_user_text_escaped() -> None:
    theme = ThemeSummary(
        id="t1",
        label="Pooled budgets <!channel>",
        count=9,
        stance={"supportive": 7, "undecided": 0, "disagree": 2},
        quotes=["Pooled budgets & section 75 <@U123> take months."],
        edited=True,
    )
    modal = review_modal(review(theme), notice="Renamed t1.")
    text = render_blocks_as_text(modal["blocks"])
    assert "Raised by 9 respondents (7 supportive, 2 opposed)" in text
    assert "(edited)" in text and "Renamed t1." in text
    assert "2 of 12 comments are among the other points" in text
    # mrkdwn (where Slack would act on a mention) is escaped; plain_text options cannot mention.
    mrkdwn = str([b["text"] for b in modal["blocks"] if b["type"] == "section"])
    assert "<!channel>" not in mrkdwn and "<@U123>" not in mrkdwn and "&lt;!channel&gt;" in mrkdwn
    assert read_metadata(modal) == ("c1", "q1")


def test_no_themes_means_no_form() -> None:
    modal = review_modal(review())
    assert "submit" not in modal
    assert "No themes in 12 comments yet." in render_blocks_as_text(modal["blocks"])


def test_the_form_reads_back_and_malformed_state_is_empty() -> None:
    state = {
        "edit": {"edit": {"type": "static_select", "selected_option": {"value": "rename"}}},
        "theme": {"theme": {"type": "static_select", "selected_option": {"value": "t2"}}},
        "label": {"label": {"type": "plain_text_input", "value": "  Workforce levers  "}},
        "other": {"other": "junk"},
    }
    assert read_edit(state) == {
        "edit": "rename",
        "theme": "t2",
        "other": None,
        "label": "  Workforce levers  ",
    }
    assert read_edit({}) == {"edit": None, "theme": None, "other": None, "label": None}
