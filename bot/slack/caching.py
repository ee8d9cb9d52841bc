"""A small read-through cache for what the answering path reads on every request.

Each value is loaded once and kept `ttl` seconds. When it is older, callers still get it at once
while one load in the background replaces it (stale-while-revalidate), so a deadline rush never
stops to reload. Callers that miss at the same moment share one load instead of a hundred.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine, Hashable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Entry(Generic[V]):
    loaded_at: float
    value: V


class RefreshingCache(Generic[K, V]):
    def __init__(
        self,
        name: str,
        load: Callable[[K], Awaitable[V]],
        *,
        ttl: float,
        stale_limit: float | None = None,
        failure_ttl: float = 0.0,
        spawn: Callable[[Coroutine[Any, Any, V]], asyncio.Task[V]] | None = None,
    ) -> None:
        """`stale_limit`: a value older than this is never served; callers wait for a fresh
        load (so a failing background refresh cannot keep serving an old value for ever).
        `failure_ttl`: a key whose load failed fails again at once for this long, rather than
        asking again on every request (e.g. a channel the bot cannot read).
        `spawn` starts the loads (e.g. `Services.in_background`, which waits for them at stop)."""
        self.name = name
        self._load = load
        self.ttl = ttl
        self.stale_limit = stale_limit
        self._entries: dict[K, _Entry[V]] = {}
        self._loading: dict[K, asyncio.Task[V]] = {}
        self.failure_ttl = failure_ttl
        self._spawn = spawn or asyncio.create_task
        self._failures: dict[K, tuple[float, BaseException]] = {}
        self._generation = 0  # bumped by forget(): loads started before it are not kept

    async def get(self, key: K, *, max_age: float | None = None) -> V:
        """The value for `key`, loading it if there is none (or none younger than `max_age`)."""
        entry = self._entries.get(key)
        if entry is not None:
            age = time.monotonic() - entry.loaded_at
            too_old = (max_age is not None and age > max_age) or (
                self.stale_limit is not None and age > self.stale_limit
            )
            if not too_old:
                if age > self.ttl:
                    self._start_load(key, background=True)
                return entry.value
        failed = self._failures.get(key)
        if failed is not None and time.monotonic() - failed[0] < self.failure_ttl:
            raise failed[1]
        return await asyncio.shield(self._start_load(key, background=False))

    def age(self, key: K) -> float | None:
        entry = self._entries.get(key)
        return None if entry is None else time.monotonic() - entry.loaded_at

    def forget(self, key: K | None = None) -> None:
        """Drop a value (after a change made here); the next get loads it afresh."""
        self._generation += 1
        if key is None:
            self._entries.clear()
            self._loading.clear()
            self._failures.clear()
        else:
            self._entries.pop(key, None)
            self._loading.pop(key, None)
            self._failures.pop(key, None)

    def _start_load(self, key: K, *, background: bool) -> asyncio.Task[V]:
        task = self._loading.get(key)
        if task is None:
            task = self._spawn(self._load_and_keep(key, self._generation))
            self._loading[key] = task
            if background:
                task.add_done_callback(self._log_background_failure)
        return task

    async def _load_and_keep(self, key: K, generation: int) -> V:
        try:
            value = await self._load(key)
        except Exception as exc:
            if self.failure_ttl and generation == self._generation and key not in self._entries:
                self._failures[key] = (time.monotonic(), exc)
            raise
        else:
            if generation == self._generation:
                self._entries[key] = _Entry(time.monotonic(), value)
                self._failures.pop(key, None)
            return value
        finally:
            if generation == self._generation:
                self._loading.pop(key, None)

    def _log_background_failure(self, task: asyncio.Task[V]) -> None:
        if task.cancelled():
            return
        exc = task.exception()  # also marks it retrieved when nobody else awaited it
        if exc is not None:
            log.warning("%s: refresh failed, keeping the previous value: %r", self.name, exc)
