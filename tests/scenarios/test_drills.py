"""Drills: what Slack and the world do to a running bot.

- Slack delivers each event, action and submission up to four times (X-Slack-Retry-Num 1-3):
  one effect each.
- The Web API fails (5xx, ratelimited, channel_not_found, not_in_channel, account_inactive):
  retryable failures are retried with backoff, permanent ones are reported to the launcher once
  and do not hold up the other channels.
- The process dies between Slack accepting a post and the outbox marking it sent: after the
  restart the post is found by its metadata and not sent again.
- The request log has one structured line per request and never the answer text or a secret.
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from sqlalchemy import update
from sqlmodel import col, select

from bot.answering.blocks.home import HOME_CLOSE_ACTION, HOME_LAUNCH_ACTION
from bot.app.bolt import SORRY
from bot.delivery.outbox import OutboxWorker
from bot.demo.sandbox import render_blocks_as_text
from bot.demo.sandbox.driver import DriverResponse
from bot.demo.sandbox.harness import EXAMPLES, SIGNING_SECRET, Harness
from bot.engagement.blocks import STOP_REMINDERS_ACTION
from storage.models import (
    AuditEntry,
    Consultation,
    OutboxMessage,
    ProcessedDelivery,
    ReminderOptOut,
    ReminderPlan,
    Response,
    ResponseRevision,
    utcnow,
)
from tests.scenarios.test_answering import CHANNELS, MEMBER, STAFF, launch, post_in, stance_values
from tests.scenarios.test_answering import text_of as message_text
from tests.scenarios.test_reminder_rounds import (
    LONDON_MEMBER,
    NOT_ANSWERED,
    make_due,
    reminder_dms,
    thread_reminders,
)
from tests.scenarios.test_reminder_rounds import start as start_with_reminders

RETRIES = (None, 1, 2, 3)  # the first delivery, then Slack's three retries


def future() -> object:
    return utcnow() + timedelta(days=10)


async def add(h: Harness, consultation_id: str) -> str:
    return await h.add_consultation_file(
        EXAMPLES / "integrating-care.yaml", id=consultation_id, deadline=future()
    )


# --- Slack retries ---------------------------------------------------------------------------


async def test_each_delivery_retried_four_times_has_one_effect(harness: Harness) -> None:
    h = harness
    assert h.driver is not None and h.slack is not None
    await add(h, "ic-retries")

    # A slash command: /consult launch, four deliveries -> one post per channel.
    for retry in RETRIES:
        response = await h.driver.slash_command(STAFF, "launch ic-retries", retry_num=retry)
        assert response.status == 200
    # The launches run after the ack: wait for the posts, then for anything still queued.
    await h.slack.wait_for(lambda: all(h.slack.top_level_messages(c) for c in CHANNELS), timeout=20)
    await h.settle()
    for channel in CHANNELS:
        post_in(h, channel)  # exactly one each

    # A block action: the Respond click, four deliveries of the same click -> one modal.
    post = post_in(h, "C0ICSNET")
    before = len(h.slack.views_opened(MEMBER))
    first = await h.driver.click_in_message(MEMBER, post, "respond")
    for retry in RETRIES[1:]:  # a retry is the same delivery again: same payload, same trigger
        again = await h.driver.post_raw(
            urlencode({"payload": json.dumps(first.payload)}).encode(),
            {"Content-Type": "application/x-www-form-urlencoded"},
            retry_num=retry,
        )
        assert again.status == 200
    view = await h.slack.wait_for(lambda: h.slack.view_by_trigger(first.trigger_id or ""))
    await asyncio.sleep(0.2)
    assert len(h.slack.views_opened(MEMBER)) == before + 1

    # A view submission: four deliveries -> one revision, one receipt.
    values = stance_values(view, "agree", "Said once, delivered four times")
    for retry in RETRIES:
        response = await h.driver.submit_view(MEMBER, view, values, retry_num=retry)
        assert response.status == 200
    await h.settle()
    async with h.services.db.session() as session:
        revisions = (await session.exec(select(ResponseRevision))).all()
        deliveries = (await session.exec(select(ProcessedDelivery))).all()
    assert len(revisions) == 1
    assert len(deliveries) == 1
    receipts = [m for m in h.slack.dm_messages(MEMBER) if "Edit my response" in str(m.blocks)]
    assert len(receipts) == 1

    # An event: app_home_opened with the same event id four times -> one Home, as it should be.
    event_id = "Ev0DRILL0001"
    for retry in RETRIES:
        response = await h.driver.app_home_opened(MEMBER, retry_num=retry, event_id=event_id)
        assert response.status == 200
    await h.slack.wait_for(lambda: h.slack.home_view(MEMBER))
    home = h.slack.home_view(MEMBER)
    assert home is not None and "Integrating care" in json.dumps(home)
    assert not h.slack.invalid_payloads


# --- Web API failures during a launch --------------------------------------------------------


async def test_launch_retries_transient_failures_and_reports_permanent_ones_once(
    harness: Harness,
) -> None:
    h = harness
    assert h.driver is not None and h.slack is not None
    await add(h, "ic-faults")
    ics, mh, nhscc, comm, pcn = CHANNELS
    # Transient: more 5xx than the Web API client retries by itself, so the outbox backs off.
    h.slack.fail_next("chat.postMessage", channel=ics, count=4, status=503)
    # Transient: rate limited, with Retry-After.
    h.slack.fail_next("chat.postMessage", channel=mh, count=4, retry_after=1)
    # Permanent: each reported, none retried.
    h.slack.fail_next("chat.postMessage", channel=nhscc, count=10, error="channel_not_found")
    h.slack.fail_next("chat.postMessage", channel=comm, count=10, error="not_in_channel")
    h.slack.fail_next("chat.postMessage", channel=pcn, count=10, error="account_inactive")

    response = await h.driver.slash_command(STAFF, "launch ic-faults")
    assert response.status == 200
    await h.slack.wait_for(
        lambda: any("These failed" in message_text(m) for m in h.slack.ephemerals(STAFF)),
        timeout=30,
    )
    await h.settle(timeout=30)

    # The transient ones got through, once each.
    assert len(h.slack.top_level_messages(ics)) == 1
    assert len(h.slack.top_level_messages(mh)) == 1
    posts = [c for c in h.slack.calls_to("chat.postMessage") if c.params.get("channel") == ics]
    assert [c.http_status for c in posts][-1] == 200 and len(posts) == 5  # 4 failures + 1
    # The permanent ones were tried once and never again, and are reported.
    for channel, error in ((nhscc, "channel_not_found"), (comm, "not_in_channel")):
        tried = [
            c for c in h.slack.calls_to("chat.postMessage") if c.params.get("channel") == channel
        ]
        assert len(tried) == 1 and tried[0].error == error
        assert not h.slack.top_level_messages(channel)
    reports = [m for m in h.slack.ephemerals(STAFF) if "These failed" in message_text(m)]
    assert len(reports) == 1
    report = reports[0].text or ""
    assert "posted to 2 of 5 networks" in report
    for channel, error in (
        (nhscc, "channel_not_found"),
        (comm, "not_in_channel"),
        (pcn, "account_inactive"),
    ):
        assert report.count(f"<#{channel}>: `{error}`") == 1
    assert ics not in report and mh not in report
    async with h.services.db.session() as session:
        rows = (await session.exec(select(OutboxMessage.channel, OutboxMessage.status))).all()
    statuses = dict(rows)
    assert statuses[ics] == statuses[mh] == "sent"
    assert statuses[nhscc] == statuses[comm] == statuses[pcn] == "failed"
    # Staff see the same in the consultation's status.
    await h.driver.slash_command(STAFF, "status ic-faults")
    status = await h.slack.wait_for(
        lambda: next((m for m in h.slack.ephemerals(STAFF) if "Outbox:" in message_text(m)), None)
    )
    assert "Outbox: 0 waiting, 2 sent, 3 failed" in message_text(status)


# --- a crash between Slack's answer and the database update ----------------------------------


class Frozen(Exception):
    pass


async def test_crash_after_slack_accepted_a_post_does_not_post_it_twice(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    h = harness
    assert h.slack is not None
    await add(h, "ic-crash")
    original_finish = OutboxWorker._finish
    frozen = asyncio.Event()

    async def die_before_marking_sent(self: OutboxWorker, row: OutboxMessage, **kw: object) -> None:
        if kw.get("status") == "sent":
            frozen.set()
            await asyncio.Event().wait()  # the process stops here, never to mark the row sent
        await original_finish(self, row, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(OutboxWorker, "_finish", die_before_marking_sent)
    from bot.consultations.launch import start_launch

    await start_launch(h.services, "ic-crash", actor=STAFF)
    await asyncio.wait_for(frozen.wait(), timeout=15)
    await h.slack.wait_for(lambda: all(h.slack.top_level_messages(c) for c in CHANNELS), timeout=15)
    # "kill": the worker task dies where it stands; nothing after Slack's answer was written.
    worker = h.services.outbox
    assert worker._task is not None
    worker._task.cancel()
    worker._task = None
    await h.stop_app()
    monkeypatch.setattr(OutboxWorker, "_finish", original_finish)
    async with Harness_db(h) as db_session:
        sending = (
            await db_session.exec(select(OutboxMessage).where(OutboxMessage.status == "sending"))
        ).all()
        assert len(sending) == len(CHANNELS)
        # Time passes: the dead worker's leases run out.
        await db_session.exec(  # type: ignore[call-overload]
            update(OutboxMessage)
            .where(col(OutboxMessage.status) == "sending")
            .values(lease_until=utcnow() - timedelta(seconds=1))
        )

    await h.start_app()
    await h.settle(timeout=20)
    for channel in CHANNELS:
        post = post_in(h, channel)  # still exactly one
        async with h.services.db.session() as session:
            row = (
                await session.exec(select(OutboxMessage).where(OutboxMessage.channel == channel))
            ).one()
        assert row.status == "sent" and row.result_ts == post.ts
    # The restarted worker looked for its posts rather than posting again.
    assert h.slack.count("conversations.history") >= len(CHANNELS)


class Harness_db:
    """A write session on the harness's database while the bot is stopped."""

    def __init__(self, h: Harness) -> None:
        from storage.db import Database

        self.db = Database(h.database_url)

    async def __aenter__(self):  # type: ignore[no-untyped-def]
        self._cm = self.db.session()
        return await self._cm.__aenter__()

    async def __aexit__(self, *exc: object) -> None:
        await self._cm.__aexit__(*exc)  # type: ignore[arg-type]
        await self.db.dispose()


