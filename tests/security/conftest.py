from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.demo.sandbox.harness import Harness


@pytest.fixture
async def harness(database_url: str) -> AsyncIterator[Harness]:
    """consultbot in HTTP mode against the sandbox, example workspace and directory, with a key."""
    async with Harness(database_url) as h:
        await h.load_examples()
        yield h


@pytest.fixture
async def keyless_harness(database_url: str) -> AsyncIterator[Harness]:
    """The same, started without CONSULTBOT_ANON_SECRET."""
    async with Harness(database_url, anon_secret="") as h:
        await h.load_examples()
        yield h
