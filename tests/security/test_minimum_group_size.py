"""Finding 1: in an anonymous consultation, a group smaller than CONSULTBOT_MIN_GROUP is never
shown on its own: a lone South West respondent is invisible in every output (JSON, CSV, XLSX,
Markdown, Word, Slack summary) and to the South West lead, and the answer sheet has no
network x region combination that singles anyone out."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from pathlib import Path

from docx import Document
from openpyxl import load_workbook

from bot.answering.answers import AnswerInput, Submission, record_submission
from bot.consultations.catalogue import add_consultation, get_consultation
from bot.consultations.directory import load_directory
from bot.consultations.files import parse_consultation, parse_directory
from bot.core.permissions import Actor
from bot.core.settings import Settings
from bot.reporting.exports import write_export
from bot.reporting.summary import build_summary
from bot.slack.text import escape
from storage.db import Database
from tests.conftest import wired_services

DIRECTORY = """
staff: [U01STAFF]
regions:
  - {id: london, name: London, leads: [U0LEADLDN]}
  - {id: north-west, name: North West, leads: [U0LEADNW]}
  - {id: south-west, name: South West, leads: [U0LEADSW]}
networks:
  - {id: ics-network, name: ICS Network, channel: C01ICS}
  - {id: mental-health-network, name: Mental Health Network, channel: C01MHN}
"""
POLL = """
id: poll
title: "Integrating care"
deadline: 2030-01-08T17:00
timezone: Europe/London
anonymous: true
networks: [ics-network, mental-health-network]
questions:
  - {id: q1, text: "Do you agree with a statutory footing?", kind: stance}
"""
# Six in London (ICS), five in the North West (ICS), and one in the South West (Mental Health
# Network) who disagrees strongly and says so in words only they would use.
RESPONDENTS = [
    *[("london", "ics-network", "agree") for _ in range(6)],
    *[("north-west", "ics-network", "agree") for _ in range(5)],
    ("south-west", "mental-health-network", "strongly_disagree"),
]
LONE_COMMENT = "As the only mental health trust in Cornwall we cannot support this."


async def _poll(db: Database) -> None:
    await load_directory(db, parse_directory(DIRECTORY))
    await add_consultation(db, parse_consultation(POLL), default_timezone="Europe/London")
    view = await get_consultation(db, "poll")
    async with db.session() as session:
        for i, (region, network, stance) in enumerate(RESPONDENTS):
            comment = LONE_COMMENT if region == "south-west" else f"Comment {i} about budgets."
            await record_submission(
                session,
                Submission(
                    view,
                    {"q1": AnswerInput(choice=stance, comment=comment)},
                    user_id=f"U0P{i:03d}",
                    networks=[network],
                    region_id=region,
                ),
                anon_secret="key",
            )


def _revealing(text: str) -> list[str]:
    return [
        word
        for word in ("South West", "south-west", "Mental Health Network", "mental-health-network")
        if word in text
    ]


async def test_lone_south_west_respondent_is_invisible_in_every_export(
    db: Database, tmp_path: Path
) -> None:
    await _poll(db)
    written = {}
    for fmt in ("json", "csv", "xlsx", "md", "docx"):
        (written[fmt], *_charts) = await write_export(
            db, "poll", fmt, tmp_path / f"out.{fmt}", min_group=5
        )
    data = json.loads(written["json"].read_text())
    q1 = data["questions"][0]
    # Folded into "other" with the smallest group shown, so it cannot be subtracted out.
    assert set(q1["by_region"]) == {"london", "other"}
    assert q1["by_region"]["other"]["suppressed"] is True
    assert q1["by_region"]["other"]["answered"] >= 5
    assert set(q1["by_network"]) == {"ics-network", "other"} or set(q1["by_network"]) == {"other"}
    assert data["regions"]["other"]["respondents"] >= 5
    assert not _revealing(json.dumps({k: v for k, v in data.items() if k != "consultation"}))
    sheet = written["xlsx"]
    cells = " ".join(
        str(cell)
        for ws in load_workbook(sheet).worksheets
        for row in ws.iter_rows(values_only=True)
        for cell in row
        if cell is not None
    )
    assert not _revealing(cells)
    assert not _revealing(written["csv"].read_text(encoding="utf-8-sig"))
    assert not _revealing(written["md"].read_text())
    document = Document(str(written["docx"]))
    docx_text = "\n".join(p.text for p in document.paragraphs) + "\n".join(
        cell.text for table in document.tables for row in table.rows for cell in row.cells
    )
    assert not _revealing(docx_text)


async def test_anonymous_csv_has_no_network_and_region_row_that_singles_anyone_out(
    db: Database, tmp_path: Path
) -> None:
    await _poll(db)
    (path,) = await write_export(db, "poll", "csv", tmp_path / "out.csv", min_group=5)
    rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
    people = {r["respondent"]: (r["networks"], r["region"]) for r in rows}
    combos = Counter(people.values())
    assert len(people) == len(RESPONDENTS)
    assert min(combos.values()) >= 5, combos
    # The lone respondent's comment is there, but nothing says where it came from.
    lone = next(r for r in rows if r["comment"] == LONE_COMMENT)
    assert lone["region"] == "other" and lone["networks"] == "other"


async def test_south_west_lead_sees_only_that_there_are_fewer_than_five(db: Database) -> None:
    await _poll(db)
    services = wired_services(db, Settings(SLACK_BOT_TOKEN="x", CONSULTBOT_MIN_GROUP=5))
    lead = Actor("U0LEADSW", lead_regions=frozenset({"south-west"}))
    summary = await build_summary(services, lead, "poll", None)
    text = json.dumps(summary.blocks)
    assert "Fewer than 5 responses so far" in text
    for revealing in ("Disagree", "100", escape(LONE_COMMENT), "Mental Health Network"):
        assert revealing not in text
    assert summary.chart_png is None
    # Staff see the whole picture with the South West folded away.
    staff = await build_summary(services, Actor("U01STAFF", is_staff=True), "poll", None)
    assert "Mental Health Network" not in json.dumps(staff.blocks)
    assert "Other networks" in json.dumps(staff.blocks)


def test_a_folded_matrix_group_carries_the_rows_of_everyone_folded_not_one_groups_own() -> None:
    """Before, "other" kept the first small group's own per-row counts: its members' levers."""
    from bot.reporting.aggregation import Breakdown
    from bot.reporting.suppression import OTHER, _fold

    def group(answered: int, legislation: int) -> Breakdown:
        row = Breakdown(
            answered=answered,
            counts={"legislation": legislation, "guidance": answered - legislation},
            percentages={},
        )
        return row.model_copy(update={"rows": {"clinical-leadership": row}})

    groups = {"south-west": group(1, 1), "london": group(2, 0), "north-west": group(9, 3)}
    shown = _fold(groups, {"south-west", "london"})
    other = shown[OTHER]
    assert other.suppressed and other.answered == 3
    assert other.rows is not None
    row = other.rows["clinical-leadership"]
    assert (row.answered, row.counts["legislation"]) == (3, 1)
    assert set(shown) == {"north-west", OTHER}
