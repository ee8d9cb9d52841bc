"""Finding 3: nothing ties a member to an anonymous answer. A receipt that cannot be delivered
(account_inactive) leaves no outbox row and no log line with the member's id; a self-declared
profile keeps no time near the answer's; reminder DMs of an anonymous consultation leave no row
per member once sent."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select

from bot.core.permissions import Actor
from bot.demo.sandbox.harness import EXAMPLES, Harness
from bot.engagement.reminders import nudge
from storage.models import MemberProfile, OutboxMessage, Response, utcnow
from tests.scenarios.test_formal_response import _values

STAFF = "U01STAFF01"
MEMBER = "U0M001"  # ICS Network
NO_PROFILE = "U0M007"  # ICS Network, not in the directory: the modal asks their region


async def _launch(h: Harness) -> Any:
    assert h.driver is not None and h.slack is not None
    await h.add_consultation_file(
        EXAMPLES / "system-by-default.yaml", id="sbd", deadline=utcnow() + timedelta(days=5)
    )
    await h.driver.slash_command(STAFF, "launch sbd")
    await h.slack.wait_for(lambda: h.slack.top_level_messages("C0ICSNET"), timeout=15)
    await h.settle()
    return h.slack.top_level_messages("C0ICSNET")[0]


async def _answer(h: Harness, post: Any, user: str, n: int = 0) -> None:
    assert h.driver is not None
    view = await h.driver.open_modal_via(user, "respond", message=post)
    response = await h.driver.submit_view(user, view, _values(view, n))
    assert response.status == 200 and not (response.json or {}).get("errors"), response.body


async def _rows_naming(h: Harness, user: str) -> list[OutboxMessage]:
    async with h.services.db.read_session() as session:
        rows = (await session.exec(select(OutboxMessage))).all()
    return [r for r in rows if user in r.channel or user in str(r.payload) or user in r.dedup_key]


async def test_failed_anonymous_receipt_leaves_no_row_or_log_line_with_the_member(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    h = harness
    assert h.slack is not None
    post = await _launch(h)
    h.slack.fail_next("chat.postMessage", channel=MEMBER, count=10, error="account_inactive")
    with caplog.at_level(logging.INFO):  # what `consultbot run` logs
        await _answer(h, post, MEMBER)
        await h.settle()
    async with h.services.db.read_session() as session:
        assert len((await session.exec(select(Response))).all()) == 1  # recorded
    assert not await _rows_naming(h, MEMBER)
    assert not [r.getMessage() for r in caplog.records if MEMBER in r.getMessage()]


async def test_anonymous_answer_leaves_the_profile_time_alone(harness: Harness) -> None:
    h = harness
    post = await _launch(h)
    await _answer(h, post, NO_PROFILE)
    await h.settle()
    async with h.services.db.read_session() as session:
        profile = await session.get(MemberProfile, NO_PROFILE)
        response = (await session.exec(select(Response))).one()
        from storage.models import Consultation

        consultation = await session.get(Consultation, "sbd")
    assert profile is not None and profile.source == "self"  # the region they told us is kept
    assert consultation is not None and consultation.launched_at is not None
    assert profile.updated_at == consultation.launched_at
    assert response.submitted_at != profile.updated_at


async def test_anonymous_reminder_dms_leave_no_row_per_member_once_sent(harness: Harness) -> None:
    h = harness
    assert h.driver is not None and h.slack is not None
    post = await _launch(h)
    await _answer(h, post, MEMBER)
    await h.settle()
    # Yesterday at noon in London: inside everyone's working day, so every DM goes at once.
    noon = datetime.combine(
        datetime.now(ZoneInfo("Europe/London")).date() - timedelta(days=1),
        time(12, 0),
        ZoneInfo("Europe/London"),
    ).astimezone(UTC)
    staff = Actor(STAFF, is_staff=True)
    outcome = await nudge(h.services, "sbd", staff, "ics-network", now=noon)
    assert outcome.sent and outcome.sent[0][1].dms_now > 0
    await h.slack.wait_for(lambda: h.slack.dm_messages("U0M002"), timeout=10)
    await h.settle()
    async with h.services.db.read_session() as session:
        rows = (
            await session.exec(select(OutboxMessage).where(OutboxMessage.consultation_id == "sbd"))
        ).all()
    # The channel posts and the thread note remain; no row names a member.
    assert rows and not [r for r in rows if r.channel.startswith(("U", "W"))]
