"""The ticker: APScheduler 3.x only wakes us; what is due is decided by querying the database.

Each tick job claims its work atomically (see bot.delivery.outbox and the reminder/deadline services), so
several replicas may tick at once. APScheduler's in-memory job store is never shared.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.core.services import Services
from storage.models import utcnow

log = logging.getLogger(__name__)

Tick = Callable[[Services], Awaitable[object]]
TICKS: dict[str, Tick] = {}


def tick(name: str) -> Callable[[Tick], Tick]:
    """Register a coroutine run on every tick (e.g. due reminders, deadlines)."""

    def register(func: Tick) -> Tick:
        TICKS[name] = func
        return func

    return register


async def run_ticks(services: Services) -> None:
    task = asyncio.current_task()
    if task is not None:  # stop lets a tick in progress finish rather than cancel it mid-query
        services.track(task)
    await services.load.give_way()  # a second or two late is fine; a missed ack is not
    for name, func in list(TICKS.items()):
        try:
            await func(services)
        except Exception:  # one failing job must not stop the others or the ticker
            log.exception("tick %s failed", name)
    services.last_tick = utcnow()  # for /healthz: a tick that never finishes is a stuck one


def make_scheduler(services: Services, *, interval_seconds: float = 5.0) -> AsyncIOScheduler:
    scheduler = AsyncIOScheduler()
    scheduler.add_job(
        run_ticks,
        "interval",
        seconds=interval_seconds,
        args=[services],
        id="consultbot-tick",
        max_instances=1,
        coalesce=True,
        misfire_grace_time=None,
    )
    return scheduler
