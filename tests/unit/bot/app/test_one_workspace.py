"""The bot's authorization: one auth.test for the whole process, however many requests wait."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest
from slack_sdk.errors import SlackApiError

from bot.app.bolt import OneWorkspace

IDENTITY = {"ok": True, "team_id": "T0TEAM", "user_id": "U0BOT", "bot_id": "B0BOT"}


class SlowSlack:
    """A Web API client whose auth.test takes a while and can be told to fail first."""

    token = "xoxb-workspace"

    def __init__(self, failures: int = 0) -> None:
        self.asked = 0
        self.failures = failures

    async def auth_test(self) -> Any:
        self.asked += 1
        await asyncio.sleep(0.05)
        if self.failures:
            self.failures -= 1
            raise SlackApiError("ratelimited", {"ok": False, "error": "ratelimited"})
        return SimpleNamespace(data=dict(IDENTITY), headers={"x-oauth-scopes": "chat:write"})


async def authorize(workspace: OneWorkspace, user_id: str) -> Any:
    return await workspace(
        context=None,  # type: ignore[arg-type]
        enterprise_id=None,
        team_id="T0TEAM",
        user_id=user_id,
    )


async def test_a_hundred_requests_at_once_share_one_call() -> None:
    slack = SlowSlack()
    workspace = OneWorkspace(slack)  # type: ignore[arg-type]

    results = await asyncio.gather(*(authorize(workspace, f"U{i:03d}") for i in range(100)))

    assert slack.asked == 1
    assert {r.bot_user_id for r in results} == {"U0BOT"}
    assert results[7].user_id == "U007"  # each request keeps its own user
    assert results[0].bot_token == "xoxb-workspace" and results[0].bot_scopes == ["chat:write"]


async def test_once_known_no_request_asks_again() -> None:
    slack = SlowSlack()
    workspace = OneWorkspace(slack)  # type: ignore[arg-type]
    await workspace.identity()  # the runtime, at start

    await asyncio.gather(*(authorize(workspace, "U001") for _ in range(10)))

    assert slack.asked == 1


async def test_a_failed_call_is_asked_again_by_the_next_request() -> None:
    slack = SlowSlack(failures=1)
    workspace = OneWorkspace(slack)  # type: ignore[arg-type]

    with pytest.raises(SlackApiError):
        await authorize(workspace, "U001")
    result = await authorize(workspace, "U001")

    assert slack.asked == 2 and result.team_id == "T0TEAM"
