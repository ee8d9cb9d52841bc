"""Who counts as a network's members: the people of its channel who can answer."""

from __future__ import annotations

from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bot.slack.membership import ChannelMembers, network_people_counts
from bot.slack.people import WorkspacePeople


class FakeSlack:
    """conversations.members in pages of two, as Slack paginates; users.list in one page."""

    def __init__(self, channels: dict[str, list[str]], users: list[dict[str, Any]]) -> None:
        self.channels = channels
        self.users = users

    def _error(self, method: str, error: str) -> SlackApiError:
        response = AsyncSlackResponse(
            client=None,  # type: ignore[arg-type]
            http_verb="POST",
            api_url=method,
            req_args={},
            data={"ok": False, "error": error},
            headers={},
            status_code=200,
        )
        return SlackApiError(error, response)

    async def conversations_members(self, **kwargs: Any) -> dict[str, Any]:
        if kwargs["channel"] not in self.channels:
            raise self._error("conversations.members", "channel_not_found")
        members = self.channels[kwargs["channel"]]
        start = int(kwargs.get("cursor") or 0)
        more = start + 2 < len(members)
        return {
            "members": members[start : start + 2],
            "response_metadata": {"next_cursor": str(start + 2) if more else ""},
        }

    async def users_list(self, **_: Any) -> dict[str, Any]:
        return {"members": self.users, "response_metadata": {"next_cursor": ""}}

    async def users_info(self, user: str) -> dict[str, Any]:
        raise self._error("users.info", "user_not_found")


async def test_members_are_the_people_of_the_channel_not_its_bots() -> None:
    slack = FakeSlack(
        {
            "C01ICS": ["U1", "U2", "U3", "UBOT", "UPOLL", "UGONE", "UOTHER"],
            "C01MHN": ["U1"],
        },
        [
            {"id": "U1"},
            {"id": "U2"},
            {"id": "U3"},
            {"id": "UBOT", "is_bot": True},  # consultbot itself
            {"id": "UPOLL", "is_app_user": True},  # a polling app
            {"id": "UGONE", "deleted": True},  # deactivated
        ],  # UOTHER is not described (e.g. from another workspace): counted
    )
    counts = await network_people_counts(
        ChannelMembers(slack),  # type: ignore[arg-type]
        WorkspacePeople(slack),  # type: ignore[arg-type]
        {"ics-network": "C01ICS", "mh-network": "C01MHN", "pcn-network": "C0GONE"},
    )
    # Pages followed; the unreadable channel left out (its respondents stand in for it).
    assert counts == {"ics-network": 4, "mh-network": 1}
