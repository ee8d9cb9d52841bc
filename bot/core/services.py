"""The services one running consultbot shares: settings, database, Slack client, outbox."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, TypeVar, cast

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from slack_sdk.web.async_client import AsyncWebClient
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core.settings import Settings
from bot.core.throttle import CommandThrottle
from bot.delivery.metrics import Metrics
from bot.delivery.outbox import OutboxWorker
from bot.slack.membership import ChannelMembers
from bot.slack.people import WorkspacePeople
from storage.db import Database
from storage.models import Consultation

if TYPE_CHECKING:  # the rooms' per-process parts, named here for their types only
    from bot.answering.inbox import InboxWorker
    from bot.answering.responding import AnsweringCaches
    from bot.consultations.launch import QueuedProgress

T = TypeVar("T")

# In the transaction that opens a consultation (launch, or an extend that reopens or moves it).
OnOpen = Callable[[AsyncSession, Consultation, datetime], Awaitable[None]]
# In the transaction that closes one; returns figures for the audit entry (e.g. reminders cancelled).
OnClose = Callable[[AsyncSession, str], Awaitable[Mapping[str, int]]]
# After any lifecycle change has committed, in this process (e.g. forget cached state).
AfterChange = Callable[["Services", str], None]


@dataclass
class LifecycleHooks:
    """What other rooms do when a consultation opens, closes or changes: listed by the
    composition root (bot/app/wiring.py), run by the lifecycle services themselves."""

    on_open: list[OnOpen] = field(default_factory=list)
    on_close: list[OnClose] = field(default_factory=list)
    after_change: list[AfterChange] = field(default_factory=list)


@dataclass
class RequestLoad:
    """How many Slack requests are being handled right now, and how fast they arrive.

    Background work (recording accepted answers, sending receipts) gives way while a rush is
    on, so the acks Slack waits for (3 s at most) get the CPU first. Measured with two
    `consultbot run` replicas behind a proxy (bench/rush.py --replicas 2), counting only the
    requests in flight left each process "not busy" through the rush, and recording took the
    CPU from the acks: ack p50/p99 106/349 ms; with the arrival rate counted too, 71/219 ms."""

    in_flight: int = 0
    busy_above: int = 8
    # A rush spread over replicas (or paced by a load balancer) can leave each process with few
    # requests in flight at any moment while they still arrive hundreds a second: that is busy
    # too. Arrivals are counted per window; the current and the previous window are read.
    busy_rate: float = 100.0  # requests per second
    window: float = 0.25  # seconds
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)
    _window_started: float = field(default=0.0, init=False, repr=False)
    _arrived: int = field(default=0, init=False, repr=False)
    _arrived_before: int = field(default=0, init=False, repr=False)

    def arrived(self) -> None:
        """A Slack request came in (counted before it is handled)."""
        now = self.clock()
        if now - self._window_started >= self.window:
            # The window that just ended counts only if it was the one right before.
            recent = now - self._window_started < 2 * self.window
            self._arrived_before = self._arrived if recent else 0
            self._arrived = 0
            self._window_started = now
        self._arrived += 1

    @property
    def busy(self) -> bool:
        if self.in_flight > self.busy_above:
            return True
        since = self.clock() - self._window_started
        if since >= 2 * self.window:  # nothing has arrived for a whole window
            return False
        # The window in progress, or the one just ended, and the one before it while the
        # current one is still young.
        recent = max(self._arrived, self._arrived_before if since < self.window else 0)
        return recent > self.busy_rate * self.window

    async def keep_share(self, worked: float, share: float) -> None:
        """After `worked` seconds of background work: while requests are still queueing, pause
        long enough that the work took at most `share` of the time; no longer once they stop."""
        pause = worked * (1 / share - 1)
        while self.busy and pause > 0:
            await asyncio.sleep(min(pause, 0.02))
            pause -= 0.02

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
    # This process's Prometheus metrics (its own registry), served on GET /metrics.
    metrics: Metrics
    # The pseudonymisation key: kept out of repr so it never reaches a log or traceback.
    anon_secret: str = field(default="", repr=False)
    members: ChannelMembers = field(init=False)
    people: WorkspacePeople = field(init=False)
    load: RequestLoad = field(default_factory=RequestLoad)
    # Per-user throttle of the slash commands that call Slack (handlers/commands).
    throttle: CommandThrottle = field(default_factory=CommandThrottle)
    hooks: LifecycleHooks = field(default_factory=LifecycleHooks)
    # Records accepted submissions after the ack; set by the runtime.
    inbox: InboxWorker | None = None
    # The ticker, when this process runs one (for /healthz and an orderly stop).
    scheduler: AsyncIOScheduler | None = None
    bot_user_id: str | None = None  # from auth.test at start: the bot ignores its own messages
    # What answering reads on every submission (status, form), refreshed in the background.
    answering_caches: AnsweringCaches | None = None
    # Which channel-post count updates this process has already queued (one per 5 s bucket).
    queued_progress: QueuedProgress | None = None
    last_tick: datetime | None = None  # when the scheduler's last tick finished

    _background: set[asyncio.Task[object]] = field(default_factory=set, repr=False)

    def __post_init__(self) -> None:
        self.members = ChannelMembers(self.client, spawn=self.in_background)
        self.people = WorkspacePeople(self.client, spawn=self.in_background)

    def in_background(self, work: Coroutine[object, None, T]) -> asyncio.Task[T]:
        """Run `work` without waiting for it (holding the task, so it is not collected)."""
        return self.track(asyncio.get_running_loop().create_task(work))

    def track(self, task: asyncio.Task[T]) -> asyncio.Task[T]:
        """Have `stop_background` wait for `task`: a listener Bolt runs after the ack, a tick."""
        held = cast("asyncio.Task[object]", task)  # held only to be awaited, whatever it returns
        self._background.add(held)
        held.add_done_callback(self._background.discard)
        return task

    async def give_way(self) -> bool:
        """Background work waits (briefly) while Slack's acks queue; see RequestLoad."""
        return await self.load.give_way()

    def after_change(self, consultation_id: str) -> None:
        """Run the after-change hooks for a consultation whose state this process changed."""
        for hook in self.hooks.after_change:
            hook(self, consultation_id)

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
