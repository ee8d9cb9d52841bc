"""Matrix questions: one choice per row, counted per row, exported one line per row, read back."""

from __future__ import annotations

import csv
import io
import json

import pytest

from bot.answering.answers import AnswerInput, Submission, record_submission, validate_answers
from bot.answering.importing import import_answers
from bot.consultations.catalogue import add_consultation, get_consultation
from bot.consultations.directory import load_directory
from bot.consultations.files import FileFormatError, parse_consultation, parse_directory
from bot.reporting.aggregation import aggregate
from bot.reporting.exports.data import export_csv, export_json
from storage.db import Database

DIRECTORY = """
staff: [U01STAFF]
regions:
  - {id: north-west, name: North West}
  - {id: london, name: London}
networks:
  - {id: ccg-network, name: CCG Network, channel: C01CCG}
  - {id: ics-network, name: ICS Network, channel: C01ICS}
"""

CONSULTATION = """
id: asks
title: "Our asks of the white paper"
deadline: 2030-01-08T17:00
timezone: Europe/London
questions:
  - id: levers
    text: "For each ask, which lever should deliver it?"
    kind: matrix
    rows: ["Guarantee clinical leadership", "Phased transfer of commissioning", "Protect GP voice"]
    options:
      - {value: legislation, label: Legislation}
      - {value: guidance, label: Guidance}
      - {value: local, label: Local determination, phrase: determining it locally}
      - {value: not-needed, label: Not needed}
"""
ROWS = ("guarantee-clinical-leadership", "phased-transfer-of-commissioning", "protect-gp-voice")
# (network, region, legislation-or-not per row): 10 members.
CHOICES = [
    ("legislation", "guidance", "legislation"),
    ("legislation", "guidance", "guidance"),
    ("legislation", "local", "guidance"),
    ("legislation", "local", "legislation"),
    ("legislation", "guidance", "not-needed"),
    ("guidance", "local", "legislation"),
    ("legislation", "guidance", "guidance"),
    ("legislation", "local", "local"),
    ("guidance", "legislation", "legislation"),
    ("legislation", "guidance", "guidance"),
]


async def record(db: Database) -> None:
    await load_directory(db, parse_directory(DIRECTORY))
    await add_consultation(db, parse_consultation(CONSULTATION), default_timezone="Europe/London")
    view = await get_consultation(db, "asks")
    async with db.session() as session:
        for i, chosen in enumerate(CHOICES):
            answer = AnswerInput(
                comment="Legislate for clinical leadership." if i == 0 else None,
                rows=tuple(zip(ROWS, chosen, strict=True)),
            )
            await record_submission(
                session,
                Submission(
                    view,
                    {"levers": answer},
                    user_id=f"UMEMBER{i:02d}",
                    networks=["ccg-network" if i < 6 else "ics-network"],
                    region_id="north-west" if i % 2 else "london",
                    quote_consent="anonymous",
                ),
                anon_secret="k",
            )


def test_rows_are_slugged_and_a_matrix_too_big_for_the_modal_is_refused() -> None:
    spec = parse_consultation(CONSULTATION)
    assert [r.value for r in spec.questions[0].rows] == list(ROWS)
    assert spec.questions[0].options[2].phrase == "determining it locally"
    too_many = CONSULTATION.replace(
        'rows: ["Guarantee clinical leadership", "Phased transfer of commissioning", '
        '"Protect GP voice"]',
        "rows: [" + ", ".join(f"Ask {i}" for i in range(92)) + "]",
    )
    with pytest.raises(FileFormatError) as refused:
        parse_consultation(too_many)
    [problem] = refused.value.problems
    assert problem.startswith("questions: ")
    assert "101 blocks and Slack allows 100" in problem
    assert "'levers' have 92 rows, remove at least 1" in problem


async def test_every_row_must_be_answered_with_one_of_the_options(db: Database) -> None:
    await record(db)
    view = await get_consultation(db, "asks")
    partial = AnswerInput(rows=((ROWS[0], "legislation"),))
    problem = validate_answers(view, {"levers": partial})["levers"]
    assert problem.part == f"row:{ROWS[1]}"
    wrong = AnswerInput(rows=tuple((r, "maybe") for r in ROWS))
    assert validate_answers(view, {"levers": wrong})["levers"].part == f"row:{ROWS[0]}"


async def test_rows_are_counted_overall_by_network_and_by_region(db: Database) -> None:
    await record(db)
    result = await aggregate(db, "asks")
    levers = result.question("levers")
    assert levers.answered == 10
    assert levers.rows is not None
    first = levers.rows[ROWS[0]]
    assert first.counts == {"legislation": 8, "guidance": 2, "local": 0, "not-needed": 0}
    assert first.percentages["legislation"] == 80.0
    ccg = levers.by_network["ccg-network"].rows
    assert ccg is not None and ccg[ROWS[1]].counts["local"] == 3
    london = levers.by_region["london"].rows
    assert london is not None and london[ROWS[2]].answered == 5

    data = json.loads(export_json(result))["questions"][0]
    assert "counts" not in data
    assert data["rows"][ROWS[0]] == {
        "text": "Guarantee clinical leadership",
        "answered": 10,
        "counts": first.counts,
        "percentages": {"legislation": 80.0, "guidance": 20.0, "local": 0.0, "not-needed": 0.0},
    }


async def test_csv_has_a_line_per_row_and_reads_back_to_the_same_figures(db: Database) -> None:
    await record(db)
    before = await aggregate(db, "asks")
    text = (await export_csv(db, "asks")).decode("utf-8-sig")
    lines = list(csv.DictReader(io.StringIO(text)))
    assert len(lines) == 30
    first = [row for row in lines if row["respondent"] == "UMEMBER00"]
    assert [(r["matrix row"], r["answer value"]) for r in first] == [
        ("Guarantee clinical leadership", "legislation"),
        ("Phased transfer of commissioning", "guidance"),
        ("Protect GP voice", "legislation"),
    ]
    assert [r["comment"] for r in first] == ["Legislate for clinical leadership.", "", ""]

    # Read into a second consultation with the same questions: the same figures come out.
    await add_consultation(
        db,
        parse_consultation(CONSULTATION.replace("id: asks", "id: again")),
        default_timezone="Europe/London",
    )
    report = await import_answers(db, "again", text.replace("asks,", "again,"), anon_secret="k")
    assert report.problems == [] and report.respondents == 10
    after = await aggregate(db, "again")
    assert after.question("levers").rows == before.question("levers").rows

    # A respondent missing a row is refused, with the line and the row's problem.
    missing = "\n".join(
        line
        for line in text.replace("asks,", "again,").splitlines()
        if "GP voice" not in line or "UMEMBER03" not in line
    )
    report = await import_answers(db, "again", missing, anon_secret="k")
    assert [str(p) for p in report.problems] == [
        "line 11: question 'levers', row 'Protect GP voice': Please choose an answer for this row."
    ]
