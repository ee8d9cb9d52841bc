"""The ticker: APScheduler 3.x only wakes us; what is due is decided by querying the database.

Each tick job claims its work atomically (see bot.delivery.outbox and the reminder/deadline
services), so several replicas may tick at once. APScheduler's in-memory job store is never
shared. Which jobs run on a tick is the list the composition root gives (bot/app/wiring.py).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, Protocol, TypeVar

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.delivery.metrics import Metrics
from storage.models import utcnow

log = logging.getLogger(__name__)


T = TypeVar("T")


class TickContext(Protocol):
    """What the ticker needs of the services it hands each job (bot.core.services.Services)."""

    last_tick: datetime | None
    metrics: Metrics

    def track(self, task: asyncio.Task[T]) -> asyncio.Task[T]: ...

    async def give_way(self) -> bool: ...


C = TypeVar("C", bound=TickContext)


@dataclass(frozen=True)
class Tick(Generic[C]):
    """One job run on every tick (e.g. due reminders, deadlines)."""

    name: str
    run: Callable[[C], Awaitable[object]]


async def run_ticks(services: C, ticks: Sequence[Tick[C]]) -> None:
    task = asyncio.current_task()
    if task is not None:  # stop lets a tick in progress finish rather than cancel it mid-query
        services.track(task)
    await services.give_way()  # a second or two late is fine; a missed ack is not
    for tick in ticks:
        try:
            with services.metrics.tick_seconds.labels(tick.name).time():
                await tick.run(services)
        except Exception:  # one failing job must not stop the others or the ticker
            log.exception("tick %s failed", tick.name)
    services.last_tick = utcnow()  # for /healthz: a tick that never finishes is a stuck one


def make_scheduler(
    services: C, ticks: Sequence[Tick[C]], *, interval_seconds: float = 5.0
) -> AsyncIOScheduler:
    scheduler = AsyncIOScheduler()
    scheduler.add_job(
        run_ticks,
        "interval",
        seconds=interval_seconds,
        args=[services, list(ticks)],
        id="consultbot-tick",
        max_instances=1,
        coalesce=True,
        misfire_grace_time=None,
    )
    return scheduler
