"""Finding 6: `/consult status` is cheap. Five in a row by one lead list the workspace once
(users.list is Tier 2, shared with reminder rounds); past a burst the lead is told when to try
again instead of consultbot calling Slack."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from bot.core.throttle import BURST
from bot.demo.sandbox import render_blocks_as_text
from bot.demo.sandbox.harness import EXAMPLES, Harness
from storage.models import utcnow

STAFF = "U01STAFF01"
LEAD = "U0LEADNW1"


def text_of(message: Any) -> str:
    return (message.text or "") + "\n" + render_blocks_as_text(message.blocks)


async def test_five_status_calls_list_the_workspace_once_then_the_lead_waits(
    harness: Harness,
) -> None:
    h = harness
    assert h.driver is not None and h.slack is not None
    await h.add_consultation_file(
        EXAMPLES / "integrating-care.yaml", id="st", deadline=utcnow() + timedelta(days=5)
    )
    await h.driver.slash_command(STAFF, "launch st")
    await h.slack.wait_for(lambda: h.slack.top_level_messages("C0ICSNET"), timeout=15)
    await h.settle()
    listed = len(h.slack.calls_to("users.list"))
    members_read = len(h.slack.calls_to("conversations.members"))
    for _ in range(BURST):
        seen = len(h.slack.ephemerals(LEAD))
        await h.driver.slash_command(LEAD, "status st")
        await h.slack.wait_for(
            lambda seen=seen: len(h.slack.ephemerals(LEAD)) > seen + 1,  # type: ignore[misc]
            timeout=10,
        )
        await h.settle()
        assert "Status of" in " ".join(text_of(m) for m in h.slack.ephemerals(LEAD)[seen:])
    assert len(h.slack.calls_to("users.list")) - listed <= 1
    assert len(h.slack.calls_to("conversations.members")) - members_read <= 5  # one per channel
    before = len(h.slack.calls_to("users.list")) + len(h.slack.calls_to("conversations.members"))
    response = await h.driver.slash_command(LEAD, "status st")
    reply = text_of(h.slack.ephemerals(LEAD)[-1]) + str(response.body)
    assert re.search(r"try again in \d+ s", reply)
    await h.settle()
    after = len(h.slack.calls_to("users.list")) + len(h.slack.calls_to("conversations.members"))
    assert after == before
