"""Launching a consultation: one post per target network channel, through the outbox.

Launch is idempotent: the posts are keyed `post:<consultation>:<network>`, so launching twice,
or a launch retried after a crash, never posts a network twice.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import update
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.consultations.blocks.posts import consultation_post
from bot.consultations.catalogue import (
    ConsultationError,
    get_consultation,
    respondents_by_network,
    target_networks,
)
from bot.core.audit import record
from bot.core.services import Services
from bot.core.settings import ANON_SECRET_MISSING
from bot.delivery.outbox import BatchProgress, batch_progress, enqueue
from storage.db import Database
from storage.models import (
    Consultation,
    ConsultationPost,
    Network,
    OutboxMessage,
    utcnow,
)

PROGRESS_THROTTLE_SECONDS = 5


def launch_batch(consultation_id: str) -> str:
    return f"launch:{consultation_id}"


@dataclass(frozen=True)
class LaunchStarted:
    consultation_id: str
    networks: list[Network]
    newly_queued: int


# Run in the transaction that opens a draft (e.g. the scheduler's note to whoever scheduled it).
OnLaunched = Callable[[AsyncSession, Consultation], Awaitable[None]]


async def start_launch(
    services: Services,
    consultation_id: str,
    *,
    actor: str,
    on_launched: OnLaunched | None = None,
) -> LaunchStarted:
    """Open the consultation and queue its posts (in one transaction), then wake the outbox."""
    view = await get_consultation(services.db, consultation_id)
    consultation = view.consultation
    if consultation.status == "closed":
        raise ConsultationError(f"'{consultation_id}' is closed; extend it to reopen it.")
    if consultation.deadline <= utcnow():
        raise ConsultationError(
            f"The deadline of '{consultation_id}' has passed; extend it before launching."
        )
    if consultation.anonymous and not services.anon_secret:
        # Without the key outside the database, answers could only be pseudonymised with one
        # kept beside them (or none): refused, saying how to make one.
        raise ConsultationError(f"'{consultation_id}' is anonymous. {ANON_SECRET_MISSING}.")
    networks = await target_networks(services.db, consultation)
    if not networks:
        raise ConsultationError("There are no networks to post to; load the directory first.")
    counts = await respondents_by_network(services.db, consultation_id)
    queued = 0
    async with services.db.session() as session:
        stored = await session.get(Consultation, consultation_id)
        assert stored is not None
        if stored.status == "draft":
            stored.status = "open"
            stored.launched_at = utcnow()
            stored.launched_by = actor
            session.add(stored)
            for hook in services.hooks.on_open:  # e.g. the reminder plan, in this transaction
                await hook(session, stored, utcnow())
            if on_launched is not None:
                await on_launched(session, stored)
        for network in networks:
            existing = await session.get(ConsultationPost, (consultation_id, network.id))
            if existing is not None:
                # A post that failed (e.g. the bot was not in the channel) is tried again.
                retried = await session.exec(  # type: ignore[call-overload]
                    update(OutboxMessage)
                    .where(
                        col(OutboxMessage.id) == existing.outbox_id,
                        col(OutboxMessage.status) == "failed",
                    )
                    .values(
                        status="pending",
                        attempts=0,
                        error=None,
                        available_at=utcnow(),
                        channel=network.channel_id,
                    )
                )
                queued += retried.rowcount
                continue
            row = await enqueue(
                session,
                dedup_key=f"post:{consultation_id}:{network.id}",
                method="chat.postMessage",
                channel=network.channel_id,
                payload={
                    "channel": network.channel_id,
                    **consultation_post(
                        view, network_name=network.name, respondents=counts.get(network.id, 0)
                    ),
                },
                consultation_id=consultation_id,
                batch=launch_batch(consultation_id),
            )
            session.add(
                ConsultationPost(
                    consultation_id=consultation_id,
                    network_id=network.id,
                    channel_id=network.channel_id,
                    outbox_id=row.id,
                )
            )
            queued += 1
        record(
            session,
            actor,
            "consultation.launch",
            consultation_id,
            networks=[n.id for n in networks],
            queued=queued,
        )
    # Members press Respond as soon as the posts appear: the hooks have what answering reads ready.
    services.after_change(consultation_id)
    services.outbox.wake()
    return LaunchStarted(consultation_id, networks, queued)


async def launch_progress(db: Database, consultation_id: str) -> BatchProgress:
    return await batch_progress(db, launch_batch(consultation_id))


async def wait_for_launch(
    db: Database,
    consultation_id: str,
    on_progress: Callable[[BatchProgress], Awaitable[None]] | None = None,
    *,
    timeout: float = 600.0,
    interval: float = 1.0,
) -> BatchProgress:
    """Poll the launch batch until every post is sent or failed, reporting changes."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    last: tuple[int, int] | None = None
    while True:
        progress = await launch_progress(db, consultation_id)
        if on_progress is not None and (progress.sent, progress.failed) != last:
            last = (progress.sent, progress.failed)
            await on_progress(progress)
        if progress.done or loop.time() > deadline:
            return progress
        await asyncio.sleep(interval)


