"""The inbox worker: records accepted submissions (bot.answering.responding) outside the request path.

A rush of submissions is acked as fast as one INSERT each; recording them (revision, receipt,
the post's count) happens here in batches sized to the backlog, oldest first: whatever is
waiting, up to BATCH_SIZE, is recorded in one transaction with a few statements for the whole
batch, so recording keeps up with a rush. Rows are claimed with a conditional UPDATE and a
lease, like the outbox, so replicas share the work and a crash mid-record is picked up again
once the lease expires.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from datetime import timedelta

from sqlalchemy import or_, update
from sqlmodel import col, select

from bot.consultations.catalogue import get_consultation
from bot.delivery.outbox import FORGET_WHEN_SENT, enqueue
from bot.slack.blocks import ephemeral_text
from bot.slack.text import escape
from storage.models import InboxSubmission, utcnow

log = logging.getLogger(__name__)

LEASE = timedelta(seconds=60)
MAX_ATTEMPTS = 5
# The most submissions a worker records in one transaction: a batch is whatever waits, up to
# this. While Slack's acks are queueing, batches are kept to BUSY_BATCH_SIZE, so no stretch of
# recording holds the event loop for long. 100 rather than more: each batch's receipts go out
# while the next batch records, so receipts follow their answers within a second or so (with
# 400, recording ran ahead of the receipts and the last ones came 1-2.5 s after their answers
# were recorded: bench/rush.py), and recording still runs at about 450 answers/s on PostgreSQL.
BATCH_SIZE = 100
BUSY_BATCH_SIZE = 50
BUSY_SHARE = 0.15  # of the time, at most, while requests are queueing
PARKED = timedelta(days=3650)


class InboxWorker:
    def __init__(self, services: object, *, concurrency: int = 1, poll_interval: float = 0.5):
        from bot.core.services import Services

        assert isinstance(services, Services)
        self.services = services
        self.concurrency = concurrency
        self.poll_interval = poll_interval
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:inbox"
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        if not self._tasks:
            self._tasks = [
                asyncio.create_task(self._run(), name=f"inbox-worker-{n}")
                for n in range(self.concurrency)
            ]

    async def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    def wake(self) -> None:
        self._wake.set()

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                worked = await self.record_next()
            except Exception:  # e.g. the database is restarting: try again shortly
                log.exception("inbox: round failed; retrying")
                worked = False
            if not worked:
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout=self.poll_interval)
                except TimeoutError:
                    pass
                self._wake.clear()

    async def _claim(self, limit: int) -> list[InboxSubmission]:
        """Claim up to `limit` of the oldest unclaimed submissions in one transaction (on
        PostgreSQL FOR UPDATE SKIP LOCKED: replicas take different rows, never wait)."""
        db = self.services.db
        now = utcnow()
        free = or_(
            col(InboxSubmission.lease_until).is_(None), col(InboxSubmission.lease_until) < now
        )
        async with db.queued_session() as session:
            picked = (
                await session.exec(
                    select(InboxSubmission.id)
                    .where(free)
                    .order_by(col(InboxSubmission.id))
                    .limit(limit)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            if not picked:
                return []
            await session.exec(  # type: ignore[call-overload]
                update(InboxSubmission)
                .where(col(InboxSubmission.id).in_(picked))
                .values(lease_until=now + LEASE, attempts=InboxSubmission.attempts + 1)
            )
            return list(
                (
                    await session.exec(
                        select(InboxSubmission)
                        .where(col(InboxSubmission.id).in_(picked))
                        .order_by(col(InboxSubmission.id))
                    )
                ).all()
            )

    async def record_next(self) -> bool:
        """Record the oldest unclaimed submissions; False when there were none."""
        load = self.services.load
        busy = load.busy
        rows = await self._claim(BUSY_BATCH_SIZE if busy else BATCH_SIZE)
        if not rows:
            return False
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            await self._record(rows)
        except Exception:
            if len(rows) == 1:
                raise
            # One bad submission must not hold back its neighbours: each alone.
            log.exception("inbox: a batch of %d could not be recorded; one by one", len(rows))
            for row in rows:
                await load.give_way()
                await self._record([row])
        # While Slack's acks queue, recording takes its share of the time and no more: it
        # keeps going (so it keeps up with the rush) but the acks go first.
        await load.keep_share(loop.time() - started, BUSY_SHARE)
        return True

    async def _record(self, rows: list[InboxSubmission]) -> None:
        from bot.answering.responding import record_accepted

        metrics = self.services.metrics
        try:
            with metrics.inbox_batch_seconds.time():
                recorded = await record_accepted(self.services, rows)
        except Exception as exc:
            if len(rows) > 1:
                raise
            assert rows[0].id is not None
            log.exception("inbox: could not record submission %s", rows[0].id)
            await self._park_if_hopeless(rows[0].id, f"{type(exc).__name__}: {exc}")
            return
        metrics.answers_recorded.inc(recorded)

    async def _park_if_hopeless(self, inbox_id: int, error: str) -> None:
        """After repeated failures give the member their text back, and keep the row for staff
        (not for an anonymous consultation)."""
        from bot.answering.blocks.modal import unsent_text
        from bot.answering.responding import stored_submission

        db = self.services.db
        async with db.read_session() as session:
            found = await session.get(InboxSubmission, inbox_id)
        if found is None:
            return
        # Read before the write session: a second session inside it waits on SQLite's lock.
        view = await get_consultation(db, found.consultation_id)
        async with db.session() as session:
            row = await session.get(InboxSubmission, inbox_id)
            if row is None:
                return
            row.error = error[:2000]
            if row.attempts >= MAX_ATTEMPTS:
                row.lease_until = utcnow() + PARKED
                answers = stored_submission(view, row.payload).answers
                text = unsent_text(view, answers)
                await enqueue(
                    session,
                    dedup_key=f"inbox-failed:{inbox_id}",
                    method="chat.postMessage",
                    channel=row.user_id,
                    payload={
                        "channel": row.user_id,
                        "text": "We could not record your response.",
                        "blocks": ephemeral_text(
                            ":warning: Sorry — we could not record your response to "
                            f"*{escape(view.consultation.title)}*. Please send it to the policy "
                            "team another way. Here is what you wrote:\n\n" + text[:2500]
                        ),
                    },
                    consultation_id=row.consultation_id,
                    # Anonymous: the DM naming the member goes once sent, like receipts.
                    batch=FORGET_WHEN_SENT if view.consultation.anonymous else None,
                )
                if view.consultation.anonymous:
                    # Nothing may tie a member to their answers: they have their text back,
                    # so no row is kept for staff.
                    await session.delete(row)
                    return
            session.add(row)


async def backlog(db: object) -> int:
    from sqlalchemy import func

    from storage.db import Database

    assert isinstance(db, Database)
    async with db.read_session() as session:
        return (await session.exec(select(func.count()).select_from(InboxSubmission))).one()


async def backlog_by_state(db: object) -> dict[str, int]:
    """Submissions in the inbox by state: waiting to be claimed, being recorded (claimed, on a
    lease), parked for staff after repeated failures."""
    from sqlalchemy import case, func

    from storage.db import Database

    assert isinstance(db, Database)
    now = utcnow()
    state = case(
        (col(InboxSubmission.attempts) >= MAX_ATTEMPTS, "parked"),
        (col(InboxSubmission.lease_until) >= now, "recording"),
        else_="waiting",
    )
    async with db.read_session() as session:
        rows = (await session.exec(select(state, func.count()).group_by(state))).all()
    counts = {"waiting": 0, "recording": 0, "parked": 0}
    counts.update({name: count for name, count in rows})
    return counts
