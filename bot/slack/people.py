"""Who the people in the network channels are (time zone, bot, deactivated), from Slack.

A reminder round needs this for every channel member. `users.list` gives 200 people a call
(Tier 2, about 20 calls a minute), where `users.info` gives one (Tier 4, about 100 a minute):
for 2,000 members that is 10 calls instead of 2,000. `users.info` is kept for the few a listing
does not include (e.g. people from another workspace in a shared channel).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

log = logging.getLogger(__name__)

LISTING_SECONDS = 300.0
NOT_PEOPLE = frozenset({"USLACKBOT"})


@dataclass(frozen=True)
class SlackPerson:
    user_id: str
    tz: str | None
    is_human: bool  # not a bot, app user or deactivated account
    name: str | None = None  # real name, else display name, else handle


def _person(user: dict[str, Any]) -> SlackPerson:
    human = not (
        user.get("deleted")
        or user.get("is_bot")
        or user.get("is_app_user")
        or user.get("id") in NOT_PEOPLE
    )
    profile = user.get("profile") if isinstance(user.get("profile"), dict) else {}
    name = (
        user.get("real_name")
        or profile.get("real_name")
        or profile.get("display_name")
        or user.get("name")
    )
    return SlackPerson(
        user_id=str(user.get("id")),
        tz=user.get("tz"),
        is_human=human,
        name=name if isinstance(name, str) else None,
    )


@dataclass
class WorkspacePeople:
    client: AsyncWebClient
    ttl: float = LISTING_SECONDS
    _listing: dict[str, SlackPerson] = field(default_factory=dict)
    _listed_at: float | None = None
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    # Starts a refresh without waiting for it (e.g. `Services.in_background`, which waits for
    # it at stop); by default a plain task.
    spawn: Callable[[Coroutine[Any, Any, None]], asyncio.Task[None]] | None = None
    _refreshing: asyncio.Task[None] | None = field(default=None, repr=False)

    async def _refresh(self) -> None:
        people: dict[str, SlackPerson] = {}
        cursor: str | None = None
        while True:
            page = await self.client.users_list(limit=200, cursor=cursor)
            for user in page.get("members", []):
                person = _person(user)
                people[person.user_id] = person
            cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
            if not cursor:
                break
        self._listing, self._listed_at = people, time.monotonic()

    async def _refresh_if_older(self, oldest: float) -> None:
        async with self._lock:
            stale = self._listed_at is None or time.monotonic() - self._listed_at > oldest
            if stale:
                try:
                    await self._refresh()
                except SlackApiError as exc:
                    log.warning("users.list failed: %s", exc.response.get("error"))

    async def _refresh_in_background(self, oldest: float) -> None:
        try:
            await self._refresh_if_older(oldest)
        except Exception as exc:  # nobody waits on it: the old listing stays until the next try
            log.warning("users.list refresh failed: %s", type(exc).__name__)

    async def people(
        self,
        user_ids: list[str],
        *,
        fresh: bool = False,
        max_age: float | None = None,
        stale_ok: bool = False,
    ) -> dict[str, SlackPerson]:
        """The given users as people (unknown ones looked up one by one; failures left out).
        `fresh` lists the workspace again now; `max_age` accepts a listing that young.

        `stale_ok` takes any listing there is at once and, if it is past its ttl, lists the
        workspace again in the background: for recording a rush's answers, where a name a few
        minutes old will do and listing 10,000 people (50 calls at Tier 2's 20 a minute)
        would hold every answer for minutes."""
        oldest = 0.0 if fresh else self.ttl if max_age is None else min(max_age, self.ttl)
        if stale_ok and self._listed_at is not None:
            if time.monotonic() - self._listed_at > oldest and (
                self._refreshing is None or self._refreshing.done()
            ):
                start = self.spawn or asyncio.create_task
                self._refreshing = start(self._refresh_in_background(oldest))
        else:
            await self._refresh_if_older(oldest)
        found = {u: self._listing[u] for u in user_ids if u in self._listing}
        for user_id in (u for u in user_ids if u not in found and u not in NOT_PEOPLE):
            try:
                info = await self.client.users_info(user=user_id)
            except SlackApiError as exc:
                log.info("users.info %s failed: %s", user_id, exc.response.get("error"))
                continue
            found[user_id] = self._listing[user_id] = _person(info.get("user") or {})
        return found
