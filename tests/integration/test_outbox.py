"""The durable outbox, delivering through a real AsyncWebClient to a small fake Slack Web API,
on SQLite and PostgreSQL. "Time moving on" is simulated by making rows due in the database."""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import update
from sqlmodel import col, select

from bot.delivery.outbox import (
    METADATA_EVENT,
    OutboxWorker,
    Outgoing,
    backlog,
    batch_progress,
    enqueue,
    enqueue_many,
)
from storage.db import Database
from storage.models import AuditEntry, OutboxMessage, utcnow

# --- a fake Slack Web API --------------------------------------------------------------------


@dataclass
class Reply:
    status: int = 200
    body: dict[str, Any] = field(default_factory=lambda: {"ok": True})
    headers: dict[str, str] = field(default_factory=dict)


class FakeSlack:
    """Records every call; posts land in per-channel history (with their metadata), so the
    outbox's look-before-resending check sees what Slack really accepted."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.history: dict[str, list[dict[str, Any]]] = {}
        self.channel_errors: dict[str, str] = {}
        # Methods whose next call Slack carries out but answers too late (the caller times out).
        self.slow_once: dict[str, float] = {}
        self._queued: dict[str, list[Reply]] = {}
        self._ts = itertools.count(1)

    def queue(self, method: str, *replies: Reply) -> None:
        """Answer the next calls of `method` with these replies, in order."""
        self._queued.setdefault(method, []).extend(replies)

    def calls_to(self, method: str) -> list[dict[str, Any]]:
        return [params for name, params in self.calls if name == method]

    def posted(self) -> list[dict[str, Any]]:
        """Messages Slack accepted, in every channel."""
        return [m for messages in self.history.values() for m in messages]

    async def handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params: dict[str, Any] = dict(request.query)
        if request.can_read_body:
            if request.content_type == "application/json":
                params.update(await request.json())
            else:
                params.update(dict(await request.post()))
        self.calls.append((method, params))
        queued = self._queued.get(method)
        if queued:
            reply = queued.pop(0)
            return web.json_response(reply.body, status=reply.status, headers=reply.headers)
        channel = params.get("channel")
        if channel in self.channel_errors:
            return web.json_response({"ok": False, "error": self.channel_errors[channel]})
        if method == "chat.postMessage":
            ts = f"1610000000.{next(self._ts):06d}"
            message = {"ts": ts, "text": params.get("text"), "metadata": params.get("metadata")}
            if params.get("thread_ts"):
                message["thread_ts"] = params["thread_ts"]
            self.history.setdefault(channel, []).insert(0, message)
            if method in self.slow_once:
                await asyncio.sleep(self.slow_once.pop(method))
            return web.json_response({"ok": True, "channel": channel, "ts": ts})
        if method == "chat.update":
            return web.json_response({"ok": True, "channel": channel, "ts": params.get("ts")})
        if method == "conversations.history":
            return web.json_response({"ok": True, "messages": self.history.get(channel, [])})
        if method == "conversations.replies":
            thread = [
                m for m in self.history.get(channel, []) if m.get("thread_ts") == params.get("ts")
            ]
            return web.json_response({"ok": True, "messages": thread})
        return web.json_response({"ok": True})


@pytest.fixture
async def slack() -> AsyncIterator[tuple[FakeSlack, AsyncWebClient]]:
    fake = FakeSlack()
    app = web.Application()
    app.router.add_route("*", "/api/{method}", fake.handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        client = AsyncWebClient(token="xoxb-test", base_url=str(server.make_url("/api/")))
        yield fake, client
    finally:
        await server.close()


def worker(db: Database, client: AsyncWebClient, name: str = "w1") -> OutboxWorker:
    return OutboxWorker(db, client, per_channel_interval=0, worker_id=name)


async def post(
    db: Database, key: str, channel: str, text: str = "hello", **kwargs: Any
) -> OutboxMessage:
    async with db.session() as session:
        return await enqueue(
            session,
            dedup_key=key,
            method="chat.postMessage",
            channel=channel,
            payload={"channel": channel, "text": text},
            **kwargs,
        )


async def rows(db: Database) -> list[OutboxMessage]:
    async with db.session() as session:
        return list((await session.exec(select(OutboxMessage).order_by(OutboxMessage.id))).all())


async def row(db: Database, row_id: int | None) -> OutboxMessage:
    async with db.session() as session:
        found = await session.get(OutboxMessage, row_id)
    assert found is not None
    return found


async def make_due(db: Database, *row_ids: int | None) -> None:
    """Time moves on: rows waiting for a retry or a dependency become due now."""
    async with db.session() as session:
        await session.exec(  # type: ignore[call-overload]
            update(OutboxMessage)
            .where(col(OutboxMessage.id).in_(row_ids))
            .values(available_at=utcnow() - timedelta(seconds=1))
        )


# --- enqueue ---------------------------------------------------------------------------------


async def test_the_same_dedup_key_is_written_once(db: Database) -> None:
    first = await post(db, "launch:c1:ics", "C01ICS", "first")
    second = await post(db, "launch:c1:ics", "C01ICS", "second")
    assert second.id == first.id
    async with db.session() as session:
        a = await enqueue(
            session, dedup_key="k2", method="chat.postMessage", channel="C1", payload={}
        )
        b = await enqueue(
            session, dedup_key="k2", method="chat.postMessage", channel="C1", payload={}
        )
        assert a.id == b.id
    stored = await rows(db)
    assert [(r.dedup_key, r.payload.get("text"), r.status) for r in stored] == [
        ("launch:c1:ics", "first", "pending"),
        ("k2", None, "pending"),
    ]


async def test_enqueue_many_writes_each_new_key_once_and_counts_them(db: Database) -> None:
    """A reminder round in one statement: keys already written (a round retried after a crash,
    a DM queued before) are skipped, and the count says how many are new."""
    await post(db, "reminder:r1:U02", "U02", "queued before")
    calls = [
        Outgoing(
            dedup_key=f"reminder:r1:U0{n}",
            method="chat.postMessage",
            channel=f"U0{n}",
            payload={"channel": f"U0{n}", "text": f"reminder {n}"},
            consultation_id="c1",
        )
        for n in range(1, 5)
    ]
    async with db.session() as session:
        assert await enqueue_many(session, calls) == 3
    async with db.session() as session:
        assert await enqueue_many(session, calls) == 0  # the same round again
        assert await enqueue_many(session, []) == 0
    stored = {r.dedup_key: r for r in await rows(db)}
    assert sorted(stored) == [f"reminder:r1:U0{n}" for n in range(1, 5)]
    assert stored["reminder:r1:U02"].payload["text"] == "queued before"
    assert stored["reminder:r1:U03"].payload["text"] == "reminder 3"
    assert {r.status for r in stored.values()} == {"pending"}
    assert stored["reminder:r1:U03"].available_at <= utcnow()


async def test_enqueue_is_part_of_the_callers_transaction(db: Database) -> None:
    with pytest.raises(RuntimeError):
        async with db.session() as session:
            await enqueue(
                session, dedup_key="k", method="chat.postMessage", channel="C1", payload={}
            )
            session.add(AuditEntry(action="launch"))
            await session.flush()
            raise RuntimeError("the handler failed after enqueueing")
    # Neither the message nor the handler's other write is kept: nothing is sent.
    assert await rows(db) == []
    async with db.session() as session:
        assert (await session.exec(select(AuditEntry))).all() == []


# --- delivery --------------------------------------------------------------------------------


async def test_pending_rows_are_delivered_once_with_their_ts(
    db: Database, slack: tuple[FakeSlack, AsyncWebClient]
) -> None:
    fake, client = slack
    a = await post(db, "a", "C01ICS", "one", batch="launch:c1")
    b = await post(db, "b", "C01ICS", "two", batch="launch:c1")
    c = await post(db, "c", "C01MHN", "three", batch="launch:c1")
    w = worker(db, client)
    assert await w.drain_once() == 3
    assert await w.drain_once() == 0
    assert len(fake.calls_to("chat.postMessage")) == 3
    by_text = {m["text"]: m for m in fake.posted()}
    assert set(by_text) == {"one", "two", "three"}
    for original, text in ((a, "one"), (b, "two"), (c, "three")):
        stored = await row(db, original.id)
        assert stored.status == "sent"
        assert stored.result_ts == by_text[text]["ts"]
        assert stored.result_channel == original.channel
        assert stored.sent_at is not None
        assert stored.error is None
        assert by_text[text]["metadata"] == {
            "event_type": METADATA_EVENT,
            "event_payload": {"outbox_id": original.id},
        }
    # Within a channel the messages arrive in the order they were written.
    assert [m["text"] for m in reversed(fake.history["C01ICS"])] == ["one", "two"]
    progress = await batch_progress(db, "launch:c1")
    assert (progress.total, progress.sent, progress.failed, progress.done) == (3, 3, 0, True)
    assert await backlog(db) == {"sent": 3}


async def test_two_workers_draining_together_send_each_row_exactly_once(
    db: Database, slack: tuple[FakeSlack, AsyncWebClient]
) -> None:
    fake, client = slack
    for i in range(16):
        await post(db, f"k{i}", f"C0{i % 4}", f"message {i}")
    first, second = worker(db, client, "w1"), worker(db, client, "w2")
    done = await asyncio.gather(first.drain_once(), second.drain_once())
    done += await asyncio.gather(first.drain_once(), second.drain_once())
    assert sum(done) == 16
    texts = Counter(m["text"] for m in fake.posted())
    assert texts == Counter(f"message {i}" for i in range(16))
    assert len(fake.calls_to("chat.postMessage")) == 16
    assert {r.status for r in await rows(db)} == {"sent"}


async def test_a_server_error_is_retried_and_delivered_once(
    db: Database, slack: tuple[FakeSlack, AsyncWebClient]
) -> None:
    fake, client = slack
    fake.queue("chat.postMessage", Reply(500, {"ok": False, "error": "internal_error"}))
    message = await post(db, "k", "C01ICS")
    w = worker(db, client)
    assert await w.drain_once() == 0
    waiting = await row(db, message.id)
    assert waiting.status == "pending"
    assert waiting.attempts == 1
    assert waiting.error is not None and "500" in waiting.error
    assert waiting.available_at > utcnow()  # backing off, not hammering Slack
    assert await w.drain_once() == 0  # not due yet
    await make_due(db, message.id)
    assert await w.drain_once() == 1
    sent = await row(db, message.id)
    assert sent.status == "sent"
    assert len(fake.posted()) == 1
    assert sent.result_ts == fake.posted()[0]["ts"]


async def test_a_call_that_times_out_after_slack_posted_is_not_posted_twice(
    db: Database, slack: tuple[FakeSlack, AsyncWebClient]
) -> None:
    """Slack took the post but its answer never came in time: the row backs off, and on the
    retry the outbox finds the post in the channel's history instead of posting again."""
    fake, client = slack
    impatient = AsyncWebClient(token="xoxb-test", base_url=client.base_url, timeout=1)
    fake.slow_once["chat.postMessage"] = 3.0
    message = await post(db, "k", "C01ICS", "once only")
    w = worker(db, impatient)
    assert await w.drain_once() == 0
    waiting = await row(db, message.id)
    assert (waiting.status, waiting.attempts) == ("pending", 1)
    assert waiting.error is not None and "Timeout" in waiting.error
    assert waiting.available_at > utcnow()  # backing off

    await make_due(db, message.id)
    assert await w.drain_once() == 1
    sent = await row(db, message.id)
    assert sent.status == "sent"
    assert [m["text"] for m in fake.posted()] == ["once only"]
    assert sent.result_ts == fake.posted()[0]["ts"]
    assert fake.calls_to("conversations.history")  # it looked before sending again


