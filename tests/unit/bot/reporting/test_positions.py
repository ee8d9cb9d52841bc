"""Positions table and key points: levers chosen per ask, "no clear view", checked figures."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from docx import Document

from bot.reporting.aggregation import Aggregate, breakdown_of
from bot.reporting.drafting import (
    POSITION_LEAD,
    FigureCheckError,
    build_draft,
    leading_option,
    render_markdown,
    verify_figures,
)
from bot.reporting.exports.draft_docx import render_docx

LEVERS = ["legislation", "guidance", "local", "not-needed"]
LABELS = ["Legislation", "Guidance", "Local determination", "Not needed"]


def test_a_lever_leads_only_by_the_margin() -> None:
    assert POSITION_LEAD == 10.0
    assert leading_option({"legislation": 6, "guidance": 4}, 20, LEVERS) == "legislation"
    # 5 against 4 of 20 is a 5-point lead: no clear view; a tie never leads.
    assert leading_option({"legislation": 5, "guidance": 4}, 20, LEVERS) is None
    assert leading_option({"legislation": 5, "guidance": 5}, 10, LEVERS) is None
    assert leading_option({}, 0, LEVERS) is None
    # Exactly 10 points (exact counts) is enough.
    assert leading_option({"guidance": 7, "local": 6}, 10, LEVERS) == "guidance"


def row(text: str, counts: list[int]) -> dict[str, Any]:
    answered = sum(counts)
    b = breakdown_of("matrix", LEVERS, answered, dict(zip(LEVERS, counts, strict=True)))
    return {"text": text, **b.model_dump(exclude={"grouped", "rows"})}


def aggregate_of() -> Aggregate:
    stance = {"strongly_agree": 10, "agree": 21, "undecided": 4, "disagree": 4}
    stance["strongly_disagree"] = 1
    return Aggregate.model_validate(
        {
            "consultation": {"id": "asks", "title": "Our asks", "deadline": "", "status": "open"},
            "respondents": 40,
            "questions": [
                {
                    "id": "q1",
                    "text": "Do you back the white paper?",
                    "kind": "stance",
                    "answered": 40,
                    "counts": stance,
                    "percentages": {k: v * 2.5 for k, v in stance.items()},
                },
                {
                    "id": "levers",
                    "text": "Which lever should deliver each ask?",
                    "kind": "matrix",
                    "answered": 20,
                    "options": [
                        {"value": v, "label": label}
                        for v, label in zip(LEVERS, LABELS, strict=True)
                    ],
                    "rows": {
                        "clinical-leadership": row("Guarantee clinical leadership", [17, 2, 1, 0]),
                        "commissioning": row("Phased transfer of commissioning", [2, 8, 8, 2]),
                    },
                    "themes": [{"label": "clinical voice", "count": 6, "quotes": []}],
                    "comments": 9,
                },
            ],
        }
    )


def test_the_positions_table_gives_each_ask_its_lever_or_no_clear_view() -> None:
    export = aggregate_of()
    draft = build_draft(export, {}, with_charts=True)
    verify_figures(draft, export)
    matrix = draft.questions[1]
    [table] = matrix.tables
    assert table.caption == "Proposed positions"
    assert table.header == ["Ask", "Answered", *LABELS, "Proposed position"]
    assert [c.text for c in table.rows[0]] == [
        "Guarantee clinical leadership",
        "20",
        "85%",
        "10%",
        "5%",
        "0%",
        "Legislation",
    ]
    assert [c.text for c in table.rows[1]][-1] == "No clear view"
    assert "where members gave no clear view" in matrix.position[0].text
    assert matrix.chart is not None and matrix.chart.png.startswith(b"\x89PNG")

    text, _ = render_markdown(draft)
    assert "| Guarantee clinical leadership | 20 | 85% | 10% | 5% | 0% | Legislation |" in text
    doc = Document(io.BytesIO(render_docx(draft)))
    cells = [[c.text for c in r.cells] for t in doc.tables for r in t.rows]
    assert [
        "Phased transfer of commissioning",
        "20",
        "10%",
        "40%",
        "40%",
        "10%",
        "No clear view",
    ] in cells


def test_key_points_open_the_draft_and_are_checked_like_any_figure() -> None:
    export = aggregate_of()
    draft = build_draft(export, {}, with_charts=False)
    points = [p.text for p in draft.key_points]
    assert 3 <= len(points) <= 6
    # Only two findings stand out (no question divides members, no group differs), so the
    # response count makes the third.
    assert points[0] == "40 members responded."
    assert points[1] == (
        "The clearest consensus was on question 2: over eight out of ten (85 per cent) of "
        "respondents chose legislation for “Guarantee clinical leadership”."
    )
    assert (
        "The theme raised most often on question 2 was clinical voice, by 6 respondents." in points
    )
    text, _ = render_markdown(draft)
    assert text.index("## Key points") < text.index("## Introduction")

    # Were the data to change under the draft, the key point's figure would fail its check.
    changed = export.model_copy(deep=True)
    rows = changed.questions[1].rows
    assert rows is not None
    rows["clinical-leadership"].counts["legislation"] = 12
    with pytest.raises(FigureCheckError, match=re.escape("key point 2")):
        verify_figures(draft, changed)


def test_a_leads_summary_gives_each_asks_most_chosen_lever() -> None:
    from bot.reporting.blocks import summary_blocks

    blocks = summary_blocks(
        aggregate_of(), scope_label="All regions", network_names={}, share_value=None
    )
    text = blocks[-1]["text"]["text"]
    assert "20 respondents chose an option for each of 2 rows" in text
    assert "85 per cent Guarantee clinical leadership: Legislation" in text
