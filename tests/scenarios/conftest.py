from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.demo.sandbox.harness import Harness


@pytest.fixture
async def harness(database_url: str) -> AsyncIterator[Harness]:
    """consultbot in HTTP mode against the sandbox, with the example workspace and directory."""
    async with Harness(database_url) as h:
        await h.load_examples()
        yield h