# --- the request log -------------------------------------------------------------------------


async def test_request_log_has_one_line_per_request_and_no_answers_or_secrets(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    h = harness
    assert h.driver is not None and h.slack is not None
    await add(h, "ic-logs")
    await launch(h, "ic-logs")
    view = await h.driver.open_modal_via(MEMBER, "respond", message=post_in(h, "C0ICSNET"))
    comment = "Private view: the trust board is split 7-5 on this"
    caplog.clear()
    # At the level `consultbot run` logs at (INFO). Below it, drivers' own DEBUG output (e.g.
    # aiosqlite echoing SQL parameters) is out of our hands.
    with caplog.at_level(logging.INFO):
        response = await h.driver.submit_view(MEMBER, view, stance_values(view, "agree", comment))
        assert response.status == 200
        # A submission that fails validation is logged too, still without its text.
        await h.driver.submit_view(MEMBER, view, stance_values(view, "agree", comment + "x" * 3001))
        await h.settle()
    async with h.services.db.session() as session:
        assert len((await session.exec(select(Response))).all()) == 1
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "consultbot.requests"]
    submissions = [line for line in lines if line["kind"] == "view_submission"]
    assert len(submissions) == 2
    for line in submissions:
        assert set(line) == {"kind", "id", "latency_ms", "outcome"}
        assert line["id"] == "consultation_response"
        assert line["latency_ms"] > 0  # the whole handling, listener included
    assert [line["outcome"] for line in submissions] == ["ok", "invalid"]
    secrets = [comment[:20], "trust board", SIGNING_SECRET, h.slack.bot_token]
    for record in caplog.records:
        text = record.getMessage() + (record.exc_text or "")
        for secret in secrets:
            assert secret not in text, f"{secret!r} logged by {record.name}"
        assert MEMBER not in text or record.name != "consultbot.requests"


