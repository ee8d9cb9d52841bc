"""Commissioners say, ask by ask, which lever should deliver it: they answer the matrix in the
Slack modal (and one is told to finish a row they skipped), the JSON rows and CSV lines agree
with what they chose, and the Word draft staff get in their DM opens with key points and gives
the positions table, saying "No clear view" where two levers tie."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from io import BytesIO
from pathlib import Path
from typing import Any

from docx import Document

from bot.demo.sandbox import render_blocks_as_text
from bot.demo.sandbox.harness import EXAMPLES, Harness
from bot.reporting.exports import write_export
from storage.models import utcnow

STAFF = "U01STAFF01"
CHANNEL = "C0NHSCC"
MEMBERS = [f"U0CCG{n:02d}" for n in range(10)]
ASKS = "levers"
# The first ask goes to legislation (8 of 10); the second ties guidance and local determination
# (4 each): no clear view. Every other ask: national guidance.
CLINICAL = "clinical-leadership-guaranteed-on-the-board-of-each-ics-nhs-body"
LAY = "lay-and-non-executive-members-given-a-clear-role-in-ics-governance"
CHOICES = {
    CLINICAL: ["legislation"] * 8 + ["guidance"] * 2,
    LAY: ["guidance"] * 4 + ["local"] * 4 + ["not-needed"] * 2,
}


def _values(view: dict[str, Any], n: int, *, skip: str | None = None) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for block in view["blocks"]:
        block_id = block.get("block_id", "")
        if block_id.startswith(f"row:{ASKS}:"):
            row = block_id.removeprefix(f"row:{ASKS}:")
            if row != skip:
                values[block_id] = CHOICES.get(row, ["guidance"] * 10)[n]
        elif block_id == "choice:overall":
            values[block_id] = "agree"
        elif block_id == "choice:approach":
            values[block_id] = "phased"
        elif block_id == f"comment:{ASKS}" and n == 0:
            values[block_id] = "Clinical leadership must be in the bill, not left to guidance."
        elif block_id == "consent":
            values[block_id] = "anonymous"
        elif block_id == "profile_region":
            values[block_id] = "london"
        elif block_id == "profile_organisation":
            values[block_id] = f"CCG {n}"
    return values


async def test_commissioners_choose_a_lever_per_ask_and_the_draft_gives_the_positions(
    harness: Harness, tmp_path: Path
) -> None:
    assert harness.driver is not None and harness.slack is not None
    # The example closed in 2021: open it for three more days.
    await harness.add_consultation_file(
        EXAMPLES / "positions.yaml", deadline=utcnow() + timedelta(days=3)
    )
    for user in MEMBERS:
        harness.slack.add_user(user, name=user.lower(), real_name=f"Commissioner {user}")
    harness.slack.set_members(CHANNEL, [*harness.slack.channels[CHANNEL].members, *MEMBERS])
    await harness.driver.slash_command(STAFF, "launch white-paper-asks")
    await harness.slack.wait_for(lambda: harness.slack.top_level_messages(CHANNEL), timeout=15)
    post = harness.slack.top_level_messages(CHANNEL)[0]

    for n, user in enumerate(MEMBERS):
        view = await harness.driver.open_modal_via(user, "respond", message=post)
        rows = [b for b in view["blocks"] if b.get("block_id", "").startswith(f"row:{ASKS}:")]
        assert len(rows) == 8 and all(b["element"]["type"] == "radio_buttons" for b in rows)
        if n == 0:
            # A row left unanswered is pointed out next to that row; nothing is recorded.
            refused = await harness.driver.submit_view(user, view, _values(view, n, skip=LAY))
            assert refused.json["response_action"] == "errors"
            assert refused.json["errors"] == {
                f"row:{ASKS}:{LAY}": "Please choose an answer for this row."
            }
        response = await harness.driver.submit_view(user, view, _values(view, n))
        assert response.status == 200 and not (response.json or {}).get("errors"), response.body
    await harness.settle()

    db = harness.services.db
    (json_path,) = await write_export(db, "white-paper-asks", "json", tmp_path / "a.json")
    levers = next(q for q in json.loads(json_path.read_text())["questions"] if q["id"] == ASKS)
    assert levers["answered"] == 10 and "counts" not in levers
    assert levers["rows"][CLINICAL]["counts"] == {
        "legislation": 8,
        "guidance": 2,
        "local": 0,
        "not-needed": 0,
    }
    assert levers["rows"][LAY]["percentages"] == {
        "legislation": 0.0,
        "guidance": 40.0,
        "local": 40.0,
        "not-needed": 20.0,
    }
    assert levers["by_network"]["nhs-clinical-commissioners"]["rows"][CLINICAL]["answered"] == 10

    (csv_path,) = await write_export(db, "white-paper-asks", "csv", tmp_path / "r.csv")
    lines = list(csv.DictReader(io.StringIO(csv_path.read_text(encoding="utf-8-sig"))))
    matrix_lines = [line for line in lines if line["question id"] == ASKS]
    assert len(matrix_lines) == 10 * 8  # one line per respondent and ask
    clinical = [
        line["answer value"]
        for line in matrix_lines
        if line["matrix row"].startswith("Clinical leadership")
    ]
    assert sorted(clinical) == sorted(CHOICES[CLINICAL])

    # Staff ask for the Word draft in Slack: it arrives in their DM.
    await harness.driver.slash_command(STAFF, "export white-paper-asks docx")
    await harness.slack.wait_for(
        lambda: any(
            "Sent" in render_blocks_as_text(m.blocks) + (m.text or "")
            for m in harness.slack.ephemerals(STAFF)
        ),
        timeout=60,
    )
    await harness.settle()
    document = Document(BytesIO(harness.slack.files_shared(STAFF)[-1].content))
    headings = [p.text for p in document.paragraphs if p.style.name.startswith("Heading")]
    assert headings.index("Key points") < headings.index("Introduction")
    table = next(t for t in document.tables if t.rows[0].cells[0].text == "Ask")
    rows = {r.cells[0].text: [c.text for c in r.cells[1:]] for r in table.rows[1:]}
    assert rows["Clinical leadership guaranteed on the board of each ICS NHS body"] == [
        "10",
        "80%",
        "20%",
        "0%",
        "0%",
        "Legislation",
    ]
    assert rows["Lay and non-executive members given a clear role in ICS governance"] == [
        "10",
        "0%",
        "40%",
        "40%",
        "20%",
        "No clear view",
    ]
    assert document.inline_shapes  # the stacked bars per ask
    assert not harness.slack.invalid_payloads