async def test_rate_limited_waits_for_retry_after_without_counting_an_attempt(
    db: Database, slack: tuple[FakeSlack, AsyncWebClient]
) -> None:
    fake, client = slack
    fake.queue(
        "chat.postMessage",
        Reply(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "30"}),
    )
    message = await post(db, "k", "C01ICS")
    assert await worker(db, client, "w1").drain_once() == 0
    waiting = await row(db, message.id)
    assert waiting.status == "pending"
    assert waiting.attempts == 0
    assert waiting.available_at > utcnow() + timedelta(seconds=20)
    await make_due(db, message.id)
    assert await worker(db, client, "w2").drain_once() == 1
    assert (await row(db, message.id)).status == "sent"
    assert len(fake.posted()) == 1


async def test_not_in_channel_fails_that_row_and_the_others_are_delivered(
    db: Database, slack: tuple[FakeSlack, AsyncWebClient]
) -> None:
    fake, client = slack
    fake.channel_errors["C0GONE"] = "not_in_channel"
    gone = await post(db, "gone", "C0GONE", batch="launch:c1")
    await post(db, "ics", "C01ICS", batch="launch:c1")
    await post(db, "mhn", "C01MHN", batch="launch:c1")
    assert await worker(db, client).drain_once() == 3
    failed = await row(db, gone.id)
    assert failed.status == "failed"
    assert failed.error == "not_in_channel"
    assert failed.result_ts is None
    assert sorted(m for m in fake.history) == ["C01ICS", "C01MHN"]
    progress = await batch_progress(db, "launch:c1")
    assert (progress.sent, progress.failed) == (2, 1)
    assert progress.failures == [("C0GONE", "not_in_channel")]
    # A permanent error is not retried.
    assert await worker(db, client).drain_once() == 0
    assert len(fake.calls_to("chat.postMessage")) == 3


