"""Finding 5: a lead's nudge blocks only what it reached. Staff can still nudge the rest of the
network within the hour (the London members the lead reached are left out); another lead of the
same region waits. The end-to-end story is in
tests/scenarios/test_reminder_rounds.py::test_manual_nudge_once_an_hour_and_leads_reach_their_region."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bot.demo.sandbox import render_blocks_as_text
from bot.demo.sandbox.harness import EXAMPLES, Harness
from bot.engagement.reminders import nudge_room
from storage.models import utcnow

STAFF = "U01STAFF01"
LONDON_LEAD = "U0LEADLDN"
NOT_LONDON = "U0M002"  # ICS Network, North West
LONDON_MEMBER = "U0M008"  # ICS Network, London


def text_of(message: Any) -> str:
    return (message.text or "") + "\n" + render_blocks_as_text(message.blocks)


def test_a_leads_nudge_blocks_only_its_regions() -> None:
    now = utcnow()
    lead_nudge = [("ics-network", frozenset({"london"}), now)]
    staff = nudge_room(None, lead_nudge)
    assert staff.blocked == {} and staff.reached == {"ics-network": frozenset({"london"})}
    assert "ics-network" in nudge_room(frozenset({"london"}), lead_nudge).blocked
    assert nudge_room(frozenset({"north-west"}), lead_nudge).blocked == {}
    assert "ics-network" in nudge_room(frozenset({"london"}), [("ics-network", None, now)]).blocked


async def test_staff_can_nudge_what_a_leads_nudge_did_not_reach(harness: Harness) -> None:
    h = harness
    assert h.driver is not None and h.slack is not None
    await h.add_consultation_file(
        EXAMPLES / "integrating-care.yaml", id="ns", deadline=utcnow() + timedelta(days=5)
    )
    await h.driver.slash_command(STAFF, "launch ns")
    await h.slack.wait_for(lambda: h.slack.top_level_messages("C0ICSNET"), timeout=15)
    await h.settle()
    seen = len(h.slack.ephemerals(LONDON_LEAD))
    await h.driver.slash_command(LONDON_LEAD, "remind ns ics-network")
    await h.slack.wait_for(lambda: len(h.slack.ephemerals(LONDON_LEAD)) > seen + 1, timeout=10)
    seen = len(h.slack.ephemerals(STAFF))
    await h.driver.slash_command(STAFF, "remind ns ics-network")
    await h.slack.wait_for(lambda: len(h.slack.ephemerals(STAFF)) > seen + 1, timeout=10)
    replies = " ".join(text_of(m) for m in h.slack.ephemerals(STAFF)[seen:])
    assert "Reminded the *ICS Network*" in replies
    assert "less than an hour ago" not in replies
