"""The poll of system leaders, answered through Slack, becomes the formal response: the JSON
export carries the published shares, the draft states them in house style, staff get the Word
file in their DM, and nothing in it names an anonymous respondent."""

from __future__ import annotations

import json
from datetime import timedelta
from io import BytesIO
from pathlib import Path
from typing import Any

import openpyxl
from docx import Document

from bot.demo.sandbox import render_blocks_as_text
from bot.demo.sandbox.harness import Harness
from bot.reporting.exports import write_export
from storage.models import utcnow

STAFF = "U01STAFF01"
APPROACHES = (
    ["voluntary-partnerships"] * 9 + ["middle-way"] * 20 + ["statutory-integrated-authorities"] * 11
)
PLACE_FIRST = (["strongly_agree"] * 10 + ["agree"] * 15 + ["undecided"] * 8 + ["disagree"] * 5) + [
    "strongly_disagree"
] * 2
LEADERS = [f"U0POLL{n:02d}" for n in range(40)]
COMMENTS = [
    "Workforce shortages across the system must come first",
    "Pooled budgets with local authorities would unlock real integration",
    "Data sharing agreements are still the biggest practical barrier",
    '=HYPERLINK("http://evil.example","click")',
]


def _values(view: dict[str, Any], n: int) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for block in view["blocks"]:
        block_id = block.get("block_id", "")
        if block_id == "choice:approach_before":
            values[block_id] = "middle-way"
        elif block_id == "choice:approach_now":
            values[block_id] = APPROACHES[n]
        elif block_id == "choice:place_first":
            values[block_id] = PLACE_FIRST[n]
        elif block_id.startswith("choice:") and block["element"]["type"] == "radio_buttons":
            values[block_id] = "agree"
        elif block_id.startswith("choice:"):
            values[block_id] = ["data-sharing-agreements"]
        elif block_id == "comment:place_first":
            values[block_id] = f"{COMMENTS[n % len(COMMENTS)]} (leader {n})"
        elif block_id == "comment:advice":
            values[block_id] = "Keep the focus on place-based working."
        elif block_id == "consent":
            values[block_id] = "anonymous"
        elif block_id == "profile_region":
            values[block_id] = "north-west" if n % 2 else "london"
        elif block_id == "profile_organisation":
            values[block_id] = f"Secret Organisation {n}"
    return values


async def test_the_poll_through_slack_becomes_the_formal_response(
    harness: Harness, tmp_path: Path
) -> None:
    assert harness.driver is not None and harness.slack is not None
    for user in LEADERS:
        harness.slack.add_user(user, name=user.lower(), real_name=f"Leader {user}")
    channel = harness.slack.channels["C0ICSNET"]
    harness.slack.set_members("C0ICSNET", [*channel.members, *LEADERS])
    async with harness.services.db.session() as session:
        from storage.models import Consultation

        poll = await session.get(Consultation, "system-by-default")
        assert poll is not None
        poll.deadline = utcnow() + timedelta(days=3)
        session.add(poll)
    await harness.driver.slash_command(STAFF, "launch system-by-default")
    await harness.slack.wait_for(lambda: harness.slack.top_level_messages("C0ICSNET"), timeout=15)
    post = harness.slack.top_level_messages("C0ICSNET")[0]
    for n, user in enumerate(LEADERS):
        view = await harness.driver.open_modal_via(user, "respond", message=post)
        response = await harness.driver.submit_view(user, view, _values(view, n))
        assert response.status == 200 and not (response.json or {}).get("errors"), response.body
    await harness.settle()

    db = harness.services.db
    (json_path,) = await write_export(db, "system-by-default", "json", tmp_path / "a.json")
    exported = json.loads(json_path.read_text())
    assert exported["respondents"] == 40
    by_id = {q["id"]: q for q in exported["questions"]}
    assert by_id["approach_now"]["percentages"] == {
        "voluntary-partnerships": 22.5,
        "middle-way": 50.0,
        "statutory-integrated-authorities": 27.5,
    }
    assert by_id["place_first"]["grouped"]["percentages"] == {
        "supportive": 62.5,
        "undecided": 20.0,
        "disagree": 17.5,
    }

    (md_path, *_charts) = await write_export(db, "system-by-default", "md", tmp_path / "d.md")
    markdown = md_path.read_text()
    assert "Just under a quarter (22.5 per cent)" in markdown
    assert "half (50 per cent)" in markdown
    assert "just over a quarter (27.5 per cent)" in markdown
    assert "Almost two thirds (62.5 per cent)" in markdown
    for secret in ("Secret Organisation", "Leader U0POLL", "U0POLL"):
        assert secret not in markdown

    (xlsx_path,) = await write_export(db, "system-by-default", "xlsx", tmp_path / "r.xlsx")
    sheet = openpyxl.load_workbook(xlsx_path).worksheets[0]
    cells = [c for row in sheet.iter_rows() for c in row if c.value]
    hyperlink = [c for c in cells if "HYPERLINK" in str(c.value)]
    assert hyperlink and all(c.data_type == "s" for c in hyperlink)
    assert not any("U0POLL" in str(c.value) or "Secret Organisation" in str(c.value) for c in cells)

    # Staff ask for the Word draft in Slack: it arrives in their DM and opens in Word.
    await harness.driver.slash_command(STAFF, "export system-by-default docx")
    await harness.slack.wait_for(
        lambda: any(
            "Sent" in render_blocks_as_text(m.blocks) + (m.text or "")
            for m in harness.slack.ephemerals(STAFF)
        ),
        timeout=60,
    )
    await harness.settle()
    shared = harness.slack.files_shared(STAFF)
    assert shared, "no file reached the staff member's DM"
    document = Document(BytesIO(shared[-1].content))
    assert len(document.inline_shapes) >= 1
    assert document.tables
    assert not harness.slack.invalid_payloads