async def _stuck_row(db: Database, *, lease_expired: bool) -> OutboxMessage:
    """A row a worker claimed and then died with, mid-send."""
    now = utcnow()
    message = OutboxMessage(
        dedup_key="stuck",
        method="chat.postMessage",
        channel="C01ICS",
        payload={"channel": "C01ICS", "text": "stuck"},
        status="sending",
        attempts=1,
        claimed_by="dead-worker",
        lease_until=now - timedelta(seconds=5) if lease_expired else now + timedelta(minutes=5),
        available_at=now - timedelta(minutes=1),
        created_at=now - timedelta(minutes=1),
    )
    async with db.session() as session:
        session.add(message)
    return message


async def test_a_row_whose_lease_expired_is_delivered_again(
    db: Database, slack: tuple[FakeSlack, AsyncWebClient]
) -> None:
    fake, client = slack
    stuck = await _stuck_row(db, lease_expired=True)
    assert await worker(db, client).drain_once() == 1
    delivered = await row(db, stuck.id)
    assert delivered.status == "sent"
    assert delivered.claimed_by == "w1"
    assert [m["text"] for m in fake.posted()] == ["stuck"]
    assert delivered.result_ts == fake.posted()[0]["ts"]


async def test_a_row_slack_accepted_before_the_crash_is_not_posted_twice(
    db: Database, slack: tuple[FakeSlack, AsyncWebClient]
) -> None:
    fake, client = slack
    stuck = await _stuck_row(db, lease_expired=True)
    # The dead worker's post reached Slack; only the "sent" mark was lost.
    fake.history["C01ICS"] = [
        {
            "ts": "1600000000.000100",
            "text": "stuck",
            "metadata": {"event_type": METADATA_EVENT, "event_payload": {"outbox_id": stuck.id}},
        }
    ]
    assert await worker(db, client).drain_once() == 1
    delivered = await row(db, stuck.id)
    assert delivered.status == "sent"
    assert delivered.result_ts == "1600000000.000100"
    assert fake.calls_to("chat.postMessage") == []


