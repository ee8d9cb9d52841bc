"""The workspace's people: a listing kept a few minutes; recording may take an old one at once."""

from __future__ import annotations

import asyncio
from typing import Any

from bot.slack.people import WorkspacePeople


class SlowListing:
    """users.list in one page that takes a while; the names change between listings."""

    def __init__(self) -> None:
        self.listings = 0

    async def users_list(self, **_: Any) -> dict[str, Any]:
        self.listings += 1
        await asyncio.sleep(0.05)
        return {"members": [{"id": "U1", "real_name": f"Ann (listing {self.listings})"}]}

    async def users_info(self, **_: Any) -> dict[str, Any]:
        raise AssertionError("everyone is in the listing")


async def test_a_stale_listing_is_used_at_once_and_replaced_in_the_background() -> None:
    slack = SlowListing()
    people = WorkspacePeople(slack, ttl=0.0)  # type: ignore[arg-type]
    await people.people(["U1"])  # listed once

    found = await asyncio.wait_for(
        asyncio.gather(*(people.people(["U1"], stale_ok=True) for _ in range(5))), timeout=0.04
    )  # far quicker than a listing

    assert {f["U1"].name for f in found} == {"Ann (listing 1)"}
    await asyncio.sleep(0.1)
    assert slack.listings == 2  # one refresh for the five, done in the background
    assert (await people.people(["U1"], stale_ok=True))["U1"].name == "Ann (listing 2)"
    await asyncio.sleep(0.1)  # the refresh that call started


async def test_with_no_listing_yet_the_first_caller_waits_for_one() -> None:
    slack = SlowListing()
    people = WorkspacePeople(slack)  # type: ignore[arg-type]

    found = await people.people(["U1"], stale_ok=True)

    assert found["U1"].name == "Ann (listing 1)" and slack.listings == 1


async def test_without_stale_ok_a_stale_listing_is_replaced_before_answering() -> None:
    slack = SlowListing()
    people = WorkspacePeople(slack, ttl=0.0)  # type: ignore[arg-type]
    await people.people(["U1"])

    found = await people.people(["U1"])

    assert found["U1"].name == "Ann (listing 2)"
