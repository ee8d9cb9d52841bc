"""Who is in a network: the members of its Slack channel (conversations.members), cached briefly.

The cache keeps the Respond click inside Slack's 3-second trigger window; a minute is short
enough that someone added to a channel can answer almost at once.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from storage.models import Network

CACHE_SECONDS = 60.0
log = logging.getLogger(__name__)


@dataclass
class ChannelMembers:
    client: AsyncWebClient
    ttl: float = CACHE_SECONDS
    _cache: dict[str, tuple[float, frozenset[str]]] = field(default_factory=dict)

    async def members(self, channel_id: str, *, fresh: bool = False) -> frozenset[str]:
        cached = self._cache.get(channel_id)
        if cached is not None and not fresh and time.monotonic() - cached[0] < self.ttl:
            return cached[1]
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
        result = frozenset(members)
        self._cache[channel_id] = (time.monotonic(), result)
        return result

    async def networks_of(self, user_id: str, networks: list[Network]) -> list[Network]:
        """The given networks whose channel `user_id` is in. A channel the bot cannot read
        (a typo in the directory, removed from a private channel) counts as empty, so one bad
        channel does not stop the members of every other network."""
        found = []
        for network in networks:
            try:
                members = await self.members(network.channel_id)
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
        if channel_id is None:
            self._cache.clear()
        else:
            self._cache.pop(channel_id, None)
