"""The durable outbox: every outgoing Slack message is written here first, then delivered once.

A row is claimed with a conditional UPDATE (status and lease in the WHERE clause), so two workers
or two replicas on one PostgreSQL never send the same row. A worker that dies mid-send leaves a
row in `sending` whose lease expires; the next worker re-checks the channel's history for the
row's message metadata before sending again, so a crash after Slack accepted a post does not
duplicate it.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import logging
import os
import random
import socket
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import and_, bindparam, delete, func, or_, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.delivery.metrics import Metrics
from storage.db import Database, insert_many_or_ignore, insert_or_ignore
from storage.models import OutboxMessage, utcnow

log = logging.getLogger(__name__)

METADATA_EVENT = "consultbot_outbox"
# Errors that will not go away by trying again: report them and move on.
PERMANENT_ERRORS = frozenset(
    {
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "account_inactive",
        "user_not_found",
        "invalid_blocks",
        "invalid_arguments",
        "msg_too_long",
        "no_text",
        "message_not_found",
        "cant_update_message",
        "restricted_action",
        "cannot_dm_bot",
        "user_disabled",
        "invalid_auth",
        "not_authed",
        "missing_scope",
        "channel_is_archived",
    }
)
MAX_ATTEMPTS = 8
# 429s on one method from this many different channels within this many seconds, outnumbering
# the calls Slack accepted meanwhile, mean a workspace-wide limit (not one busy channel): every
# send of that method pauses for Retry-After instead of each channel finding the limit for
# itself. A stray 429, or a few scattered among many accepted calls, pauses its channel only.
WORKSPACE_LIMIT_CHANNELS = 3
BUSY_CLAIM_SIZE = 8
# While Slack's acks queue, delivery takes at most this share of the time: it keeps going (a
# long rush still gets its receipts) but the acks go first.
BUSY_SHARE = 0.1
WORKSPACE_LIMIT_WINDOW = 2.0
# A claimed row is sent on its claim's lease while at most this share of the lease has passed;
# later (it waited for pacing or a pause) the lease is renewed first, so the call has time.
RENEW_AFTER = 0.25
# Rows in this batch are deleted on every terminal outcome (sent, failed, withdrawn): e.g. the
# receipts, failure notices and reminder DMs of anonymous consultations, whose row would otherwise
# tie a Slack user to the moment a pseudonymous answer was recorded (or to having answered at
# all). Their failures are logged without the channel, which is the member's user id.
FORGET_WHEN_SENT = "forget-when-sent"

# Payloads that must reflect the state at send time (e.g. a post's live response count) are
# stored as {"render": name, ...} and rendered when sent by the renderer of that name, from the
# list the composition root hands the worker (bot/app/wiring.py).
Renderer = Callable[[Database, dict[str, Any]], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class BatchProgress:
    total: int
    sent: int
    failed: int
    failures: list[tuple[str, str]]  # (channel, error)

    @property
    def done(self) -> bool:
        return self.sent + self.failed >= self.total


def _without_rate_limit_retries(client: AsyncWebClient) -> AsyncWebClient:
    """The client, minus its in-call retry of 429s: the outbox honours Retry-After itself.

    The SDK's handler sleeps out Retry-After inside the call, holding a delivery slot and the
    whole claimed batch for one limited channel; the outbox instead puts the row back for
    Retry-After and delays only that channel. Other retry handlers (5xx, connection) stay.
    """
    handlers = getattr(client, "retry_handlers", None)
    if not handlers or not any(isinstance(h, AsyncRateLimitErrorRetryHandler) for h in handlers):
        return client
    own = copy.copy(client)
    own.retry_handlers = [h for h in handlers if not isinstance(h, AsyncRateLimitErrorRetryHandler)]
    return own


def _loggable_channel(row: OutboxMessage) -> str:
    """The channel for a log line: never a member's id on a row that must leave no trace."""
    return f"row {row.id}" if row.batch == FORGET_WHEN_SENT else row.channel


async def forget_or_cancel(session: AsyncSession, ids: Sequence[int], reason: str) -> int:
    """Withdraw pending rows: mark them cancelled, or delete those that must leave no trace
    (FORGET_WHEN_SENT). Returns how many were withdrawn."""
    if not ids:
        return 0
    pending = and_(col(OutboxMessage.id).in_(list(ids)), col(OutboxMessage.status) == "pending")
    forgotten = await session.exec(  # type: ignore[call-overload]
        delete(OutboxMessage).where(pending, col(OutboxMessage.batch) == FORGET_WHEN_SENT)
    )
    cancelled = await session.exec(  # type: ignore[call-overload]
        update(OutboxMessage).where(pending).values(status="cancelled", error=reason)
    )
    return int(forgotten.rowcount or 0) + int(cancelled.rowcount or 0)


