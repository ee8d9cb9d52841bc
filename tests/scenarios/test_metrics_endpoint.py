"""An operator scrapes GET /metrics while members answer: the counters move with what happened
(requests by kind, answers recorded, receipts and posts sent, ticks, backlogs), and nothing in it
identifies anyone: no user or channel ids, no names, no answer text."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from bot.demo.sandbox import render_blocks_as_text
from bot.demo.sandbox.harness import EXAMPLES, Harness
from storage.models import utcnow

STAFF = "U01STAFF01"
MEMBER = "U0M001"  # Sarah Whitfield, ICS Network
CHANNELS = ["C0ICSNET", "C0MHNET", "C0NHSCC", "C0COMMNET", "C0PCNNET"]


async def add_and_launch(h: Harness, consultation_id: str) -> None:
    await h.add_consultation_file(
        EXAMPLES / "integrating-care.yaml",
        id=consultation_id,
        deadline=utcnow() + timedelta(days=10),
    )
    assert h.driver is not None and h.slack is not None
    assert (await h.driver.slash_command(STAFF, f"launch {consultation_id}")).status == 200
    await h.slack.wait_for(
        lambda: any(
            "networks." in render_blocks_as_text(m.blocks) or "failed" in (m.text or "")
            for m in h.slack.ephemerals(STAFF)
        ),
        timeout=15,
    )
    await h.settle()


def answers(view: dict[str, Any], comment: str) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for block in view["blocks"]:
        block_id = block.get("block_id", "")
        if block_id.startswith("choice:"):
            values[block_id] = "agree"
        elif block_id.startswith("comment:"):
            values[block_id] = comment
    return values


COMMENT = "Our confidential worry: the Wirral budget gap"


async def scrape(h: Harness) -> tuple[str, dict[tuple[str, tuple[tuple[str, str], ...]], float]]:
    assert h.runtime is not None and h.runtime.server is not None
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{h.runtime.server.url}/metrics") as response,
    ):
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain")
        text = await response.text()
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }
    return text, samples


async def test_metrics_move_with_a_scenario_and_identify_nobody(harness: Harness) -> None:
    _, before = await scrape(harness)
    assert before[("consultbot_answers_recorded_total", ())] == 0

    await add_and_launch(harness, "ic-metrics")
    assert harness.driver is not None and harness.slack is not None
    post = harness.slack.top_level_messages("C0ICSNET")[0]
    view = await harness.driver.open_modal_via(MEMBER, "respond", message=post)
    await harness.driver.submit_view(MEMBER, view, answers(view, COMMENT))
    await harness.settle()

    text, after = await scrape(harness)

    def requests(kind: str) -> float:
        return after[("consultbot_slack_request_seconds_count", (("kind", kind),))]

    assert requests("slash_command") >= 1  # /consult launch
    assert requests("block_actions") >= 1  # Respond
    assert requests("view_submission") == 1
    assert after[("consultbot_slack_acks_over_3s_total", (("kind", "view_submission"),))] == 0
    assert after[("consultbot_answers_recorded_total", ())] == 1
    assert after[("consultbot_receipts_sent_total", ())] == 1
    assert after[("consultbot_reminders_sent_total", ())] == 0
    # One post per network channel and the receipt.
    posted = after[("consultbot_slack_messages_sent_total", (("method", "chat.postMessage"),))]
    assert posted == len(CHANNELS) + 1
    assert after[("consultbot_tick_seconds_count", (("tick", "deadlines"),))] >= 1
    assert after[("consultbot_inbox_backlog", (("state", "waiting"),))] == 0
    assert after[("consultbot_outbox_messages", (("state", "pending"),))] == 0
    assert after[("consultbot_outbox_messages", (("state", "sent"),))] >= posted

    for identifying in (MEMBER, STAFF, "Sarah Whitfield", "sarah.whitfield", "Wirral", *CHANNELS):
        assert identifying not in text


async def test_slack_refusals_and_rate_limits_are_counted_by_method(harness: Harness) -> None:
    assert harness.slack is not None
    harness.slack.fail_next("chat.postMessage", error="is_archived", channel="C0ICSNET")
    harness.slack.fail_next("chat.postMessage", retry_after=1, channel="C0MHNET")
    await add_and_launch(harness, "ic-refused")

    text, after = await scrape(harness)
    refused = (("error", "is_archived"), ("method", "chat.postMessage"))
    assert after[("consultbot_slack_api_errors_total", refused)] == 1
    assert (
        after[("consultbot_slack_rate_limit_waits_total", (("method", "chat.postMessage"),))] == 1
    )
    waited = (("method", "chat.postMessage"),)
    assert after[("consultbot_slack_rate_limit_wait_seconds_total", waited)] == 1.0
    assert "C0ICSNET" not in text and "C0MHNET" not in text
