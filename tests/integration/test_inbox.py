"""The inbox worker: accepted submissions are claimed in batches and each recorded once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import func, select

from bot.answering.inbox import InboxWorker
from bot.demo.sandbox.driver import build_state_values
from bot.demo.sandbox.harness import EXAMPLES, Harness
from storage.models import (
    Answer,
    InboxSubmission,
    MemberProfile,
    ResponseRevision,
    utcnow,
)
from tests.scenarios.test_answering import launch, stance_values


@pytest.fixture
async def harness(database_url: str) -> AsyncIterator[Harness]:
    async with Harness(database_url) as h:
        await h.load_examples()
        await h.add_consultation_file(
            EXAMPLES / "integrating-care.yaml",
            id=CONSULTATION,
            deadline=utcnow() + timedelta(days=10),
        )
        yield h


CONSULTATION = "ic-inbox"
MEMBERS = ["U0M001", "U0M002", "U0M003", "U0M004", "U0M005", "U0M006", "U0M008"]


async def accept_without_recording(h: Harness) -> list[int]:
    """Every member submits; the runtime's own inbox worker is stopped, so all wait."""
    assert h.driver is not None and h.slack is not None and h.services.inbox is not None
    await h.services.inbox.stop()
    for user in MEMBERS:
        channel = next(c.id for c in h.slack.channels.values() if not c.is_im and user in c.members)
        post = h.slack.top_level_messages(channel)[0]
        view = await h.driver.open_modal_via(user, "respond", message=post)
        values: dict[str, Any] = stance_values(view, "agree", f"View of {user}")
        for block in view["blocks"]:  # members the directory has no profile for
            if block.get("block_id") == "profile_region":
                values["profile_region"] = "london"
            elif block.get("block_id") == "profile_organisation":
                values["profile_organisation"] = "Example Trust"
        assert (await h.driver.submit_view(user, view, values)).status == 200
    async with h.services.db.read_session() as session:
        return list((await session.exec(select(InboxSubmission.id))).all())


async def test_two_workers_claiming_at_once_take_different_submissions(harness: Harness) -> None:
    await launch(harness, CONSULTATION)
    accepted = await accept_without_recording(harness)
    assert len(accepted) == len(MEMBERS)
    first, second = InboxWorker(harness.services), InboxWorker(harness.services)

    a, b = await asyncio.gather(first._claim(4), second._claim(4))

    ids_a, ids_b = {r.id for r in a}, {r.id for r in b}
    assert not ids_a & ids_b
    assert len(ids_a) + len(ids_b) == min(8, len(accepted))
    assert all(r.attempts == 1 for r in [*a, *b])
    # Claimed rows are leased: nobody else gets them now.
    rest = await InboxWorker(harness.services)._claim(20)
    assert {r.id for r in rest} == set(accepted) - ids_a - ids_b


async def test_workers_record_every_accepted_answer_once_and_send_each_member_a_receipt(
    harness: Harness,
) -> None:
    await launch(harness, CONSULTATION)
    assert harness.slack is not None
    await accept_without_recording(harness)
    workers = [InboxWorker(harness.services), InboxWorker(harness.services)]

    async def drain(worker: InboxWorker) -> None:
        while await worker.record_next():
            pass

    await asyncio.gather(*(drain(w) for w in workers))
    await harness.settle()

    async with harness.services.db.read_session() as session:
        assert (await session.exec(select(func.count()).select_from(InboxSubmission))).one() == 0
        revisions = (await session.exec(select(func.count()).select_from(ResponseRevision))).one()
    assert revisions == len(MEMBERS)
    for user in MEMBERS:
        receipts = [
            m for m in harness.slack.dm_messages(user) if "Edit my response" in str(m.blocks)
        ]
        assert len(receipts) == 1, user  # (each was told "saved" in the modal, at the ack)


async def test_a_submission_accepted_before_answers_were_packed_is_still_recorded(
    harness: Harness,
) -> None:
    """Rows written by an earlier version (Slack's raw form state) may still wait in the inbox
    after an upgrade: they are recorded like new ones, the profile asked on the form included."""
    await launch(harness, CONSULTATION)
    assert harness.driver is not None and harness.slack is not None
    assert harness.services.inbox is not None
    await harness.services.inbox.stop()
    user = "U0M008"
    async with harness.services.db.session() as session:  # unknown to the directory: asked
        profile = await session.get(MemberProfile, user)
        if profile is not None:
            await session.delete(profile)
    channel = next(c.id for c in harness.slack.channels.values() if user in c.members)
    view = await harness.driver.open_modal_via(
        user, "respond", message=harness.slack.top_level_messages(channel)[0]
    )
    values: dict[str, Any] = stance_values(view, "disagree", "Written before the upgrade")
    values["profile_region"] = "london"
    values["profile_organisation"] = "Example Trust"
    assert (await harness.driver.submit_view(user, view, values)).status == 200
    async with harness.services.db.session() as session:
        row = (await session.exec(select(InboxSubmission))).one()
        assert "values" not in row.payload  # packed at the ack
        row.payload = {
            "private_metadata": view["private_metadata"],
            "values": build_state_values(view, values),
            "networks": row.payload["networks"],
            "view_id": row.payload["view_id"],
        }
        session.add(row)

    while await InboxWorker(harness.services).record_next():
        pass

    async with harness.services.db.read_session() as session:
        assert (await session.exec(select(func.count()).select_from(InboxSubmission))).one() == 0
        comments = (await session.exec(select(Answer.comment, Answer.choice))).all()
        profile = await session.get(MemberProfile, user)
    assert comments and all(
        (comment, choice) == ("Written before the upgrade", "disagree")
        for comment, choice in comments
    )
    assert profile is not None and (profile.region_id, profile.organisation) == (
        "london",
        "Example Trust",
    )