def _worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{random.randrange(16**6):06x}"


async def enqueue(
    session: AsyncSession,
    *,
    dedup_key: str,
    method: str,
    channel: str,
    payload: dict[str, Any],
    depends_on_id: int | None = None,
    consultation_id: str | None = None,
    batch: str | None = None,
    available_at: datetime | None = None,
) -> OutboxMessage:
    """Write a call to the outbox in the caller's transaction; the same dedup_key is written once.

    Returns the existing row when the key was already written (a retry or a double click).
    """
    row = OutboxMessage(
        dedup_key=dedup_key,
        method=method,
        channel=channel,
        payload=payload,
        depends_on_id=depends_on_id,
        consultation_id=consultation_id,
        batch=batch,
        available_at=available_at or utcnow(),
    )
    # One statement, also when another request writes the same key at the same moment.
    values = row.model_dump(exclude={"id"})
    row.id = await insert_or_ignore(
        session, OutboxMessage, values, ["dedup_key"], returning=OutboxMessage.id
    )
    if row.id is None:
        return (
            await session.exec(select(OutboxMessage).where(OutboxMessage.dedup_key == dedup_key))
        ).one()
    return row


@dataclass(frozen=True)
class Outgoing:
    """One call for `enqueue_many`: what `enqueue` takes, for many calls at once."""

    dedup_key: str
    method: str
    channel: str
    payload: dict[str, Any]
    consultation_id: str | None = None
    batch: str | None = None
    available_at: datetime | None = None


async def enqueue_many(session: AsyncSession, calls: Sequence[Outgoing]) -> int:
    """`enqueue` for many calls in one statement (a reminder round's DMs); a dedup_key already
    written is skipped. Returns how many were written."""
    now = utcnow()
    rows = [
        {
            "dedup_key": call.dedup_key,
            "method": call.method,
            "channel": call.channel,
            "payload": call.payload,
            "depends_on_id": None,
            "consultation_id": call.consultation_id,
            "batch": call.batch,
            "status": "pending",
            "attempts": 0,
            "available_at": call.available_at or now,
            "created_at": now,
        }
        for call in calls
    ]
    return await insert_many_or_ignore(session, OutboxMessage, rows, ["dedup_key"])


async def batch_progress(db: Database, batch: str) -> BatchProgress:
    async with db.session() as session:
        rows = (
            await session.exec(
                select(OutboxMessage.channel, OutboxMessage.status, OutboxMessage.error).where(
                    OutboxMessage.batch == batch
                )
            )
        ).all()
    failures = [
        (channel, error or "unknown") for channel, status, error in rows if status == "failed"
    ]
    return BatchProgress(
        total=len(rows),
        sent=sum(1 for _, status, _ in rows if status == "sent"),
        failed=len(failures),
        failures=failures,
    )


async def backlog(db: Database, consultation_id: str | None = None) -> dict[str, int]:
    """How many rows wait in each state (for `/consult status` and health)."""
    async with db.session() as session:
        query = select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
        if consultation_id is not None:
            query = query.where(OutboxMessage.consultation_id == consultation_id)
        return dict((await session.exec(query)).all())


