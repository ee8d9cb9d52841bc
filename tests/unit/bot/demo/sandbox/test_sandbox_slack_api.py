"""The sandbox Web API answers the real slack_sdk client the way Slack does."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot.demo.sandbox import RateLimits, SandboxSlack, render_blocks_as_text

TOKEN = "xoxb-sandbox"


def section(text: str, block_id: str | None = None) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "section", "text": {"type": "mrkdwn", "text": text}}
    if block_id:
        block["block_id"] = block_id
    return block


def button_block(block_id: str = "acts") -> dict[str, Any]:
    return {
        "type": "actions",
        "block_id": block_id,
        "elements": [
            {
                "type": "button",
                "action_id": "respond",
                "value": "c1",
                "text": {"type": "plain_text", "text": "Respond"},
                "style": "primary",
            }
        ],
    }


def modal(title: str = "Consultation", n_blocks: int = 1) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": "answer",
        "title": {"type": "plain_text", "text": title},
        "submit": {"type": "plain_text", "text": "Submit"},
        "blocks": [section(f"q{i}", f"b{i}") for i in range(n_blocks)],
    }


@pytest.fixture
async def slack() -> AsyncIterator[SandboxSlack]:
    sandbox = SandboxSlack()
    sandbox.add_user("U1", name="alice", real_name="Alice A", tz="Europe/Paris")
    sandbox.add_user("U2", name="bob")
    sandbox.add_user("UGONE", name="gone", deleted=True)
    sandbox.add_channel("C1", "north", members=["U1", "U2"])
    sandbox.add_channel("C2", "south", members=["U1"], bot_is_member=False)
    async with sandbox:
        yield sandbox


@pytest.fixture
def client(slack: SandboxSlack) -> AsyncWebClient:
    return AsyncWebClient(token=TOKEN, base_url=slack.url)


async def test_auth_and_unknown_method(slack: SandboxSlack, client: AsyncWebClient) -> None:
    resp = await client.auth_test()
    assert resp["user_id"] == "U0BOT" and resp["team_id"] == "T0SANDBOX"
    with pytest.raises(SlackApiError) as err:
        await AsyncWebClient(token="xoxb-wrong", base_url=slack.url).auth_test()
    assert err.value.response["error"] == "invalid_auth"
    with pytest.raises(SlackApiError) as err:
        await client.api_call("bogus.method")
    assert err.value.response["error"] == "unknown_method"


async def test_post_thread_update_dm_and_ephemeral(
    slack: SandboxSlack, client: AsyncWebClient
) -> None:
    parent = await client.chat_postMessage(
        channel="C1", text="fallback", blocks=[section("Hello *north*"), button_block()]
    )
    assert parent["channel"] == "C1" and parent["message"]["text"] == "fallback"
    assert all("block_id" in b for b in parent["message"]["blocks"])  # Slack stamps block ids
    reply = await client.chat_postMessage(
        channel="C1", text="in thread", thread_ts=parent["ts"], reply_broadcast=True
    )
    await client.chat_update(channel="C1", ts=parent["ts"], text="edited", blocks=[section("v2")])
    dm = await client.chat_postMessage(channel="U1", text="receipt")
    opened = await client.conversations_open(users="U1")
    assert dm["channel"] == opened["channel"]["id"] and dm["channel"].startswith("D")
    await client.chat_postMessage(channel=dm["channel"], text="second dm")
    eph = await client.chat_postEphemeral(channel="C1", user="U2", text="only you")
    assert eph["message_ts"]

    msgs = slack.messages("C1")
    assert [m.ts for m in msgs] == [parent["ts"], reply["ts"]]
    assert msgs[0].text == "edited" and len(msgs[0].versions) == 2
    assert msgs[1].reply_broadcast and msgs[1].thread_ts == parent["ts"]
    assert [m.text for m in slack.thread_replies("C1", parent["ts"])] == ["in thread"]
    assert [m.text for m in slack.dm_messages("U1")] == ["receipt", "second dm"]
    assert [m.text for m in slack.ephemerals("U2", channel="C1")] == ["only you"]
    assert slack.messages("#north") == msgs
    link = await client.chat_getPermalink(channel="C1", message_ts=reply["ts"])
    assert "thread_ts=" in link["permalink"]
    assert slack.count("chat.postMessage") == 4 and not slack.invalid_payloads

    lines = [str(e) for e in slack.transcript_events()]
    assert lines[0].startswith("**#north** (message)") and "[Respond]" in lines[0]
    assert any("DM @alice" in line for line in lines)
    assert any("ephemeral to @bob in #north" in line for line in lines)


@pytest.mark.filterwarnings("ignore:The top-level `text` argument is missing")
@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"channel": "C404", "text": "x"}, "channel_not_found"),
        ({"channel": "C2", "text": "x"}, "not_in_channel"),
        ({"channel": "C1"}, "no_text"),
        ({"channel": "UGONE", "text": "x"}, "user_disabled"),
    ],
)
async def test_post_errors(client: AsyncWebClient, kwargs: dict[str, Any], error: str) -> None:
    with pytest.raises(SlackApiError) as err:
        await client.chat_postMessage(**kwargs)
    assert err.value.response["error"] == error


async def test_update_and_ephemeral_errors(client: AsyncWebClient) -> None:
    with pytest.raises(SlackApiError) as err:
        await client.chat_update(channel="C1", ts="1.000001", text="x")
    assert err.value.response["error"] == "message_not_found"
    with pytest.raises(SlackApiError) as err:
        await client.chat_postEphemeral(channel="C1", user="UGONE", text="x")
    assert err.value.response["error"] == "user_not_in_channel"


@pytest.mark.parametrize(
    "blocks",
    [
        [section("x" * 3001)],
        [section("a", "dup"), section("b", "dup")],
        [section(f"b{i}") for i in range(51)],
        [{"type": "no_such_block"}],
        [{"type": "actions", "elements": [{"type": "button", "text": {"type": "plain_text"}}]}],
    ],
)
async def test_invalid_blocks_rejected(
    slack: SandboxSlack, client: AsyncWebClient, blocks: list[dict[str, Any]]
) -> None:
    with pytest.raises(SlackApiError) as err:
        await client.chat_postMessage(channel="C1", text="t", blocks=blocks)
    assert err.value.response["error"] == "invalid_blocks"
    assert err.value.response["errors"]
    assert len(slack.invalid_payloads) == 1 and not slack.messages("C1")


async def test_rate_limit_token_bucket_deterministic() -> None:
    now = [100.0]
    limits = RateLimits(per_channel_per_second=1.0, per_channel_burst=2)
    async with SandboxSlack(rate_limits=limits, clock=lambda: now[0]) as slack:
        slack.add_channel("C1", "north")
        client = AsyncWebClient(token=TOKEN, base_url=slack.url)
        await client.chat_postMessage(channel="C1", text="1")
        await client.chat_postMessage(channel="C1", text="2")
        with pytest.raises(SlackApiError) as err:
            await client.chat_postMessage(channel="C1", text="3")
        assert err.value.response.status_code == 429
        assert err.value.response.headers["Retry-After"] == "1"
        assert err.value.response["error"] == "ratelimited"
        now[0] += 1.0
        await client.chat_postMessage(channel="C1", text="3")
        assert [m.text for m in slack.messages("C1")] == ["1", "2", "3"]


async def test_per_minute_limit_and_random_429() -> None:
    now = [0.0]
    limits = RateLimits(per_method_per_minute={"users.info": 2})
    async with SandboxSlack(rate_limits=limits, clock=lambda: now[0]) as slack:
        slack.add_user("U1")
        client = AsyncWebClient(token=TOKEN, base_url=slack.url)
        await client.users_info(user="U1")
        now[0] = 10.0
        await client.users_info(user="U1")
        with pytest.raises(SlackApiError) as err:
            await client.users_info(user="U1")
        assert err.value.response.headers["Retry-After"] == "50"
        now[0] = 60.5
        await client.users_info(user="U1")
    async with SandboxSlack(rate_limits=RateLimits(random_429_rate=1.0)) as slack:
        client = AsyncWebClient(token=TOKEN, base_url=slack.url)
        with pytest.raises(SlackApiError) as err:
            await client.auth_test()
        assert err.value.response.status_code == 429


async def test_rate_limit_retry_handler_recovers(slack: SandboxSlack) -> None:
    slack.fail_next("chat.postMessage", retry_after=0)
    client = AsyncWebClient(
        token=TOKEN,
        base_url=slack.url,
        retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=2)],
    )
    resp = await client.chat_postMessage(channel="C1", text="hi")
    assert resp["ok"]
    assert [c.http_status for c in slack.calls_to("chat.postMessage")] == [429, 200]


async def test_server_error_then_success(slack: SandboxSlack) -> None:
    slack.fail_next("chat.postMessage", status=503, channel="C1")
    handler = AsyncServerErrorRetryHandler(max_retry_count=2)
    handler.interval_calculator.backoff_factor = 0.01  # type: ignore[attr-defined]
    client = AsyncWebClient(token=TOKEN, base_url=slack.url, retry_handlers=[handler])
    await client.chat_postMessage(channel="C1", text="hi")
    assert slack.count("chat.postMessage") == 2 and slack.count("chat.postMessage", ok=True) == 1
    assert len(slack.messages("C1")) == 1


async def test_fault_with_error_channel_filter_and_clear(
    slack: SandboxSlack, client: AsyncWebClient
) -> None:
    slack.fail_next("chat.postMessage", error="account_inactive", channel="U1", count=2)
    await client.chat_postMessage(channel="C1", text="unaffected")
    for _ in range(2):
        with pytest.raises(SlackApiError) as err:
            await client.chat_postMessage(channel="U1", text="dm")
        assert err.value.response["error"] == "account_inactive"
    await client.chat_postMessage(channel="U1", text="dm")
    slack.fail_next("auth.test")
    slack.clear_faults()
    await client.auth_test()


async def test_fault_delay_times_out(slack: SandboxSlack) -> None:
    slack.fail_next("auth.test", delay=0.5)
    client = AsyncWebClient(token=TOKEN, base_url=slack.url, timeout=0.1)
    with pytest.raises(TimeoutError):
        await client.auth_test()


async def test_members_pagination_info_and_users(
    slack: SandboxSlack, client: AsyncWebClient
) -> None:
    slack.set_members("C1", [f"U{i:03d}" for i in range(7)])
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        resp = await client.conversations_members(channel="C1", limit=3, cursor=cursor)
        seen += resp["members"]
        pages += 1
        cursor = resp["response_metadata"]["next_cursor"]
        if not cursor:
            break
    assert seen == [*(f"U{i:03d}" for i in range(7)), "U0BOT"] and pages == 3
    info = await client.conversations_info(channel="C1")
    assert info["channel"]["name"] == "north" and info["channel"]["is_member"]
    user = (await client.users_info(user="U1"))["user"]
    assert user["real_name"] == "Alice A" and user["tz"] == "Europe/Paris"
    assert user["tz_offset"] in {3600, 7200} and user["profile"]["display_name"] == "alice"
    with pytest.raises(SlackApiError) as err:
        await client.users_info(user="U404")
    assert err.value.response["error"] == "user_not_found"


async def test_files_upload_v2(slack: SandboxSlack, client: AsyncWebClient) -> None:
    resp = await client.files_upload_v2(
        channel="C1", content=b"a,b\n1,2\n", filename="export.csv", title="Export"
    )
    assert resp["file"]["title"] == "Export"
    shared = slack.files_shared("C1")
    assert len(shared) == 1 and shared[0].content == b"a,b\n1,2\n"
    dm = await client.conversations_open(users="U1")
    await client.files_upload_v2(
        channel=dm["channel"]["id"], content="doc", filename="d.md", initial_comment="here"
    )
    assert slack.files_shared("U1")[0].content == b"doc"
    assert slack.dm_messages("U1")[0].text == "here"


async def test_views_trigger_rules(slack: SandboxSlack, client: AsyncWebClient) -> None:
    now = [0.0]
    slack.clock = lambda: now[0]
    trigger = slack.issue_trigger_id("U1")
    resp = await client.views_open(trigger_id=trigger, view=modal())
    view = resp["view"]
    assert view["id"].startswith("V") and view["hash"] and view["callback_id"] == "answer"
    assert slack.view_by_trigger(trigger) == view and slack.views_opened("U1") == [view]
    for bad, error in [(trigger, "exchanged_trigger_id"), ("nope", "invalid_trigger_id")]:
        with pytest.raises(SlackApiError) as err:
            await client.views_open(trigger_id=bad, view=modal())
        assert err.value.response["error"] == error
    late = slack.issue_trigger_id("U1")
    now[0] = 3.5
    with pytest.raises(SlackApiError) as err:
        await client.views_open(trigger_id=late, view=modal())
    assert err.value.response["error"] == "expired_trigger_id"

    updated = await client.views_update(
        view_id=view["id"], view=modal("Updated"), hash=view["hash"]
    )
    assert updated["view"]["title"]["text"] == "Updated"
    with pytest.raises(SlackApiError) as err:
        await client.views_update(view_id=view["id"], view=modal(), hash=view["hash"])
    assert err.value.response["error"] == "hash_conflict"
    pushed = await client.views_push(trigger_id=slack.issue_trigger_id("U1"), view=modal("Two"))
    assert pushed["view"]["previous_view_id"] == view["id"]
    assert pushed["view"]["root_view_id"] == view["id"]


@pytest.mark.parametrize(
    "view",
    [modal(title="x" * 25), modal(n_blocks=101)],
)
async def test_invalid_views(slack: SandboxSlack, client: AsyncWebClient, view: dict) -> None:
    with pytest.raises(SlackApiError) as err:
        await client.views_open(trigger_id=slack.issue_trigger_id("U1"), view=view)
    assert err.value.response["error"] == "invalid_arguments"
    assert err.value.response["response_metadata"]["messages"]
    assert slack.invalid_payloads[0].method == "views.open"


async def test_views_publish_home(slack: SandboxSlack, client: AsyncWebClient) -> None:
    home = {"type": "home", "blocks": [section("Open consultations"), button_block()]}
    first = await client.views_publish(user_id="U1", view=home)
    second = await client.views_publish(user_id="U1", view=home)
    assert first["view"]["id"] == second["view"]["id"]
    assert slack.home_view("U1") == second["view"]
    assert any(e.where == "App Home of @alice" for e in slack.transcript_events())


async def test_form_encoded_body_with_json_strings(slack: SandboxSlack) -> None:
    """slack_sdk sends some methods form-encoded with blocks as a JSON string; decode them."""
    async with aiohttp.ClientSession() as session:
        resp = await session.post(
            slack.url + "chat.postMessage",
            data={"channel": "C1", "blocks": '[{"type": "divider"}]', "text": "t"},
            headers={"Authorization": f"Bearer {TOKEN}"},
        )
        body = await resp.json()
    assert body["ok"] and slack.messages("C1")[0].blocks[0]["type"] == "divider"


def test_render_blocks_as_text() -> None:
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": "Title"}},
        {"type": "section", "fields": [{"type": "mrkdwn", "text": "*Deadline*"}]},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "ctx"}]},
        button_block(),
        {
            "type": "input",
            "label": {"type": "plain_text", "text": "Stance"},
            "element": {
                "type": "radio_buttons",
                "options": [
                    {"text": {"type": "plain_text", "text": "Yes"}, "value": "y"},
                    {"text": {"type": "plain_text", "text": "No"}, "value": "n"},
                ],
            },
        },
    ]
    text = render_blocks_as_text(blocks)
    assert text.splitlines() == [
        "# Title",
        "• *Deadline*",
        "ctx",
        "[Respond]",
        "Stance: ( ) Yes  ( ) No",
    ]