# --- Slack retries of the other buttons ------------------------------------------------------


async def redeliver(h: Harness, first: DriverResponse) -> None:
    """Slack's three retries of a delivery: the very same payload, X-Slack-Retry-Num 1-3."""
    assert h.driver is not None
    body = urlencode({"payload": json.dumps(first.payload)}).encode()
    for retry in RETRIES[1:]:
        again = await h.driver.post_raw(
            body, {"Content-Type": "application/x-www-form-urlencoded"}, retry_num=retry
        )
        assert again.status == 200
        assert SORRY not in again.body


def apologies(h: Harness, user_id: str) -> list[object]:
    assert h.slack is not None
    return [m for m in h.slack.ephemerals(user_id) if "went wrong" in message_text(m)]


def failures(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Errors logged while handling the deliveries (a listener that failed on a duplicate)."""
    return [f"{r.name}: {r.getMessage()}" for r in caplog.records if r.levelno >= logging.ERROR]


def home_text(h: Harness, user_id: str) -> str:
    assert h.slack is not None
    home = h.slack.home_view(user_id)
    return render_blocks_as_text(home["blocks"]) if home else ""


async def audit_count(h: Harness, consultation_id: str, action: str) -> int:
    async with h.services.db.session() as session:
        return len(
            (
                await session.exec(
                    select(AuditEntry).where(
                        AuditEntry.consultation_id == consultation_id, AuditEntry.action == action
                    )
                )
            ).all()
        )


async def test_close_now_retried_four_times_closes_once(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    h = harness
    assert h.driver is not None and h.slack is not None
    await add(h, "ic-close4")
    await launch(h, "ic-close4")
    await h.driver.app_home_opened(STAFF)
    await h.slack.wait_for(lambda: "Close now" in home_text(h, STAFF), timeout=10)
    before = {c: len(post_in(h, c).versions) for c in CHANNELS}

    with caplog.at_level(logging.INFO):
        first = await h.driver.click_in_home(STAFF, HOME_CLOSE_ACTION, "ic-close4")
        assert first.status == 200
        await redeliver(h, first)
        await h.slack.wait_for(
            lambda: all("Closed" in message_text(post_in(h, c)) for c in CHANNELS), timeout=15
        )
        await h.slack.wait_for(lambda: "Close now" not in home_text(h, STAFF), timeout=10)
        await h.settle()

    async with h.services.db.session() as session:
        consultation = await session.get(Consultation, "ic-close4")
    assert consultation is not None and consultation.status == "closed"
    assert await audit_count(h, "ic-close4", "consultation.close") == 1
    for channel in CHANNELS:
        post = post_in(h, channel)  # still one post, now Closed, without Respond
        assert "Closed" in message_text(post) and "Respond" not in message_text(post)
        # Edited to Closed once: one new version, the earlier ones not yet Closed.
        assert len(post.versions) == before[channel] + 1
        assert sum("Closed" in json.dumps(v) for v in post.versions) == 1
        closing = [
            m for m in h.slack.thread_replies(channel, post.ts) if "has closed" in message_text(m)
        ]
        assert len(closing) == 1, f"{channel} got {len(closing)} closing notes"
    # The staff member is told nothing went wrong, three times or once.
    assert not apologies(h, STAFF)
    assert not failures(caplog)
    assert "ic-close4" not in home_text(h, STAFF)
    assert not h.slack.invalid_payloads


async def test_stop_reminders_retried_four_times_opts_out_once(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    h = harness
    assert h.driver is not None and h.slack is not None
    await start_with_reminders(h, "rm-stop4")
    await make_due(h.services.db, "rm-stop4", "7d")
    await h.slack.wait_for(lambda: reminder_dms(h, NOT_ANSWERED), timeout=10)
    await h.settle()
    dm = reminder_dms(h, NOT_ANSWERED)[0]
    assert "Stop reminders" in message_text(dm)
    updates_before = h.slack.count("chat.update")

    with caplog.at_level(logging.INFO):
        first = await h.driver.click_in_message(NOT_ANSWERED, dm, STOP_REMINDERS_ACTION)
        assert first.status == 200
        await redeliver(h, first)
        await h.slack.wait_for(
            lambda: "won't get more reminders" in message_text(reminder_dms(h, NOT_ANSWERED)[0]),
            timeout=10,
        )
        await h.settle()

    async with h.services.db.session() as session:
        opt_outs = (
            await session.exec(
                select(ReminderOptOut).where(ReminderOptOut.consultation_id == "rm-stop4")
            )
        ).all()
    assert [o.user_id for o in opt_outs] == [NOT_ANSWERED]
    assert await audit_count(h, "rm-stop4", "reminders.stop") == 1
    # The DM they clicked was edited once, to one consistent state: stopped, no Stop button.
    edits = [
        c for c in h.slack.calls_to("chat.update")[updates_before:] if c.params.get("ts") == dm.ts
    ]
    assert len(edits) == 1 and edits[0].ok
    assert len(dm.versions) == 2
    assert [m.ts for m in h.slack.dm_messages(NOT_ANSWERED)] == [dm.ts]  # nothing new posted
    shown = message_text(dm)
    assert "won't get more reminders" in shown and "Stop reminders" not in shown
    assert "Respond" in shown
    assert not apologies(h, NOT_ANSWERED)
    assert not failures(caplog)

    # And the opt-out holds: the next round reaches others but not them.
    await make_due(h.services.db, "rm-stop4", "2d")
    await h.slack.wait_for(lambda: len(thread_reminders(h, "C0ICSNET")) == 2, timeout=10)
    await h.settle()
    assert len(reminder_dms(h, NOT_ANSWERED)) == 1
    assert len(reminder_dms(h, LONDON_MEMBER)) == 2
    assert not h.slack.invalid_payloads


async def test_launch_from_the_app_home_retried_four_times_posts_once(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    h = harness
    assert h.driver is not None and h.slack is not None
    await add(h, "ic-homelaunch")
    await h.driver.app_home_opened(STAFF)
    await h.slack.wait_for(lambda: "`ic-homelaunch`" in home_text(h, STAFF), timeout=10)
    assert "Close now" not in home_text(h, STAFF)  # nothing open yet

    with caplog.at_level(logging.INFO):
        first = await h.driver.click_in_home(STAFF, HOME_LAUNCH_ACTION, "ic-homelaunch")
        assert first.status == 200
        await redeliver(h, first)
        await h.slack.wait_for(
            lambda: all(h.slack.top_level_messages(c) for c in CHANNELS), timeout=20
        )
        # The home is published again: the draft moved up among the open ones.
        await h.slack.wait_for(lambda: "Close now" in home_text(h, STAFF), timeout=10)
        await h.settle()

    for channel in CHANNELS:
        post = post_in(h, channel)  # exactly one each
        assert "Integrating care" in message_text(post) and "Respond" in message_text(post)
    posts = [
        c for c in h.slack.calls_to("chat.postMessage") if c.ok and "thread_ts" not in c.params
    ]
    assert sorted(c.params["channel"] for c in posts) == sorted(CHANNELS)
    async with h.services.db.session() as session:
        consultation = await session.get(Consultation, "ic-homelaunch")
        plan = (
            await session.exec(
                select(ReminderPlan.offset_label).where(
                    ReminderPlan.consultation_id == "ic-homelaunch"
                )
            )
        ).all()
        rows = (
            await session.exec(
                select(OutboxMessage).where(col(OutboxMessage.dedup_key).startswith("post:"))
            )
        ).all()
    assert consultation is not None and consultation.status == "open"
    assert sorted(plan) == ["2d", "4h", "7d"]  # one reminder of each, not one per delivery
    assert len(rows) == len(CHANNELS) and {r.status for r in rows} == {"sent"}
    assert not apologies(h, STAFF)
    assert not failures(caplog)
    assert "`ic-homelaunch`" not in home_text(h, STAFF)  # no longer offered for launch
    assert not h.slack.invalid_payloads


# --- the request log for commands, clicks and events -----------------------------------------


async def test_request_log_one_line_each_for_command_click_and_event_without_user_data(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    h = harness
    assert h.driver is not None and h.slack is not None
    await add(h, "ic-logtrail")
    await launch(h, "ic-logtrail")
    post = post_in(h, "C0ICSNET")
    typed = "ic-logtrail please, the trust board asked"
    caplog.clear()
    with caplog.at_level(logging.INFO):
        command = await h.driver.slash_command(STAFF, f"status {typed}")
        assert command.status == 200
        await h.settle()
        click = await h.driver.click_in_message(MEMBER, post, "respond")
        assert click.status == 200
        await h.slack.wait_for(lambda: h.slack.view_by_trigger(click.trigger_id or ""))
        await h.settle()
        event = await h.driver.app_home_opened(MEMBER)
        assert event.status == 200
        await h.slack.wait_for(lambda: h.slack.home_view(MEMBER))
        await h.settle()

    records = [r for r in caplog.records if r.name == "consultbot.requests"]
    lines = [json.loads(r.getMessage()) for r in records]
    assert [(line["kind"], line["id"]) for line in lines] == [
        ("slash_command", "/consult status"),
        ("block_actions", "respond"),
        ("event_callback", "app_home_opened"),
    ]
    for line in lines:
        assert set(line) == {"kind", "id", "latency_ms", "outcome"}
        assert line["outcome"] == "ok"
        assert isinstance(line["latency_ms"], int | float) and line["latency_ms"] > 0
    identifying = [
        STAFF,
        MEMBER,
        "ic-logtrail",
        "trust board",
        "please",
        h.slack.dm_channel_id(STAFF),
        h.slack.dm_channel_id(MEMBER),
        command.trigger_id or "-",
        click.trigger_id or "-",
        SIGNING_SECRET,
        h.slack.bot_token,
    ]
    for record in records:
        text = record.getMessage() + (record.exc_text or "")
        for secret in identifying:
            assert secret not in text, f"{secret!r} in the request log"
