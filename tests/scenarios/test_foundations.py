"""A staff member and a member ask consultbot what it can do, through signed slash commands;
forged, stale and malformed requests are refused without a crash."""

from __future__ import annotations

import asyncio
import time

from bot.demo.sandbox.harness import Harness

STAFF, MEMBER = "U01STAFF01", "U0M001"


def _last_ephemeral_text(h: Harness, user: str) -> str:
    assert h.slack is not None
    messages = h.slack.ephemerals(user)
    assert messages, f"{user} saw no reply"
    from bot.demo.sandbox import render_blocks_as_text

    last = messages[-1]
    return (last.text or "") + "\n" + render_blocks_as_text(last.blocks)


async def test_help_shows_each_role_what_it_can_do(harness: Harness) -> None:
    assert harness.driver is not None
    staff = await harness.driver.slash_command(STAFF, "help")
    assert staff.status == 200
    assert "/consult launch ID" in _last_ephemeral_text(harness, STAFF)

    member = await harness.driver.slash_command(MEMBER, "help")
    assert member.status == 200
    text = _last_ephemeral_text(harness, MEMBER)
    assert "/consult list" in text
    assert "/consult launch" not in text


async def test_list_shows_consultations_with_human_deadlines(harness: Harness) -> None:
    assert harness.driver is not None
    response = await harness.driver.slash_command(STAFF, "list")
    assert response.status == 200
    text = _last_ephemeral_text(harness, STAFF)
    assert "Integrating care" in text
    assert "Friday 8 January 2021, 5pm" in text
    assert "integrating-care" in text


async def test_unknown_subcommand_gets_a_hint_not_an_error(harness: Harness) -> None:
    assert harness.driver is not None
    response = await harness.driver.slash_command(MEMBER, "frobnicate <!channel>")
    assert response.status == 200
    text = _last_ephemeral_text(harness, MEMBER)
    assert "I don't know" in text
    assert "<!channel>" not in text


async def test_member_is_refused_a_staff_command_with_a_reason(harness: Harness) -> None:
    assert harness.driver is not None
    await harness.driver.slash_command(MEMBER, "launch integrating-care")
    assert "Only policy staff" in _last_ephemeral_text(harness, MEMBER)


async def test_bad_signature_and_stale_timestamp_are_refused(harness: Harness) -> None:
    assert harness.driver is not None and harness.slack is not None
    before = len(harness.slack.calls)
    forged = await harness.driver.slash_command(STAFF, "list", bad_signature=True)
    stale = await harness.driver.slash_command(STAFF, "list", timestamp=int(time.time()) - 600)
    assert forged.status == 401
    assert stale.status == 401
    assert not harness.slack.ephemerals(STAFF)
    assert len(harness.slack.calls) == before  # nothing reached Slack on their behalf


async def test_malformed_bodies_get_a_client_error_and_the_app_keeps_serving(
    harness: Harness,
) -> None:
    assert harness.driver is not None
    for body, content_type in (
        (b"payload=%7Bnot-json", "application/x-www-form-urlencoded"),
        (b"\xff\xfe\x00garbage", "application/octet-stream"),
        (b'{"type": "block_actions"', "application/json"),
        (b"payload=" + b"%7B%7D", "application/x-www-form-urlencoded"),
    ):
        response = await harness.driver.post_raw(body, {"Content-Type": content_type})
        assert 400 <= response.status < 500, (body, response.status, response.body)
    ok = await harness.driver.slash_command(STAFF, "help")
    assert ok.status == 200


async def test_healthz_reports_database_and_scheduler(harness: Harness) -> None:
    import aiohttp

    assert harness.runtime is not None and harness.runtime.server is not None
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{harness.runtime.server.url}/healthz") as response:
            body = await response.json()
    assert response.status == 200
    assert body["database"] == "ok"
    assert body["scheduler"] == "running"


async def test_requests_arriving_together_after_a_start_do_not_each_ask_slack_who_the_bot_is(
    harness: Harness,
) -> None:
    """Restarted in the middle of a rush, every request used to call auth.test until the first
    answer came back; one rate-limited call held that member's ack for its Retry-After."""
    assert harness.driver is not None and harness.slack is not None
    assert len(harness.slack.calls_to("auth.test")) == 1  # the runtime's own, at start

    replies = await asyncio.gather(
        *(harness.driver.slash_command(STAFF if i % 2 else MEMBER, "help") for i in range(20))
    )

    assert all(reply.status == 200 for reply in replies)
    assert len(harness.slack.ephemerals(MEMBER)) == 10  # every one was answered
    assert len(harness.slack.calls_to("auth.test")) == 1
