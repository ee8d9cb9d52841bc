"""Members across three networks comment on the integration proposals; a policy officer reviews
the themes in Slack, merges two that are one subject and renames the result; the edits survive
new answers arriving and reach the JSON, CSV, Markdown and Word exports."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from docx import Document
from sqlmodel import select

from bot.answering.answers import AnswerInput, Submission, record_submission
from bot.consultations.catalogue import get_consultation
from bot.demo.sandbox import render_blocks_as_text
from bot.demo.sandbox.harness import Harness
from bot.reporting.exports import write_export
from bot.reporting.theme_blocks import QUESTION_ACTION
from storage.models import AuditEntry
from tests.unit.bot.reporting.test_codebook import STANCES, TWO_POINTS, comment_of

STAFF = "U01STAFF01"
MEMBER = "U0M001"
NETWORKS = ["ics-network", "mental-health-network", "pcn-network"]
NEW_NAME = "Pooled budgets for health and social care"


def member(i: int) -> str:
    return f"U0TH{i:03d}"


async def plant_answers(harness: Harness, respondents: range) -> None:
    """Comments with known points (see test_codebook.comment_of), spread over three networks."""
    view = await get_consultation(harness.services.db, "integrating-care")
    async with harness.services.db.session() as session:
        for i in respondents:
            await record_submission(
                session,
                Submission(
                    view,
                    {"q1": AnswerInput(choice=STANCES[i % 4], comment=comment_of(i))},
                    user_id=member(i),
                    networks=[NETWORKS[i % 3]],
                    region_id="north-west" if i % 2 else "london",
                    display_name=f"Member {i}",
                    organisation=f"Trust {i}",
                    quote_consent="named" if i % 5 else "no",
                ),
                anon_secret="sandbox-anonymity-key",
            )


async def open_review(harness: Harness, user: str) -> dict[str, Any]:
    """Run `/consult themes integrating-care` and wait for the modal to show the codebook."""
    assert harness.driver is not None and harness.slack is not None
    opened = await harness.driver.open_modal_via(user, command_text="themes integrating-care")
    return await harness.slack.wait_for(
        lambda: (lambda v: v if "t1" in render_blocks_as_text(v["blocks"]) else None)(
            harness.slack.view_record(opened["id"]).view  # type: ignore[union-attr]
        ),
        timeout=20,
    )


def theme_options(view: dict[str, Any]) -> dict[str, str]:
    """Theme id -> label, from the modal's theme picker ("t3 · Label")."""
    block = next(b for b in view["blocks"] if b.get("block_id") == "theme")
    return {o["value"]: o["text"]["text"].split(" · ", 1)[1] for o in block["element"]["options"]}


async def test_staff_review_themes_in_slack_and_the_edits_reach_every_export(
    harness: Harness, tmp_path: Path
) -> None:
    assert harness.driver is not None and harness.slack is not None
    await plant_answers(harness, range(40))

    # A member may not review themes.
    refused = await harness.driver.slash_command(MEMBER, "themes integrating-care")
    assert "Only policy staff" in refused.body

    view = await open_review(harness, STAFF)
    shown = render_blocks_as_text(view["blocks"])
    assert "respondents" in shown and "supportive" in shown
    labels = theme_options(view)
    # The labels name the points members made.
    for subject in ("budget", "workforce", "data sharing", "public health"):
        assert any(subject in label.lower() for label in labels.values()), (subject, labels)
    pooled = next(tid for tid, label in labels.items() if "budget" in label.lower())
    # The estates comments came out as two themes (capital, buildings): one subject.
    estates = [
        tid for tid, label in labels.items() if {"capital", "estates"} & set(label.lower().split())
    ]
    keep, absorb = estates[:2]

    # Picking the question in the modal (block_actions) shows its codebook again.
    chosen = await harness.driver.choose_in_view(STAFF, view, QUESTION_ACTION, "q1")
    assert chosen.status == 200

    reply = await harness.driver.submit_view(
        STAFF, view, {"edit": "merge", "theme": absorb, "other": keep}
    )
    assert reply.status == 200 and reply.json["response_action"] == "update"
    view = harness.slack.view_record(view["id"]).view  # type: ignore[union-attr]
    assert f"Merged {absorb} into {keep}" in render_blocks_as_text(view["blocks"])
    assert absorb not in theme_options(view)

    reply = await harness.driver.submit_view(
        STAFF, view, {"edit": "rename", "theme": pooled, "label": NEW_NAME}
    )
    assert reply.json["response_action"] == "update"
    view = harness.slack.view_record(view["id"]).view  # type: ignore[union-attr]
    assert theme_options(view)[pooled] == NEW_NAME

    # A rename clashing with another theme is refused on the field, nothing changes.
    other = next(tid for tid in theme_options(view) if tid != pooled)
    clash = await harness.driver.submit_view(
        STAFF, view, {"edit": "rename", "theme": other, "label": NEW_NAME.upper()}
    )
    assert clash.json["response_action"] == "errors" and "label" in clash.json["errors"]

    # New answers arrive (some making two points): the codebook is rebuilt, the edits stay.
    await plant_answers(harness, range(40, 46))
    out = tmp_path / "exports"
    for fmt in ("json", "csv", "md", "docx"):
        await write_export(harness.services.db, "integrating-care", fmt, out / f"x.{fmt}")

    q1 = json.loads((out / "x.json").read_text())["questions"][0]
    by_id = {t["id"]: t for t in q1["themes"]}
    renamed = by_id[pooled]
    assert renamed["label"] == NEW_NAME and renamed["edited"] is True
    assert absorb not in by_id and by_id[keep]["edited"] is True
    assert renamed["count"] == len(renamed["respondents"])
    assert sum(renamed["stance"].values()) == renamed["count"]
    assert set(renamed["stance"]) == {"supportive", "undecided", "disagree"}
    two_points = {member(i) for i in TWO_POINTS}
    coded_both = [
        ref for ref in two_points if sum(ref in t["respondents"] for t in q1["themes"]) >= 2
    ]
    assert len(coded_both) == len(two_points), "a comment making two points counts in both"

    rows = list(csv.DictReader(io.StringIO((out / "x.csv").read_text(encoding="utf-8-sig"))))
    q1_rows = {r["respondent"]: r for r in rows if r["question id"] == "q1"}
    assert all(q1_rows[ref]["themes"].count("; ") >= 1 for ref in two_points)
    assert any(NEW_NAME in r["themes"] for r in q1_rows.values())
    assert all(set(r["themes"].split("; ")) <= {t["label"] for t in q1["themes"]} | {""}
               for r in q1_rows.values())  # fmt: skip

    markdown = (out / "x.md").read_text()
    assert NEW_NAME in markdown
    assert "supportive" in markdown or "opposed" in markdown
    word = "\n".join(p.text for p in Document(str(out / "x.docx")).paragraphs)
    assert NEW_NAME in word

    async with harness.services.db.session() as session:
        entries = (await session.exec(select(AuditEntry))).all()
    edits = [(e.action, e.actor) for e in entries if e.action.startswith("themes.")]
    assert ("themes.merge", STAFF) in edits and ("themes.rename", STAFF) in edits
