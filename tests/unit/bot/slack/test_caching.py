"""RefreshingCache: one load for many callers, stale values served while one refresh runs."""

from __future__ import annotations

import asyncio

import pytest

from bot.slack.caching import RefreshingCache


class Source:
    """A slow loader that counts its calls and can be told to fail."""

    def __init__(self) -> None:
        self.calls = 0
        self.version = 1
        self.fail = False
        self.release = asyncio.Event()
        self.release.set()

    async def load(self, key: str) -> str:
        self.calls += 1
        await self.release.wait()
        if self.fail:
            raise RuntimeError("source down")
        return f"{key}-v{self.version}"


async def test_a_hundred_callers_who_miss_together_share_one_load() -> None:
    source = Source()
    source.release.clear()
    cache: RefreshingCache[str, str] = RefreshingCache("t", source.load, ttl=60)

    waiting = [asyncio.create_task(cache.get("a")) for _ in range(100)]
    await asyncio.sleep(0)
    source.release.set()

    assert set(await asyncio.gather(*waiting)) == {"a-v1"}
    assert source.calls == 1


async def test_an_old_value_is_served_at_once_while_one_refresh_replaces_it() -> None:
    source = Source()
    cache: RefreshingCache[str, str] = RefreshingCache("t", source.load, ttl=0.0)
    assert await cache.get("a") == "a-v1"

    source.version = 2
    source.release.clear()
    assert [await cache.get("a") for _ in range(5)] == ["a-v1"] * 5  # nobody waits
    await asyncio.sleep(0)
    assert source.calls == 2  # one refresh, however many asked
    source.release.set()
    await asyncio.sleep(0.01)

    assert await cache.get("a") == "a-v2"


async def test_a_failed_refresh_keeps_the_previous_value() -> None:
    source = Source()
    cache: RefreshingCache[str, str] = RefreshingCache("t", source.load, ttl=0.0)
    await cache.get("a")
    source.fail = True

    assert await cache.get("a") == "a-v1"
    await asyncio.sleep(0.01)
    assert await cache.get("a") == "a-v1"


async def test_past_the_stale_limit_callers_wait_for_a_fresh_value() -> None:
    source = Source()
    cache: RefreshingCache[str, str] = RefreshingCache("t", source.load, ttl=0.0, stale_limit=0.0)
    await cache.get("a")
    source.version = 2

    assert await cache.get("a") == "a-v2"
    source.fail = True
    with pytest.raises(RuntimeError):
        await cache.get("a")


async def test_max_age_asks_for_a_fresher_value_than_the_cache_keeps() -> None:
    source = Source()
    cache: RefreshingCache[str, str] = RefreshingCache("t", source.load, ttl=60)
    await cache.get("a")
    source.version = 2

    assert await cache.get("a") == "a-v1"
    assert await cache.get("a", max_age=0.0) == "a-v2"


async def test_a_failure_is_remembered_briefly_instead_of_asked_again_each_time() -> None:
    source = Source()
    source.fail = True
    cache: RefreshingCache[str, str] = RefreshingCache("t", source.load, ttl=60, failure_ttl=60)

    for _ in range(3):
        with pytest.raises(RuntimeError):
            await cache.get("a")
    assert source.calls == 1

    cache.forget("a")
    source.fail = False
    assert await cache.get("a") == "a-v1"


async def test_forget_drops_a_load_that_started_before_it() -> None:
    source = Source()
    source.release.clear()
    cache: RefreshingCache[str, str] = RefreshingCache("t", source.load, ttl=60)
    before = asyncio.create_task(cache.get("a"))
    await asyncio.sleep(0)

    cache.forget("a")  # e.g. the consultation was closed here meanwhile
    source.version = 2
    source.release.set()
    await before

    assert await cache.get("a") == "a-v2"