class OutboxWorker:
    """Claims due rows and delivers them, paced per channel, with retries and backoff."""

    def __init__(
        self,
        db: Database,
        client: AsyncWebClient,
        *,
        lease: timedelta = timedelta(seconds=60),
        per_channel_interval: float = 1.0,
        # Calls in flight and rows claimed at once: enough that a rush's receipts (each to its
        # own DM, so per-channel pacing never holds them) go as fast as they are recorded.
        concurrency: int = 16,
        claim_size: int = 100,
        poll_interval: float = 0.5,
        worker_id: str | None = None,
        renderers: Mapping[str, Renderer] | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.db = db
        self.metrics = metrics or Metrics()
        self.renderers: Mapping[str, Renderer] = renderers or {}
        # Set by the runtime: lets Slack's waiting acks go first during a rush.
        self.give_way: Callable[[], Awaitable[bool]] | None = None
        # Set by the runtime too: after a round while acks queue, wait so that delivery takes
        # at most a share of the time (seconds worked, share).
        self.keep_share: Callable[[float, float], Awaitable[None]] | None = None
        self.client = _without_rate_limit_retries(client)
        self.lease = lease
        self.per_channel_interval = per_channel_interval
        self.claim_size = claim_size
        self.poll_interval = poll_interval
        self.worker_id = worker_id or _worker_name()
        self._slots = asyncio.Semaphore(concurrency)
        self._next_slot: dict[str, float] = {}
        self._renew_at: dict[int, float] = {}  # row id -> loop time its lease must be renewed
        self._method_paused_until: dict[str, float] = {}
        self._recent_429s: dict[str, list[tuple[float, str]]] = {}
        self._recent_accepted: dict[str, deque[float]] = {}  # method -> when Slack said ok
        self.rate_limited = 0  # 429s seen, for benchmarks and status
        # Rows sent in the current round, marked sent together at its end (see _mark_sent).
        self._sent: list[tuple[OutboxMessage, str | None, str | None]] | None = None
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.last_tick: datetime | None = None

    # --- lifecycle ---

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="outbox-worker")

    async def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._task is not None:
            await self._task
            self._task = None

    def wake(self) -> None:
        """Deliver now rather than at the next poll (called after enqueueing)."""
        self._wake.set()

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                sent = await self.drain_once()
            except Exception:  # a database outage must not kill the worker
                log.exception("outbox: delivery round failed; retrying")
                sent = 0
            self.last_tick = utcnow()
            if sent == 0:
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout=self.poll_interval)
                except TimeoutError:
                    pass
                self._wake.clear()

    # --- claiming ---

    async def _claim(self, limit: int) -> list[OutboxMessage]:
        """Claim up to `limit` due rows, oldest first, in one transaction.

        PostgreSQL: the SELECT locks its rows FOR UPDATE SKIP LOCKED, so replicas claiming at the
        same moment take different rows instead of queueing on each other. SQLite has one writer
        at a time (BEGIN IMMEDIATE), so nobody can claim in between."""
        now = utcnow()
        # Read with `now`, before any wait for the database: the lease runs from here.
        renew_at = asyncio.get_running_loop().time() + self.lease.total_seconds() * RENEW_AFTER
        due = or_(
            and_(col(OutboxMessage.status) == "pending", col(OutboxMessage.available_at) <= now),
            and_(col(OutboxMessage.status) == "sending", col(OutboxMessage.lease_until) < now),
        )
        async with self.db.queued_session() as session:
            # One transaction: the rows stay locked (PostgreSQL) or the database stays ours
            # (SQLite) from picking them to marking them claimed.
            picked = (
                await session.exec(
                    select(OutboxMessage.id)
                    .where(due)
                    .order_by(col(OutboxMessage.id))
                    .limit(limit)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            if not picked:
                return []
            await session.exec(  # type: ignore[call-overload]
                update(OutboxMessage)
                .where(col(OutboxMessage.id).in_(picked))
                .values(
                    status="sending",
                    lease_until=now + self.lease,
                    claimed_by=self.worker_id,
                    attempts=OutboxMessage.attempts + 1,
                )
            )
            rows = (
                await session.exec(
                    select(OutboxMessage)
                    .where(col(OutboxMessage.id).in_(picked))
                    .order_by(col(OutboxMessage.id))
                )
            ).all()
        for row in rows:
            self._renew_at[row.id] = renew_at  # type: ignore[index]
        return list(rows)

    async def drain_once(self) -> int:
        """Claim what is due and deliver it; returns how many rows reached a final state."""
        busy = self.give_way is not None and await self.give_way()
        # While Slack's acks are queueing, a few rows at a time: never a long stretch of work.
        rows = await self._claim(limit=BUSY_CLAIM_SIZE if busy else self.claim_size)
        if not rows:
            return 0
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            return await self._deliver_round(rows)
        finally:
            if busy and self.keep_share is not None:
                await self.keep_share(loop.time() - started, BUSY_SHARE)

    async def _deliver_round(self, rows: list[OutboxMessage]) -> int:
        by_channel: dict[str, list[OutboxMessage]] = {}
        for row in rows:
            by_channel.setdefault(row.channel, []).append(row)
        self._sent = []
        try:
            results = await asyncio.gather(
                *(self._deliver_channel(channel_rows) for channel_rows in by_channel.values())
            )
        finally:
            sent, self._sent = self._sent, None
            await self._mark_sent(sent)
        return sum(results)

    async def _mark_sent(self, sent: list[tuple[OutboxMessage, str | None, str | None]]) -> None:
        """Mark a round's sent rows in one transaction, not one each: a rush's receipts go
        out as fast as they are recorded. (A crash before this commits leaves them `sending`;
        once their lease ends the history check finds them posted, so none is sent twice.)"""
        if not sent:
            return
        now = utcnow()
        forget = [row.id for row, _, _ in sent if row.batch == FORGET_WHEN_SENT]
        keep = [
            {
                "b_id": row.id,
                "b_worker": self.worker_id,
                "status": "sent",
                "lease_until": None,
                "error": None,
                "result_ts": ts,
                "result_channel": channel or row.channel,
                "sent_at": now,
            }
            for row, ts, channel in sent
            if row.batch != FORGET_WHEN_SENT
        ]
        # Retried, because losing the "sent" mark would mean a duplicate after the lease.
        for attempt in range(5):
            try:
                async with self.db.queued_session() as session:
                    if keep:
                        connection = await session.connection()
                        await connection.execute(
                            update(OutboxMessage.__table__).where(  # type: ignore[attr-defined]
                                col(OutboxMessage.id) == bindparam("b_id"),
                                col(OutboxMessage.claimed_by) == bindparam("b_worker"),
                            ),
                            keep,
                        )
                    if forget:
                        await session.exec(  # type: ignore[call-overload]
                            delete(OutboxMessage).where(
                                col(OutboxMessage.id).in_(forget),
                                col(OutboxMessage.claimed_by) == self.worker_id,
                            )
                        )
                return
            except Exception:
                if attempt == 4:
                    raise
                await asyncio.sleep(0.2 * 2**attempt)

    async def _deliver_channel(self, rows: Sequence[OutboxMessage]) -> int:
        done = 0
        for row in rows:
            async with self._slots:
                done += await self._deliver(row)
        return done

    async def _pace(self, channel: str) -> None:
        """About one message per second per channel, as Slack asks."""
        loop = asyncio.get_running_loop()
        now = loop.time()
        slot = max(now, self._next_slot.get(channel, 0.0))
        self._next_slot[channel] = slot + self.per_channel_interval
        if slot > now:
            await asyncio.sleep(slot - now)

    # --- delivery ---

    async def _deliver(self, row: OutboxMessage) -> int:
        dependency = None
        if row.depends_on_id is not None:
            async with self.db.read_session() as session:
                dependency = await session.get(OutboxMessage, row.depends_on_id)
            for sent, ts, channel in self._sent or ():
                if dependency is not None and sent.id == dependency.id:  # sent in this round
                    dependency.status, dependency.result_ts = "sent", ts
                    dependency.result_channel = channel or sent.channel
            if dependency is None or dependency.status == "failed":
                await self._finish(row, status="failed", error="depends_on_failed")
                return 1
            if dependency.status != "sent":
                await self._release(row, delay=1.0, count_attempt=False)
                return 0
        if row.attempts > 1 and row.method == "chat.postMessage":
            try:
                found = await self._already_posted(row, dependency)
            except Exception as exc:  # can't look (e.g. not a member): send rather than fail
                log.info("outbox: could not check history for row %s: %s", row.id, exc)
                found = None
            if found is not None:
                await self._finish(row, status="sent", ts=found[0], channel=found[1])
                return 1
        try:
            if row.method in ("chat.postMessage", "chat.update"):
                await self._pace(row.channel)
            pause = self._method_pause_left(row.method)
            if pause > 2.0:  # a long pause: hand the row back rather than sit on its lease
                await self._release(row, delay=pause, count_attempt=False)
                return 0
            if pause > 0:
                await asyncio.sleep(pause)
            if not await self._still_mine(row):
                return 0  # the lease ran out while waiting; another worker has it now
            ts, channel = await self._call(row, dependency)
        except SlackApiError as exc:
            error = exc.response.get("error") if exc.response is not None else None
            status = exc.response.status_code if exc.response is not None else 0
            self.metrics.slack_error(row.method, "ratelimited" if status == 429 else error)
            if status == 429 or error == "ratelimited":
                retry_after = float(exc.response.headers.get("Retry-After", 1) or 1)
                self._rate_limited(row.method, row.channel, retry_after)
                await self._release(row, delay=retry_after, count_attempt=False)
                return 0
            if error in PERMANENT_ERRORS or (status < 500 and error is not None):
                log.warning(
                    "outbox: %s to %s failed permanently: %s",
                    row.method,
                    _loggable_channel(row),
                    error,
                )
                await self._finish(row, status="failed", error=error)
                return 1
            return await self._retry_later(row, f"http {status}: {error}")
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            return await self._retry_later(row, f"{type(exc).__name__}: {exc}")
        except Exception as exc:  # a renderer or database error: counted, so it ends
            log.exception("outbox: row %s failed unexpectedly", row.id)
            return await self._retry_later(row, f"{type(exc).__name__}: {exc}")
        self._accepted(row.method)
        await self._finish(row, status="sent", ts=ts, channel=channel)
        self.metrics.sent(
            row.method,
            receipt=row.dedup_key.startswith("receipt:"),
            reminder=row.payload.get("render") == "reminder_dm",
        )
        return 1

    def _accepted(self, method: str) -> None:
        now = asyncio.get_running_loop().time()
        accepted = self._recent_accepted.setdefault(method, deque())
        accepted.append(now)
        while accepted and now - accepted[0] > WORKSPACE_LIMIT_WINDOW:
            accepted.popleft()

    def _rate_limited(self, method: str, channel: str, retry_after: float) -> None:
        """Slack said 429: this channel waits Retry-After; so does the whole method when
        several channels hear it at once (a workspace-wide limit)."""
        self.rate_limited += 1
        self.metrics.rate_limited(method, retry_after)
        now = asyncio.get_running_loop().time()
        self._next_slot[channel] = now + retry_after
        recent = [
            (at, ch)
            for at, ch in self._recent_429s.get(method, [])
            if now - at <= WORKSPACE_LIMIT_WINDOW
        ]
        recent.append((now, channel))
        self._recent_429s[method] = recent
        accepted = sum(
            1 for at in self._recent_accepted.get(method, ()) if now - at <= WORKSPACE_LIMIT_WINDOW
        )
        if len({ch for _, ch in recent}) >= WORKSPACE_LIMIT_CHANNELS and len(recent) > accepted:
            until = now + retry_after
            if until > self._method_paused_until.get(method, 0.0):
                log.info(
                    "outbox: %s rate-limited workspace-wide; pausing %.1fs", method, retry_after
                )
                self._method_paused_until[method] = until
            self._recent_429s[method] = []

    def _method_pause_left(self, method: str) -> float:
        """Seconds until `method` may be called again after a workspace-wide 429 (0 if now)."""
        return max(
            0.0, self._method_paused_until.get(method, 0.0) - asyncio.get_running_loop().time()
        )

    async def _still_mine(self, row: OutboxMessage) -> bool:
        """Renew the lease just before calling Slack; False if another worker took the row.

        A row claimed moments ago is ours without asking: nobody may take it before its lease
        ends. Only one that waited (pacing, a pause) for part of its lease is renewed."""
        loop = asyncio.get_running_loop()
        if loop.time() < self._renew_at.get(row.id, 0.0):  # type: ignore[arg-type]
            return True
        async with self.db.queued_session() as session:
            result = await session.exec(  # type: ignore[call-overload]
                update(OutboxMessage)
                .where(
                    col(OutboxMessage.id) == row.id,
                    col(OutboxMessage.claimed_by) == self.worker_id,
                    col(OutboxMessage.status) == "sending",
                )
                .values(lease_until=utcnow() + self.lease)
            )
        if result.rowcount != 1:
            self._renew_at.pop(row.id, None)  # type: ignore[arg-type]
            return False
        self._renew_at[row.id] = loop.time() + self.lease.total_seconds() * RENEW_AFTER  # type: ignore[index]
        return True

    async def _retry_later(self, row: OutboxMessage, error: str) -> int:
        if row.attempts >= MAX_ATTEMPTS:
            await self._finish(row, status="failed", error=f"gave up after {row.attempts}: {error}")
            return 1
        delay = min(2 ** (row.attempts - 1), 60) * (0.75 + random.random() / 2)
        await self._release(row, delay=delay, count_attempt=True, error=error)
        return 0

    async def _payload(
        self, row: OutboxMessage, dependency: OutboxMessage | None
    ) -> dict[str, Any]:
        payload = dict(row.payload)
        if "render" in payload:
            payload = await self.renderers[payload.pop("render")](self.db, payload)
        if dependency is not None:
            payload["channel"] = dependency.result_channel or payload.get("channel")
            if row.method == "chat.update":
                payload["ts"] = dependency.result_ts
            elif row.method == "chat.postMessage":
                payload["thread_ts"] = dependency.result_ts
        if row.method == "chat.postMessage":
            payload["metadata"] = {
                "event_type": METADATA_EVENT,
                "event_payload": {"outbox_id": row.id},
            }
        return payload

    async def _call(
        self, row: OutboxMessage, dependency: OutboxMessage | None
    ) -> tuple[str | None, str | None]:
        payload = await self._payload(row, dependency)
        if row.method == "files.upload_v2":
            content = base64.b64decode(payload.pop("content_b64"))
            channel = payload.pop("channel")
            if channel.startswith(("U", "W")):  # a user: the file goes to their DM
                opened = await self.client.conversations_open(users=channel)
                channel = opened["channel"]["id"]
            await self.client.files_upload_v2(content=content, channel=channel, **payload)
            return None, channel
        response = await self.client.api_call(row.method, json=payload)
        return response.get("ts") or response.get("message_ts"), response.get("channel")

    async def _already_posted(
        self, row: OutboxMessage, dependency: OutboxMessage | None
    ) -> tuple[str, str] | None:
        """After a crash mid-send, find the message Slack may already have accepted."""
        channel = dependency.result_channel if dependency else row.channel
        if channel is None:
            return None
        if channel.startswith(("U", "W")):
            opened = await self.client.conversations_open(users=channel)
            channel = opened["channel"]["id"]
        kwargs: dict[str, Any] = {"channel": channel, "limit": 100, "include_all_metadata": True}
        if dependency is not None and dependency.result_ts:
            history = await self.client.conversations_replies(ts=dependency.result_ts, **kwargs)
        else:
            oldest = (row.created_at - timedelta(minutes=1)).timestamp()
            history = await self.client.conversations_history(oldest=f"{oldest:.6f}", **kwargs)
        for message in history.get("messages", []):
            metadata = message.get("metadata") or {}
            if (
                metadata.get("event_type") == METADATA_EVENT
                and metadata.get("event_payload", {}).get("outbox_id") == row.id
            ):
                return message["ts"], channel
        return None

    async def _release(
        self, row: OutboxMessage, *, delay: float, count_attempt: bool, error: str | None = None
    ) -> None:
        self._renew_at.pop(row.id, None)  # type: ignore[arg-type]
        values: dict[str, Any] = {
            "status": "pending",
            "lease_until": None,
            "available_at": utcnow() + timedelta(seconds=delay),
        }
        if not count_attempt:
            values["attempts"] = OutboxMessage.attempts - 1
        if error is not None:
            values["error"] = error
        await self._update(row, values)

    async def _finish(
        self,
        row: OutboxMessage,
        *,
        status: str,
        ts: str | None = None,
        channel: str | None = None,
        error: str | None = None,
    ) -> None:
        self._renew_at.pop(row.id, None)  # type: ignore[arg-type]
        if status == "sent" and self._sent is not None:  # marked with the round's others
            self._sent.append((row, ts, channel))
            return
        if row.batch == FORGET_WHEN_SENT:  # on every terminal outcome, sent or failed
            async with self.db.queued_session() as session:
                await session.exec(  # type: ignore[call-overload]
                    delete(OutboxMessage).where(
                        col(OutboxMessage.id) == row.id,
                        col(OutboxMessage.claimed_by) == self.worker_id,
                    )
                )
            return
        values: dict[str, Any] = {"status": status, "lease_until": None, "error": error}
        if status == "sent":
            values.update(result_ts=ts, result_channel=channel or row.channel, sent_at=utcnow())
        await self._update(row, values)

    async def _update(self, row: OutboxMessage, values: dict[str, Any]) -> None:
        # Retried, because losing the "sent" mark would mean a duplicate after the lease.
        for attempt in range(5):
            try:
                async with self.db.queued_session() as session:
                    await session.exec(  # type: ignore[call-overload]
                        update(OutboxMessage)
                        .where(
                            col(OutboxMessage.id) == row.id,
                            col(OutboxMessage.claimed_by) == self.worker_id,
                        )
                        .values(**values)
                    )
                return
            except Exception:
                if attempt == 4:
                    raise
                await asyncio.sleep(0.2 * 2**attempt)
