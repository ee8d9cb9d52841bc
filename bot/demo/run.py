"""`consultbot demo`: the whole flow offline, on SQLite and the sandbox Slack, in about a minute.

Staff schedule the Integrating Care consultation, which the scheduler launches into five network
channels a few seconds later (staff are told by DM), and launch the commissioners' network's asks
(examples/positions.yaml: which lever for each ask) into its channel; a few dozen simulated
members answer through the real modal (some edit), but nobody in the South West does; a member's
question in the post's thread is answered from the FAQ, another's goes to staff, who answer it
and add it to the FAQ; reminders reach only those who have not answered, and the South West's
lead hears that the region is quiet; a regional lead pulls a summary; the consultations close at
their deadline; staff export everything (the asks' draft, with its key points and positions
table, in positions/). What each channel and user saw is written to transcript.md.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from bot.app.runtime import RuntimeOptions
from bot.consultations.catalogue import ConsultationView, get_consultation, target_networks
from bot.demo.sandbox.harness import EXAMPLES, Harness
from bot.demo.simulation import QuestionSpec, SimulatedResponse, simulate_responses
from storage.models import utcnow

STAFF = "U01STAFF01"
LEAD = "U0LEADNW1"
LEAD_REGION = "north-west"
CONSULTATION = "integrating-care"
POSITIONS = "white-paper-asks"  # examples/positions.yaml: a matrix of asks x levers
POSITIONS_FOLDER = "positions"
DEADLINE_AFTER = timedelta(seconds=55)
REMINDERS = ["35s", "15s"]
EDIT_SHARE = 0.15
LAUNCH_IN = "+4s"
ESCALATE_BELOW = 0.3
QUIET_REGION = "south-west"  # its members do not answer: its lead hears of it at each reminder
FAQ_QUESTION = "Is a statutory ICS just a CCG under a new name?"
FAQ_ASKER = "U0M002"
STAFF_QUESTION = "Will ICSs get extra money to run the new partnership boards?"
STAFF_ASKER = "U0M009"
STAFF_ANSWER = (
    "Not as a separate budget: running costs come from the ICS NHS body's allocation. We will "
    "raise the pressure this puts on smaller systems in our response."
)

Progress = Callable[[str], None]


@dataclass
class DemoResult:
    out_dir: Path
    respondents: int = 0
    edits: int = 0
    position_respondents: int = 0
    files: list[Path] = field(default_factory=list)


def _questions(view: ConsultationView) -> list[QuestionSpec]:
    return [
        QuestionSpec(
            id=q.key,
            text=q.text,
            kind=q.kind,  # type: ignore[arg-type]
            options=[o.value for o in q.options] if q.kind != "stance" else [],
            comment=q.comment,  # type: ignore[arg-type]
            rows=[r.value for r in q.rows],
        )
        for q in view.questions
    ]


def modal_values(view: dict[str, Any], response: SimulatedResponse, org: str) -> dict[str, Any]:
    """What a member types into the modal the bot actually opened."""
    values: dict[str, Any] = {}
    for block in view.get("blocks", []):
        block_id = block.get("block_id", "")
        if block_id.startswith("choice:"):
            answer = response.answers.get(block_id.split(":", 1)[1])
            if answer is not None:
                values[block_id] = answer.choices if answer.choices else answer.choice
        elif block_id.startswith("row:"):
            _, question_key, row = block_id.split(":", 2)
            answer = response.answers.get(question_key)
            if answer is not None and row in answer.rows:
                values[block_id] = answer.rows[row]
        elif block_id.startswith("comment:"):
            answer = response.answers.get(block_id.split(":", 1)[1])
            if answer is not None and answer.comment:
                values[block_id] = answer.comment
        elif block_id == "consent":
            values[block_id] = response.quote_consent
        elif block_id == "profile_region":
            options = block["element"]["options"]
            values[block_id] = random.Random(response.member_id).choice(options)["value"]
        elif block_id == "profile_organisation":
            values[block_id] = org
    return values


async def run_demo(out_dir: Path, progress: Progress = lambda _: None) -> DemoResult:
    out_dir.mkdir(parents=True, exist_ok=True)
    database = out_dir / "demo.db"
    for leftover in out_dir.glob("demo.db*"):
        leftover.unlink()
    result = DemoResult(out_dir)
    harness = Harness(
        f"sqlite+aiosqlite:///{database}",
        options=RuntimeOptions(tick_seconds=1.0, per_channel_interval=0.2),
    )
    await harness.start()
    try:
        await _play(harness, result, progress)
    finally:
        assert harness.slack is not None
        (out_dir / "transcript.md").write_text(
            harness.slack.transcript_markdown(
                title="consultbot demo: what each channel and user saw"
            ),
            encoding="utf-8",
        )
        result.files.append(out_dir / "transcript.md")
        await harness.stop()
    return result


async def _play(h: Harness, result: DemoResult, progress: Progress) -> None:
    assert h.driver is not None and h.slack is not None
    progress("Loading the example workspace, directory and consultations")
    await h.load_examples()
    await h.add_consultation_file(EXAMPLES / "positions.yaml")
    # The examples' deadlines (in 2021) are moved to a minute from now, with reminders before
    # them, so the demo shows the whole life of a consultation.
    async with h.services.db.session() as session:
        from storage.models import Consultation

        for consultation_id in (CONSULTATION, POSITIONS):
            consultation = await session.get(Consultation, consultation_id)
            assert consultation is not None
            consultation.deadline = utcnow() + DEADLINE_AFTER
            consultation.reminders = REMINDERS
            if consultation_id == CONSULTATION:
                consultation.escalate_below = ESCALATE_BELOW
            session.add(consultation)

    progress("Staff schedule Integrating care; the scheduler launches it a few seconds later")
    await h.driver.slash_command(STAFF, f"launch {CONSULTATION} at {LAUNCH_IN}")
    await h.driver.slash_command(STAFF, "list")
    await h.slack.wait_for(
        lambda: any("went out as scheduled" in (m.text or "") for m in h.slack.dm_messages(STAFF)),
        timeout=30,
    )
    await h.settle(timeout=60)
    progress("Staff launch the commissioners' asks: which lever for each")
    await h.driver.slash_command(STAFF, f"launch {POSITIONS}")
    await h.settle(timeout=60)

    view = await get_consultation(h.services.db, CONSULTATION)
    members = sorted(
        {
            user
            for channel in h.slack.channels.values()
            if not channel.is_im
            for user in channel.members
            if not h.slack.users[user].is_bot and not h.slack.users[user].deleted
        }
    )
    simulated = simulate_responses(_questions(view), members, seed=11, response_rate=0.72)
    quiet = await _members_of_region(h, QUIET_REGION)
    simulated = {m: r for m, r in simulated.items() if m not in quiet}
    progress(f"{len(simulated)} of {len(members)} members answer through the modal")
    rng = random.Random(5)
    for member, response in simulated.items():
        channel = next(
            c.id for c in h.slack.channels.values() if not c.is_im and member in c.members
        )
        post = h.slack.top_level_messages(channel)[0]
        modal = await h.driver.open_modal_via(member, "respond", message=post)
        if modal.get("callback_id") != "consultation_response":
            continue
        await h.driver.submit_view(member, modal, modal_values(modal, response, "Example Trust"))
        result.respondents += 1
        if rng.random() < EDIT_SHARE:
            receipt = await h.slack.wait_for(lambda m=member: h.slack.dm_messages(m), timeout=10)
            edit = await h.driver.open_modal_via(member, "edit_response", message=receipt[-1])
            for answer in response.answers.values():
                if answer.comment:
                    answer.comment += " On reflection, the timetable worries me most."
                    break
            await h.driver.submit_view(member, edit, modal_values(edit, response, "Example Trust"))
            result.edits += 1
    await h.settle(timeout=60)
    await _answer_positions(h, result, progress)

    await _questions_asked(h, progress)

    progress("A regional lead asks for a summary of their region")
    await h.driver.slash_command(LEAD, f"summary {CONSULTATION} {LEAD_REGION}")
    await h.driver.slash_command(LEAD, f"status {CONSULTATION}")

    progress("Waiting for the reminders and the deadline")
    async with h.services.db.session() as session:
        consultation = await session.get(Consultation, CONSULTATION)
        assert consultation is not None
        left = (consultation.deadline - utcnow()).total_seconds()
    await asyncio.sleep(max(0.0, left) + 3)
    await h.settle(timeout=60)

    progress("Staff export the responses and the draft formal response")
    await h.driver.slash_command(STAFF, f"export {CONSULTATION} docx")
    result.files.extend(await _export_all(h, result.out_dir, progress))
    await h.settle(timeout=60)


async def _members_of_region(h: Harness, region: str) -> set[str]:
    from sqlmodel import select

    from storage.models import MemberProfile

    async with h.services.db.session() as session:
        found = await session.exec(
            select(MemberProfile.user_id).where(MemberProfile.region_id == region)
        )
        return set(found.all())


async def _questions_asked(h: Harness, progress: Progress) -> None:
    """One question answered from the FAQ in the post's thread; one passed to staff, answered
    by them and added to the FAQ."""
    assert h.driver is not None and h.slack is not None
    progress("A member asks in the thread; the FAQ answers")
    post = h.slack.top_level_messages("C0ICSNET")[0]
    await h.driver.post_message(FAQ_ASKER, "C0ICSNET", FAQ_QUESTION, thread_ts=post.ts)
    progress("Another asks with /consult ask; staff answer and add it to the FAQ")
    await h.driver.slash_command(STAFF_ASKER, f"ask {CONSULTATION} {STAFF_QUESTION}")

    def question_dm() -> Any:
        return next(
            (
                m
                for m in h.slack.dm_messages(STAFF)
                if "asked about" in (m.text or "")
                or any("asked about" in str(b) for b in m.blocks or [])
            ),
            None,
        )

    dm = await h.slack.wait_for(question_dm, timeout=30)
    modal = await h.driver.open_modal_via(STAFF, "answer_question", message=dm)
    await h.driver.submit_view(STAFF, modal, {"answer": STAFF_ANSWER})

    def sent_dm() -> Any:
        return next(
            (m for m in h.slack.dm_messages(STAFF) if "answer was sent" in (m.text or "")), None
        )

    sent = await h.slack.wait_for(sent_dm, timeout=30)
    await h.driver.click_in_message(STAFF, sent, "add_to_faq")


async def _answer_positions(h: Harness, result: DemoResult, progress: Progress) -> None:
    """The commissioners' network members answer the asks: one lever per ask."""
    assert h.slack is not None and h.driver is not None
    view = await get_consultation(h.services.db, POSITIONS)
    [network] = await target_networks(h.services.db, view.consultation)
    channel = h.slack.channels[network.channel_id]
    members = sorted(
        user
        for user in channel.members
        if not h.slack.users[user].is_bot and not h.slack.users[user].deleted
    )
    post = next(
        m
        for m in h.slack.top_level_messages(channel.id)
        if view.consultation.title in (m.text or "")
    )
    simulated = simulate_responses(_questions(view), members, seed=17, response_rate=0.85)
    progress(f"{len(simulated)} of {len(members)} commissioners say which lever for each ask")
    for member, response in simulated.items():
        modal = await h.driver.open_modal_via(member, "respond", message=post)
        if modal.get("callback_id") != "consultation_response":
            continue
        await h.driver.submit_view(member, modal, modal_values(modal, response, "Example CCG"))
        result.position_respondents += 1
    await h.settle(timeout=60)


