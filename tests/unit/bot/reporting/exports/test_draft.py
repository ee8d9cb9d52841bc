"""Rendering the draft response: Markdown with chart files, and a Word document that opens."""

from __future__ import annotations

import io
from typing import Any

from docx import Document

from bot.reporting.aggregation import Aggregate
from bot.reporting.drafting import build_draft, render_markdown, verify_figures
from bot.reporting.exports.draft_docx import render_docx

STANCES = ("strongly_agree", "agree", "undecided", "disagree", "strongly_disagree")


def _group(answered: int, counts: dict[str, int]) -> dict[str, Any]:
    return {
        "answered": answered,
        "counts": counts,
        "percentages": {k: round(100 * v / answered, 1) for k, v in counts.items()},
    }


def _export(*, title: str = "Integrating care") -> Aggregate:
    """The poll of 40 as the typed aggregate the draft reads."""
    stance = dict(zip(STANCES, (5, 20, 8, 5, 2), strict=True))
    ics = dict(zip(STANCES, (5, 17, 4, 2, 0), strict=True))
    mhn = dict(zip(STANCES, (0, 3, 4, 3, 2), strict=True))
    choice = {"voluntary": 9, "middle": 20, "statutory": 11}
    return Aggregate.model_validate(
        {
            "consultation": {"id": "poll", "title": title, "deadline": "", "status": "closed"},
            "respondents": 40,
            "networks": {
                "ics": {
                    "name": "ICS Network",
                    "members": 56,
                    "respondents": 28,
                    "response_rate": 50.0,
                },
                "mhn": {"name": "Mental Health Network", "members": 24, "respondents": 12},
            },
            "regions": {"london": {"name": "London"}, "unknown": {"name": "Unknown"}},
            "questions": [
                {
                    "id": "q1",
                    "text": "Do you agree with a statutory footing?",
                    "kind": "stance",
                    **_group(40, stance),
                    "by_network": {"ics": _group(28, ics), "mhn": _group(12, mhn)},
                    "by_region": {
                        "london": _group(30, dict(zip(STANCES, (5, 17, 4, 3, 1), strict=True))),
                        "unknown": _group(10, dict(zip(STANCES, (0, 3, 4, 2, 1), strict=True))),
                    },
                    "themes": [
                        {
                            "label": "workforce pressures",
                            "count": 12,
                            "quotes": [
                                "We have no staff | at all *really*. — Dr Named Person, Named ICS"
                            ],
                        }
                    ],
                    "comments": 2,
                },
                {
                    "id": "approach",
                    "text": "Which approach do you favour now?",
                    "kind": "single_choice",
                    **_group(40, choice),
                    "options": [
                        {"value": "voluntary", "label": "Voluntary partnerships"},
                        {"value": "middle", "label": "Middle way"},
                        {"value": "statutory", "label": "Statutory integrated authorities"},
                    ],
                    "by_network": {
                        "ics": _group(28, {"voluntary": 5, "middle": 15, "statutory": 8}),
                        "mhn": _group(12, {"voluntary": 4, "middle": 5, "statutory": 3}),
                    },
                    "by_region": {},
                    "themes": [],
                    "comments": 0,
                },
            ],
        }
    )


COMMENTS = {
    "q1": [
        {
            "respondent_key": "U1",
            "text": "We have no staff | at all *really*.",
            "quote_consent": "named",
            "attribution": "Dr Named Person, Named ICS",
            "choice": "agree",
        },
        {
            "respondent_key": "U2",
            "text": "Keep this between us, please.\x07",
            "quote_consent": "no",
            "attribution": "Quiet Person, Quiet Trust",
            "choice": "disagree",
        },
    ]
}


def _draft(**meta: Any):
    export = _export()
    draft = build_draft(
        export,
        COMMENTS,
        consultation_meta={"title": "Integrating care", "deadline": "Friday 8 January 2021, 5pm"}
        | meta,
    )
    verify_figures(draft, export)
    return draft


def test_markdown_references_its_charts_and_lays_out_tables() -> None:
    text, files = render_markdown(_draft(), charts_dir_name="img")
    assert set(files) == {"img/q01-q1.png", "img/q02-approach.png"}
    assert all(png.startswith(b"\x89PNG") for png in files.values())
    for path in files:
        assert f"]({path})" in text
    assert text.startswith("# Draft response: Integrating care\n")
    assert "## Question 1: Do you agree with a statutory footing?" in text
    assert "| Network | Answered | Supportive | Undecided | Disagree |" in text
    assert "| ICS Network | 28 | 78.6% | 14.3% | 7.1% |" in text
    assert "| Region not known | 10 | 30% | 40% | 30% |" in text
    assert "\x07" not in text
    assert "Just under a quarter (22.5 per cent) of respondents favoured" in text
    # Members' words cannot break the layout: table bars and emphasis are escaped.
    assert "“We have no staff \\| at all \\*really\\*.”\n> — Dr Named Person, Named ICS" in text
    assert "### Suggested position (draft)" in text


def test_docx_opens_with_headings_charts_tables_and_quotes() -> None:
    draft = _draft()
    doc = Document(io.BytesIO(render_docx(draft)))
    headings = [p.text for p in doc.paragraphs if p.style.name.startswith("Heading")]
    assert "Question 1: Do you agree with a statutory footing?" in headings
    assert "Question 2: Which approach do you favour now?" in headings
    assert "Suggested position (draft)" in headings
    assert len(doc.inline_shapes) >= len(draft.questions)
    assert len(doc.tables) == 3  # q1 by network and by region, q2 by network
    first = doc.tables[0]
    assert [c.text for c in first.rows[0].cells] == [
        "Network",
        "Answered",
        "Supportive",
        "Undecided",
        "Disagree",
    ]
    assert first.style.name == "Light Grid Accent 1"
    quotes = [p for p in doc.paragraphs if p.style.name == "Quote"]
    assert [p.text for p in quotes] == [
        "“We have no staff | at all *really*.” — Dr Named Person, Named ICS"
    ]
    assert quotes[0].runs[0].italic
    text = "\n".join(p.text for p in doc.paragraphs)
    assert "Almost two thirds (62.5 per cent) of respondents were supportive" in text
    # The appendix keeps the unquotable comment (without its control character) but no name.
    assert "Disagree: Keep this between us, please." in text
    assert "Quiet Person" not in text and "Quiet Trust" not in text


def test_docx_of_an_anonymous_consultation_attributes_nothing() -> None:
    doc = Document(io.BytesIO(render_docx(_draft(anonymous=True))))
    text = "\n".join(p.text for p in doc.paragraphs)
    for name in ("Named Person", "Named ICS", "Quiet Person", "U1", "U2"):
        assert name not in text
    assert "The consultation was anonymous, so no comment is attributed." in text
