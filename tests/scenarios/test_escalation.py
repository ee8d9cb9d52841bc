"""Escalation as regional leads see it: at each reminder point, the leads of the regions whose
response rate is below the threshold get a DM (rate, how many have not answered, and who, with
a button that nudges them now), once per point even with two app processes; in an anonymous
consultation counts only, and no region smaller than the minimum group."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from bot.app.runtime import Runtime, RuntimeOptions
from bot.demo.sandbox.harness import EXAMPLES, Harness
from bot.engagement.reminders import send_due_reminders
from storage.models import utcnow
from tests.scenarios.test_answering import launch, text_of
from tests.scenarios.test_reminder_rounds import (
    NETWORKS,
    answer,
    drain,
    make_due,
    reminder_dms,
    zone_at,
)

ESCALATION = "is quiet on"
LONDON_LEAD = "U0LEADLDN"
SOUTH_EAST_LEAD = "U0LEADSE"
NORTH_WEST_LEADS = ["U0LEADNW1", "U0LEADNW2"]
NORTH_EAST_LEAD = "U0LEADNEY"
# In the ICS Network and NHS Clinical Commissioners channels (examples/demo-workspace.yaml):
# North West has 4 people, London 3, Midlands 3, North East and Yorkshire 3, and the South
# East, South West and East of England 2 each.
LONDON_MEMBERS = ["U0M008", "U0M013", "U0M014"]
SOUTH_WEST_MEMBER = "U0M022"


def escalations(h: Harness, lead: str) -> list[Any]:
    assert h.slack is not None
    return [m for m in h.slack.dm_messages(lead) if ESCALATION in text_of(m)]


async def start_quiet(h: Harness, consultation_id: str, *, anonymous: bool = False) -> None:
    """Launched to two networks with escalate_below 30%; the North West (2 of 4) and the North
    East (1 of 3) answer, everywhere else is quiet."""
    assert h.slack is not None
    noon = zone_at(12)
    for user in h.slack.users.values():
        user.tz = noon
    await h.add_consultation_file(
        EXAMPLES / "integrating-care.yaml",
        id=consultation_id,
        deadline=utcnow() + timedelta(days=10),
        networks=NETWORKS,
        reminders=["7d", "2d"],
        anonymous=anonymous,
        escalate_below=0.3,
    )
    await launch(h, consultation_id)
    for member in ("U0M001", "U0M002", "U0M039"):
        await answer(h, member)
    await drain(h)


async def test_quiet_regions_reach_their_leads_once_per_point_with_names_and_a_nudge(
    harness: Harness,
) -> None:
    h = harness
    assert h.slack is not None and h.driver is not None
    await start_quiet(h, "esc-named")
    second = Runtime(h.settings(), RuntimeOptions(tick_seconds=0.2, per_channel_interval=0))
    await second.start()
    try:
        await make_due(h.services.db, "esc-named", "7d")
        await h.slack.wait_for(lambda: escalations(h, LONDON_LEAD), timeout=10)
        await drain(h)
        await asyncio.sleep(0.5)  # both tickers run again: nothing more may appear
        assert await send_due_reminders(h.services) == 0
        await drain(h)
    finally:
        await second.stop()

    # Only the leads of regions below 30%: not the North West (50%) nor the North East (33%).
    for lead in [*NORTH_WEST_LEADS, NORTH_EAST_LEAD]:
        assert not escalations(h, lead)
    assert len(escalations(h, LONDON_LEAD)) == 1
    assert len(escalations(h, SOUTH_EAST_LEAD)) == 1
    london = text_of(escalations(h, LONDON_LEAD)[0])
    assert "*London* is quiet" in london and "0 of 3 members (0%)" in london
    assert "*3* have not answered" in london
    for member in LONDON_MEMBERS:
        assert f"<@{member}>" in london
    assert "<@U0M015>" not in london  # the South East's member is not London's business
    assert "Nudge them now" in london

    # The lead nudges London now: London's non-responders get a second DM, nobody else does.
    before = {u: len(reminder_dms(h, u)) for u in [*LONDON_MEMBERS, SOUTH_WEST_MEMBER]}
    await h.driver.click_in_message(LONDON_LEAD, escalations(h, LONDON_LEAD)[0], "nudge_region")
    await h.slack.wait_for(lambda: len(reminder_dms(h, "U0M008")) > before["U0M008"], timeout=10)
    await drain(h)
    for member in LONDON_MEMBERS:
        assert len(reminder_dms(h, member)) == before[member] + 1
    assert len(reminder_dms(h, SOUTH_WEST_MEMBER)) == before[SOUTH_WEST_MEMBER]
    await h.slack.wait_for(
        lambda: any("Reminded the" in text_of(m) for m in h.slack.ephemerals(LONDON_LEAD)),
        timeout=10,
    )
    # Clicked again (or retried): the hour's limit holds, nobody gets a third DM.
    await h.driver.click_in_message(LONDON_LEAD, escalations(h, LONDON_LEAD)[0], "nudge_region")
    await h.slack.wait_for(
        lambda: any("less than an hour ago" in text_of(m) for m in h.slack.ephemerals(LONDON_LEAD)),
        timeout=10,
    )
    await drain(h)
    assert len(reminder_dms(h, "U0M008")) == before["U0M008"] + 1
    # Another region's lead cannot use the button for London.
    await h.driver.click_in_message(SOUTH_EAST_LEAD, escalations(h, LONDON_LEAD)[0], "nudge_region")
    await h.slack.wait_for(
        lambda: any("not `london`" in text_of(m) for m in h.slack.ephemerals(SOUTH_EAST_LEAD)),
        timeout=10,
    )

    # The next reminder point: one more DM for each quiet region's leads.
    await make_due(h.services.db, "esc-named", "2d")
    await h.slack.wait_for(lambda: len(escalations(h, LONDON_LEAD)) == 2, timeout=10)
    await drain(h)
    assert len(escalations(h, SOUTH_EAST_LEAD)) == 2
    assert not any(escalations(h, lead) for lead in NORTH_WEST_LEADS)
    assert not h.slack.invalid_payloads


async def test_anonymous_consultation_escalates_counts_only_above_the_minimum_group(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    h = harness
    assert h.slack is not None
    monkeypatch.setenv("CONSULTBOT_MIN_GROUP", "3")
    await h.stop_app()
    await h.start_app()  # configured as an operator would, through the environment
    await start_quiet(h, "esc-anon", anonymous=True)
    await make_due(h.services.db, "esc-anon", "7d")
    await h.slack.wait_for(lambda: escalations(h, LONDON_LEAD), timeout=10)
    await drain(h)

    london = text_of(escalations(h, LONDON_LEAD)[0])
    assert "0 of 3 members (0%)" in london and "anonymous" in london
    assert not any(f"<@{member}>" in london for member in LONDON_MEMBERS)
    assert "Nudge them now" not in london
    # The South East has 2 people in these networks: fewer than 3, so never shown on its own.
    assert not escalations(h, SOUTH_EAST_LEAD)
    assert not any(escalations(h, lead) for lead in NORTH_WEST_LEADS)
