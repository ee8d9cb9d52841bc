"""Who is in a network: the members of its Slack channel (conversations.members), cached briefly.

The cache keeps the Respond click inside Slack's 3-second trigger window: a channel is read once a
minute, in the background, however many members are answering. Someone added to a channel since
is looked up again when they press Respond, so they can answer at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.caching import RefreshingCache
from bot.slack.people import WorkspacePeople
from storage.models import Network

CACHE_SECONDS = 60.0
# Someone just added to a channel who presses Respond is looked up again, at most this often per
# channel, rather than told they are not consulted until the cache expires.
MISS_RECHECK_SECONDS = 10.0
log = logging.getLogger(__name__)


@dataclass
class ChannelMembers:
    client: AsyncWebClient
    ttl: float = CACHE_SECONDS
    miss_recheck: float = MISS_RECHECK_SECONDS
    spawn: Callable[[Coroutine[Any, Any, frozenset[str]]], asyncio.Task[frozenset[str]]] | None = (
        None
    )
    _cache: RefreshingCache[str, frozenset[str]] = field(init=False)

    def __post_init__(self) -> None:
        self._cache = RefreshingCache(
            "channel members",
            self._read,
            ttl=self.ttl,
            failure_ttl=self.miss_recheck,
            spawn=self.spawn,
        )

    async def _read(self, channel_id: str) -> frozenset[str]:
        members: list[str] = []
        cursor: str | None = None
        while True:
            page = await self.client.conversations_members(
                channel=channel_id, limit=1000, cursor=cursor
            )
            members.extend(page.get("members", []))
            cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
            if not cursor:
                break
        return frozenset(members)

    async def members(
        self, channel_id: str, *, fresh: bool = False, max_age: float | None = None
    ) -> frozenset[str]:
        """The channel's members; `fresh` reads Slack now rather than the cache, `max_age`
        accepts a reading at most that many seconds old."""
        return await self._cache.get(channel_id, max_age=0.0 if fresh else max_age)

    async def networks_of(self, user_id: str, networks: list[Network]) -> list[Network]:
        """The given networks whose channel `user_id` is in. A channel the bot cannot read
        (a typo in the directory, removed from a private channel) counts as empty, so one bad
        channel does not stop the members of every other network."""
        found = await self._networks_of(user_id, networks, max_age=None)
        if not found:
            found = await self._networks_of(user_id, networks, max_age=self.miss_recheck)
        return found

    async def _networks_of(
        self, user_id: str, networks: list[Network], *, max_age: float | None
    ) -> list[Network]:
        found = []
        for network in networks:
            try:
                members = await self._cache.get(network.channel_id, max_age=max_age)
            except SlackApiError as exc:
                log.warning(
                    "cannot read the members of %s (%s): %s",
                    network.id,
                    network.channel_id,
                    exc.response.get("error"),
                )
                continue
            if user_id in members:
                found.append(network)
        return found

    def forget(self, channel_id: str | None = None) -> None:
        self._cache.forget(channel_id)


async def network_people_counts(
    members: ChannelMembers, people: WorkspacePeople, channels: Mapping[str, str]
) -> dict[str, int]:
    """How many people each network has (network id -> channel id given): the members of its
    channel who can answer, so not bots, app users (this bot included) or deactivated
    accounts, as a reminder round counts them. The one count behind "x of y members" in
    summaries, exports and the draft. A channel that cannot be read is left out (its members
    then fall back to its respondents); someone Slack does not describe is counted."""
    found: dict[str, frozenset[str]] = {}
    for network_id, channel_id in channels.items():
        try:
            found[network_id] = await members.members(channel_id)
        except Exception as exc:  # not in the channel, or Slack unreachable: fall back
            log.warning("cannot count the members of %s: %r", network_id, exc)
    try:
        known = await people.people(sorted(set().union(*found.values()))) if found else {}
    except Exception as exc:  # who is a bot is unknown: every channel member counts
        log.warning("cannot tell people from bots: %r", exc)
        known = {}
    not_people = {user_id for user_id, person in known.items() if not person.is_human}
    return {network_id: len(ids - not_people) for network_id, ids in found.items()}
