"""Regional leads pull a summary of their region while the consultation is open."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bot.demo.sandbox import render_blocks_as_text
from bot.demo.sandbox.harness import EXAMPLES, Harness
from storage.models import utcnow

STAFF = "U01STAFF01"
LEAD_NW = "U0LEADNW1"
MEMBER = "U0M001"


def text_of(message: Any) -> str:
    return (message.text or "") + "\n" + render_blocks_as_text(message.blocks)


async def _answer(h: Harness, user: str, stance: str, comment: str, region: str) -> None:
    assert h.driver is not None and h.slack is not None
    channel = next(c.id for c in h.slack.channels.values() if not c.is_im and user in c.members)
    post = h.slack.top_level_messages(channel)[0]
    view = await h.driver.open_modal_via(user, "respond", message=post)
    values: dict[str, Any] = {}
    for block in view["blocks"]:
        block_id = block.get("block_id", "")
        if block_id.startswith("choice:"):
            values[block_id] = stance
        elif block_id.startswith("comment:"):
            values[block_id] = comment
        elif block_id == "profile_region":
            values[block_id] = region
        elif block_id == "profile_organisation":
            values[block_id] = "Example Trust"
    response = await h.driver.submit_view(user, view, values)
    assert response.status == 200


async def _launch(h: Harness) -> None:
    assert h.driver is not None and h.slack is not None
    await h.add_consultation_file(
        EXAMPLES / "integrating-care.yaml",
        id="ic",
        deadline=utcnow() + timedelta(days=5),
    )
    await h.driver.slash_command(STAFF, "launch ic")
    await h.slack.wait_for(lambda: h.slack.top_level_messages("C0ICSNET"), timeout=15)
    await h.settle()


async def test_lead_sees_only_their_region_and_members_are_refused(harness: Harness) -> None:
    await _launch(harness)
    assert harness.driver is not None and harness.slack is not None
    from bot.consultations.directory import member_profile

    profiles = {
        user: await member_profile(harness.services.db, user)
        for user in ("U0M001", "U0M002", "U0M003", "U0M004", "U0M005", "U0M006", "U0M008")
    }
    north_west = [u for u, p in profiles.items() if p and p.region_id == "north-west"]
    elsewhere = [u for u, p in profiles.items() if p and p.region_id != "north-west"]
    assert north_west and elsewhere, profiles
    for user in north_west:
        await _answer(harness, user, "agree", "North West view on workforce", "north-west")
    for user in elsewhere:
        await _answer(harness, user, "disagree", "Elsewhere view on funding", "london")
    await harness.settle()  # each answer is recorded just after its ack

    await harness.driver.slash_command(LEAD_NW, "summary ic")
    await harness.slack.wait_for(
        lambda: any("Summary" in text_of(m) for m in harness.slack.ephemerals(LEAD_NW)),
        timeout=20,
    )
    summary = next(m for m in harness.slack.ephemerals(LEAD_NW) if "Summary" in text_of(m))
    text = text_of(summary)
    assert f"{len(north_west)} respondent" in text
    assert "North West" in text
    assert "per cent" in text
    # Only North West answers count: everyone in scope agreed.
    assert "100 per cent" in text or "All (100 per cent)" in text
    assert "Share in channel" in text
    await harness.settle()
    assert harness.slack.files_shared(LEAD_NW), "the chart was not uploaded to the lead's DM"

    await harness.driver.slash_command(LEAD_NW, "summary ic london")
    await harness.slack.wait_for(
        lambda: any("You lead" in text_of(m) for m in harness.slack.ephemerals(LEAD_NW)),
        timeout=10,
    )
    await harness.driver.slash_command(MEMBER, "summary ic")
    assert "Only" in text_of(harness.slack.ephemerals(MEMBER)[-1])
    assert not harness.slack.invalid_payloads


async def test_a_summary_is_shared_once_however_often_slack_delivers_the_click(
    harness: Harness,
) -> None:
    """Slack's retries (X-Slack-Retry-Num 1-3) of the command and of the Share click, and a
    double click on Share, give one chart in the lead's DM and one post in the channel."""
    import json
    from urllib.parse import urlencode

    from bot.reporting.blocks import SHARE_ACTION

    h = harness
    await _launch(h)
    assert h.driver is not None and h.slack is not None
    await _answer(h, "U0M001", "agree", "Workforce first", "north-west")
    await h.settle()

    asked = await h.driver.slash_command(LEAD_NW, "summary ic")
    for retry in (1, 2, 3):  # the same delivery again: same fields, same trigger id
        again = await h.driver.post_raw(
            urlencode(asked.payload).encode(),
            {"Content-Type": "application/x-www-form-urlencoded"},
            retry_num=retry,
        )
        assert again.status == 200
    await h.settle()
    summaries = [m for m in h.slack.ephemerals(LEAD_NW) if "Share in channel" in text_of(m)]
    assert summaries
    assert len(h.slack.files_shared(LEAD_NW)) == 1

    summary = summaries[0]
    first = await h.driver.click_in_message(LEAD_NW, summary, SHARE_ACTION)
    for retry in (1, 2, 3):
        again = await h.driver.post_raw(
            urlencode({"payload": json.dumps(first.payload)}).encode(),
            {"Content-Type": "application/x-www-form-urlencoded"},
            retry_num=retry,
        )
        assert again.status == 200
    await h.driver.click_in_message(LEAD_NW, summary, SHARE_ACTION)  # a double click
    await h.settle()

    shared = [
        m
        for m in h.slack.top_level_messages(summary.channel)
        if (m.text or "").startswith("Summary of")
    ]
    assert len(shared) == 1
    confirmations = [m for m in h.slack.ephemerals(LEAD_NW) if "Sharing the summary" in text_of(m)]
    assert len(confirmations) == 1
    assert not h.slack.invalid_payloads
