"""The README's first command: `consultbot demo` plays the whole flow offline (SQLite and the
sandbox Slack, no credentials) and writes the transcript and every export. About a minute: the
demo waits for its consultation's reminders and deadline in real time."""

from __future__ import annotations

import json
from pathlib import Path

from docx import Document
from openpyxl import load_workbook
from typer.testing import CliRunner

from bot.app.cli import app


def test_demo_runs_the_whole_flow_and_writes_every_export(tmp_path: Path) -> None:
    out = tmp_path / "demo-output"
    result = CliRunner().invoke(app, ["demo", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "members answered" in result.output

    aggregate = json.loads((out / "aggregate.json").read_text())
    assert aggregate["consultation"]["status"] == "closed"  # the deadline passed during the demo
    assert aggregate["respondents"] > 0
    assert sum(n["respondents"] for n in aggregate["networks"].values()) >= aggregate["respondents"]
    for question in aggregate["questions"]:
        assert question["answered"] <= aggregate["respondents"]

    transcript = (out / "transcript.md").read_text()
    for seen in (
        "went out as scheduled",  # the scheduled launch, told to the staff member
        "is recorded",
        "*Reminder:*",
        "*South West* is quiet",  # the quiet region escalated to its lead
        "From the FAQ",  # a thread question answered from the FAQ
        "the policy team (<@U01STAFF01>) answered your question",  # one passed to staff
        "# Summary:",
        ":lock: *Closed*",
    ):
        assert seen in transcript, f"the transcript never shows {seen!r}"
    # Each network's size is its channel's people (not its bots), the same in the export as in
    # the reminders the channel saw ("8 of 17 members of the ICS Network have responded").
    for network in aggregate["networks"].values():
        assert network["members_source"] == "slack"
        assert f"of {network['members']} members of the {network['name']}" in transcript

    rows = (out / "responses.csv").read_text().splitlines()
    assert len(rows) > aggregate["respondents"]  # a header, then at least a row per respondent
    assert load_workbook(out / "responses.xlsx").active.max_row == len(rows)
    draft = Document(str(out / "draft-response.docx"))
    assert aggregate["consultation"]["title"] in "\n".join(p.text for p in draft.paragraphs)
    assert (out / "draft-response.md").read_text().startswith("#")
    assert sorted(p.suffix for p in (out / "charts").iterdir()) == [".png"] * len(
        aggregate["questions"]
    )