async def _export_all(h: Harness, out_dir: Path, progress: Progress) -> list[Path]:
    from bot.reporting.exports import write_export
    from bot.reporting.summary import network_member_counts

    view = await get_consultation(h.services.db, CONSULTATION)
    # As `/consult export` does: each network's size from its channel, so the response rates
    # in the draft are the ones the reminders and summaries gave.
    members = await network_member_counts(
        h.services, await target_networks(h.services.db, view.consultation)
    )
    written: list[Path] = []
    for fmt, name in (
        ("json", "aggregate.json"),
        ("csv", "responses.csv"),
        ("xlsx", "responses.xlsx"),
        ("md", "draft-response.md"),
        ("docx", "draft-response.docx"),
    ):
        progress(f"  writing {name}")
        written.extend(
            await write_export(
                h.services.db,
                CONSULTATION,
                fmt,
                out_dir / name,
                network_members=members,
                actor="demo",
                min_group=h.services.settings.min_group,
            )
        )
    view = await get_consultation(h.services.db, POSITIONS)
    members = await network_member_counts(
        h.services, await target_networks(h.services.db, view.consultation)
    )
    for fmt, name in (
        ("json", "aggregate.json"),
        ("csv", "responses.csv"),
        ("md", "draft-response.md"),
        ("docx", "draft-response.docx"),
    ):
        progress(f"  writing {POSITIONS_FOLDER}/{name}")
        written.extend(
            await write_export(
                h.services.db,
                POSITIONS,
                fmt,
                out_dir / POSITIONS_FOLDER / name,
                network_members=members,
            )
        )
    return written