# --- keeping the posts current ----------------------------------------------------------------


def progress_bucket(now: datetime) -> int:
    return math.floor(now.timestamp() / PROGRESS_THROTTLE_SECONDS)


class QueuedProgress:
    """The progress updates this process has queued in the current time bucket. Once a
    network's update for a bucket is queued, later answers in that bucket need no write of
    their own: the update is rendered when it is sent, at the bucket's end, so it counts them."""

    def __init__(self) -> None:
        self._bucket: int | None = None
        self._queued: set[tuple[str, str]] = set()

    def _marks(self, now: datetime) -> set[tuple[str, str]]:
        """The marks of `now`'s bucket (those of any other bucket are dropped: at worst an
        update is written twice, which its key makes harmless)."""
        bucket = progress_bucket(now)
        if bucket != self._bucket:
            self._bucket, self._queued = bucket, set()
        return self._queued

    def still_to_queue(
        self, consultation_id: str, network_ids: list[str], now: datetime
    ) -> list[str]:
        marks = self._marks(now)
        return [n for n in network_ids if (consultation_id, n) not in marks]

    def mark_queued(self, consultation_id: str, network_ids: list[str], now: datetime) -> None:
        """Call only once the updates written with this `now` are committed."""
        self._marks(now).update((consultation_id, n) for n in network_ids)


async def refresh_posts(
    session: Any,
    consultation_id: str,
    network_ids: list[str],
    *,
    reason: str = "progress",
    now: datetime | None = None,
) -> None:
    """Queue a chat.update of the consultation post in each network, at most one per channel
    every few seconds: rows are keyed by a time bucket and rendered when they are sent."""
    now = now or utcnow()
    bucket = progress_bucket(now)
    # A progress update waits for the end of its bucket, so it carries every answer in it.
    send_at = (
        datetime.fromtimestamp((bucket + 1) * PROGRESS_THROTTLE_SECONDS, UTC)
        if reason == "progress"
        else now
    )
    for network_id in network_ids:
        post = await session.get(ConsultationPost, (consultation_id, network_id))
        if post is None or post.outbox_id is None:
            continue
        key = f"{reason}:{consultation_id}:{network_id}"
        if reason == "progress":
            key += f":{bucket}"
        await enqueue(
            session,
            dedup_key=key,
            method="chat.update",
            channel=post.channel_id,
            payload={
                "render": "consultation_post",
                "consultation_id": consultation_id,
                "network_id": network_id,
            },
            depends_on_id=post.outbox_id,
            consultation_id=consultation_id,
            available_at=send_at,
        )


async def render_consultation_post(db: Database, payload: dict[str, Any]) -> dict[str, Any]:
    """The post as it should look now: current count, and Closed once the consultation is."""
    consultation_id, network_id = payload["consultation_id"], payload["network_id"]
    view = await get_consultation(db, consultation_id)
    async with db.read_session() as session:
        network = await session.get(Network, network_id)
        post = await session.get(ConsultationPost, (consultation_id, network_id))
    counts = await respondents_by_network(db, consultation_id)
    closed = view.consultation.status == "closed"
    return {
        "channel": post.channel_id if post else "",
        **consultation_post(
            view,
            network_name=network.name if network else network_id,
            respondents=counts.get(network_id, 0),
            closed=closed,
        ),
    }