async def test_a_row_whose_lease_holds_is_left_alone(
    db: Database, slack: tuple[FakeSlack, AsyncWebClient]
) -> None:
    fake, client = slack
    stuck = await _stuck_row(db, lease_expired=False)
    assert await worker(db, client).drain_once() == 0
    assert fake.calls == []
    assert (await row(db, stuck.id)).claimed_by == "dead-worker"


async def test_an_update_waits_for_the_post_it_depends_on_and_uses_its_ts(
    db: Database, slack: tuple[FakeSlack, AsyncWebClient]
) -> None:
    fake, client = slack
    parent = await post(
        db, "post", "C01ICS", "original", available_at=utcnow() + timedelta(hours=1)
    )
    async with db.session() as session:
        child = await enqueue(
            session,
            dedup_key="update",
            method="chat.update",
            channel="C01ICS",
            payload={"channel": "C01ICS", "text": "edited"},
            depends_on_id=parent.id,
        )
    w = worker(db, client)
    assert await w.drain_once() == 0
    assert fake.calls == []
    waiting = await row(db, child.id)
    assert waiting.status == "pending"
    assert waiting.attempts == 0

    await make_due(db, parent.id)
    await w.drain_once()
    posted = await row(db, parent.id)
    assert posted.status == "sent"

    await make_due(db, child.id)
    assert await w.drain_once() == 1
    updates = fake.calls_to("chat.update")
    assert len(updates) == 1
    assert updates[0]["ts"] == posted.result_ts
    assert updates[0]["channel"] == "C01ICS"
    assert updates[0]["text"] == "edited"
    assert (await row(db, child.id)).status == "sent"


async def test_a_reply_is_threaded_under_the_post_it_depends_on(
    db: Database, slack: tuple[FakeSlack, AsyncWebClient]
) -> None:
    fake, client = slack
    parent = await post(db, "post", "C01ICS", "briefing")
    w = worker(db, client)
    await w.drain_once()
    reply = await post(db, "reply", "C01ICS", "reminder", depends_on_id=parent.id)
    assert await w.drain_once() == 1
    parent_ts = (await row(db, parent.id)).result_ts
    assert fake.calls_to("chat.postMessage")[-1]["thread_ts"] == parent_ts
    assert (await row(db, reply.id)).status == "sent"


