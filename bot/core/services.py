"""The services one running consultbot shares: settings, database, Slack client, outbox."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.core.settings import Settings
from bot.delivery.outbox import OutboxWorker
from bot.slack.membership import ChannelMembers
from bot.slack.people import WorkspacePeople
from storage.db import Database


@dataclass
class RequestLoad:
    """How many Slack requests are being handled right now.

    Background work (recording accepted answers, sending receipts) gives way while a rush is
    on, so the acks Slack waits for (3 s at most) get the CPU first."""

    in_flight: int = 0
    busy_above: int = 8

    @property
    def busy(self) -> bool:
        return self.in_flight > self.busy_above

    async def give_way(self, max_wait: float = 2.0) -> bool:
        """Wait (a little, never more than `max_wait`) while requests are queueing. True when
        requests are still queueing after all: go ahead, but with a small piece of work."""
        waited = 0.0
        while self.busy and waited < max_wait:
            await asyncio.sleep(0.02)
            waited += 0.02
        return self.busy


@dataclass
class Services:
    settings: Settings
    db: Database
    client: AsyncWebClient
    outbox: OutboxWorker
    # The pseudonymisation key: kept out of repr so it never reaches a log or traceback.
    anon_secret: str = field(default="", repr=False)
    members: ChannelMembers = field(init=False)
    people: WorkspacePeople = field(init=False)
    load: RequestLoad = field(default_factory=RequestLoad)
    # Records accepted submissions after the ack (bot.answering.inbox.InboxWorker); set by the runtime.
    inbox: Any = None
    # Filled by the runtime: e.g. the scheduler, for health checks.
    extras: dict[str, Any] = field(default_factory=dict)
    last_tick: datetime | None = (
        None  # when the scheduler's last tick finished (bot.delivery.scheduling)
    )

    _background: set[asyncio.Task[Any]] = field(default_factory=set, repr=False)

    def __post_init__(self) -> None:
        self.members = ChannelMembers(self.client, spawn=self.in_background)
        self.people = WorkspacePeople(self.client)

    def in_background(self, work: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Run `work` without waiting for it (holding the task, so it is not collected)."""
        return self.track(asyncio.get_running_loop().create_task(work))

    def track(self, task: asyncio.Task[Any]) -> asyncio.Task[Any]:
        """Have `stop_background` wait for `task`: a listener Bolt runs after the ack, a tick."""
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    @property
    def working(self) -> int:
        """How many tasks `stop_background` would wait for (listeners after their ack, ticks,
        cache loads), leaving out the caller's own."""
        return len(self._background - {asyncio.current_task()})

    async def stop_background(self, timeout: float = 10.0) -> None:
        """Let work in flight (listeners after their ack, ticks, cache loads: all short) finish
        before the database goes. Cancelling it mid-query would leave a connection to be closed
        by a task that outlives the event loop, and hang the loop's shutdown."""
        while waiting := self._background - {asyncio.current_task()}:
            _done, pending = await asyncio.wait(waiting, timeout=timeout)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.gather(*pending, return_exceptions=True)
                return