async def test_an_update_of_a_failed_post_fails_too(
    db: Database, slack: tuple[FakeSlack, AsyncWebClient]
) -> None:
    fake, client = slack
    fake.channel_errors["C0GONE"] = "channel_not_found"
    parent = await post(db, "post", "C0GONE")
    w = worker(db, client)
    await w.drain_once()
    async with db.session() as session:
        child = await enqueue(
            session,
            dedup_key="update",
            method="chat.update",
            channel="C0GONE",
            payload={"channel": "C0GONE", "text": "edited"},
            depends_on_id=parent.id,
        )
    assert await w.drain_once() == 1
    failed = await row(db, child.id)
    assert (failed.status, failed.error) == ("failed", "depends_on_failed")
    assert fake.calls_to("chat.update") == []


async def limited_in_three_channels(
    db: Database, fake: FakeSlack, client: AsyncWebClient, retry_after: int
) -> tuple[OutboxWorker, int]:
    """Three DMs each answered 429 (a workspace-wide limit); the worker and the posts so far."""
    limited = Reply(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": str(retry_after)})
    fake.queue("chat.postMessage", limited, limited, limited)
    for member in ("U01", "U02", "U03"):
        await post(db, f"dm:{member}", member)
    w = worker(db, client)
    assert await w.drain_once() == 0
    return w, len(fake.calls_to("chat.postMessage"))


async def test_429s_from_several_channels_pause_the_method_everywhere(
    db: Database, slack: tuple[FakeSlack, AsyncWebClient]
) -> None:
    """A workspace-wide limit: the other channels wait Retry-After instead of each being
    refused in turn."""
    fake, client = slack
    w, calls_before = await limited_in_three_channels(db, fake, client, retry_after=1)

    await post(db, "dm:U04", "U04")
    started = asyncio.get_running_loop().time()
    assert await w.drain_once() == 1  # U04 only: the others wait out their Retry-After

    assert asyncio.get_running_loop().time() - started >= 0.8
    assert len(fake.calls_to("chat.postMessage")) == calls_before + 1  # no 429 for U04
    assert w.rate_limited == 3


async def test_one_stray_429_pauses_only_its_own_channel(
    db: Database, slack: tuple[FakeSlack, AsyncWebClient]
) -> None:
    fake, client = slack
    fake.queue(
        "chat.postMessage",
        Reply(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "5"}),
    )
    await post(db, "dm:U01", "U01")
    w = worker(db, client)
    assert await w.drain_once() == 0

    await post(db, "dm:U02", "U02")
    started = asyncio.get_running_loop().time()
    assert await w.drain_once() == 1

    assert asyncio.get_running_loop().time() - started < 2


async def test_a_few_429s_among_many_accepted_posts_pause_only_their_channels(
    db: Database, slack: tuple[FakeSlack, AsyncWebClient]
) -> None:
    """Scattered 429s (Slack's odd refusal while most calls go through) are not a workspace
    limit: the rest of a reminder round goes on without waiting."""
    fake, client = slack
    limited = Reply(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "1"})
    fake.queue("chat.postMessage", *[Reply() for _ in range(20)], limited, limited, limited)
    for n in range(23):
        await post(db, f"dm:U{n:02d}", f"U{n:02d}")
    w = worker(db, client)
    assert await w.drain_once() == 20
    assert w.rate_limited == 3

    await post(db, "dm:U99", "U99")
    started = asyncio.get_running_loop().time()
    assert await w.drain_once() == 1  # U99 at once; the three limited wait their own turn

    assert asyncio.get_running_loop().time() - started < 0.5


async def test_a_long_workspace_pause_hands_rows_back_instead_of_holding_their_lease(
    db: Database, slack: tuple[FakeSlack, AsyncWebClient]
) -> None:
    fake, client = slack
    w, calls_before = await limited_in_three_channels(db, fake, client, retry_after=30)

    later = await post(db, "dm:U04", "U04")
    assert await w.drain_once() == 0

    waiting = await row(db, later.id)
    assert waiting.status == "pending" and waiting.attempts == 0
    assert waiting.available_at > utcnow() + timedelta(seconds=20)
    assert len(fake.calls_to("chat.postMessage")) == calls_before  # Slack was not asked


async def test_while_acks_queue_the_outbox_delivers_a_few_rows_at_a_time(
    db: Database, slack: tuple[FakeSlack, AsyncWebClient]
) -> None:
    from bot.core.services import RequestLoad
    from bot.delivery.outbox import BUSY_CLAIM_SIZE

    _, client = slack
    for n in range(10):
        await post(db, f"dm:{n}", f"U0{n}")
    load = RequestLoad(in_flight=50)
    w = worker(db, client)
    w.give_way = lambda: load.give_way(max_wait=0.05)

    assert await w.drain_once() == BUSY_CLAIM_SIZE  # busy: a small piece of work
    load.in_flight = 0
    assert await w.drain_once() == 10 - BUSY_CLAIM_SIZE  # quiet again: the rest at once
