"""The driver's signed payloads are accepted by a real Bolt app and carry Slack's shapes."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.demo.sandbox import DriverError, SandboxSlack, SlackDriver, build_state_values

SECRET = "sandbox-signing-secret"

QUESTION_MODAL: dict[str, Any] = {
    "type": "modal",
    "callback_id": "answer",
    "private_metadata": "c1",
    "title": {"type": "plain_text", "text": "Consultation"},
    "submit": {"type": "plain_text", "text": "Submit"},
    "blocks": [
        {
            "type": "input",
            "block_id": "stance",
            "label": {"type": "plain_text", "text": "Stance"},
            "element": {
                "type": "radio_buttons",
                "action_id": "pick",
                "options": [
                    {"text": {"type": "plain_text", "text": "Agree"}, "value": "agree"},
                    {"text": {"type": "plain_text", "text": "Disagree"}, "value": "disagree"},
                ],
            },
        },
        {
            "type": "input",
            "block_id": "topics",
            "optional": True,
            "label": {"type": "plain_text", "text": "Topics"},
            "element": {
                "type": "checkboxes",
                "action_id": "pick",
                "options": [
                    {"text": {"type": "plain_text", "text": "Fees"}, "value": "fees"},
                    {"text": {"type": "plain_text", "text": "Rules"}, "value": "rules"},
                ],
            },
        },
        {
            "type": "input",
            "block_id": "comment",
            "optional": True,
            "label": {"type": "plain_text", "text": "Comment"},
            "element": {"type": "plain_text_input", "action_id": "text", "multiline": True},
        },
    ],
}


@dataclass
class Seen:
    commands: list[dict[str, Any]] = field(default_factory=list)
    actions: list[dict[str, Any]] = field(default_factory=list)
    submissions: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Env:
    slack: SandboxSlack
    driver: SlackDriver
    seen: Seen


def build_app(slack: SandboxSlack, seen: Seen) -> AsyncApp:
    client = AsyncWebClient(token=slack.bot_token, base_url=slack.url)
    app = AsyncApp(signing_secret=SECRET, client=client)

    @app.command("/consult")
    async def on_command(
        ack: Any, body: dict[str, Any], client: AsyncWebClient, respond: Any
    ) -> None:
        seen.commands.append(body)
        if body["text"] == "later":
            await ack()
            await respond("private note")
            await respond(text="for everyone", response_type="in_channel")
        elif body["text"] == "new":
            await client.views_open(trigger_id=body["trigger_id"], view=QUESTION_MODAL)
            await ack()
        else:
            await ack(text=f"You said {body['text']}")

    @app.action("respond")
    async def on_respond(ack: Any, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        seen.actions.append(body)
        await client.views_open(trigger_id=body["trigger_id"], view=QUESTION_MODAL)

    @app.view("answer")
    async def on_submit(ack: Any, body: dict[str, Any], view: dict[str, Any]) -> None:
        seen.submissions.append(body)
        if view["state"]["values"]["stance"]["pick"]["selected_option"] is None:
            await ack(response_action="errors", errors={"stance": "Pick one"})
        else:
            await ack()

    @app.event("app_home_opened")
    async def on_home(event: dict[str, Any], client: AsyncWebClient) -> None:
        seen.events.append(event)
        home = {
            "type": "home",
            "blocks": [
                {
                    "type": "actions",
                    "block_id": "home_actions",
                    "elements": [
                        {
                            "type": "button",
                            "action_id": "respond",
                            "value": "c1",
                            "text": {"type": "plain_text", "text": "Respond"},
                        }
                    ],
                }
            ],
        }
        await client.views_publish(user_id=event["user"], view=home)

    return app


@pytest.fixture
async def env() -> AsyncIterator[Env]:
    seen = Seen()
    async with SandboxSlack() as slack:
        slack.add_user("U1", name="alice")
        slack.add_channel("C1", "north", members=["U1"])
        runner = web.AppRunner(build_app(slack, seen).web_app(path="/slack/events"))
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        async with SlackDriver(f"http://{host}:{port}/slack/events", SECRET, slack) as driver:
            yield Env(slack, driver, seen)
        await runner.cleanup()


async def test_signed_slash_command_accepted(env: Env) -> None:
    resp = await env.driver.slash_command("U1", "list", channel_id="C1")
    assert resp.status == 200 and resp.body == "You said list"  # Bolt acks text as text/plain
    body = env.seen.commands[0]
    for key in ("token", "team_id", "channel_name", "user_name", "response_url", "trigger_id"):
        assert body[key]
    assert body["channel_name"] == "north" and body["user_name"] == "alice"
    # the ack text shows to the user as an ephemeral
    assert [m.text for m in env.slack.ephemerals("U1", "C1")] == ["You said list"]


async def test_response_url_posts_back(env: Env) -> None:
    resp = await env.driver.slash_command("U1", "later", channel_id="C1")
    assert resp.status == 200
    await env.slack.wait_for(lambda: env.slack.messages("C1"))
    assert [m.text for m in env.slack.ephemerals("U1")] == ["private note"]
    assert [m.text for m in env.slack.messages("C1")] == ["for everyone"]


@pytest.mark.parametrize(
    "kwargs", [{"bad_signature": True}, {"timestamp": int(time.time()) - 60 * 10}]
)
async def test_bad_signature_and_stale_timestamp_rejected(env: Env, kwargs: dict[str, Any]) -> None:
    resp = await env.driver.slash_command("U1", "list", **kwargs)
    assert resp.status == 401 and not env.seen.commands


async def test_unsigned_raw_post_rejected(env: Env) -> None:
    resp = await env.driver.post_raw(b"garbage", {"Content-Type": "text/plain"}, sign=False)
    assert resp.status == 401


async def test_retry_headers_reach_app(env: Env) -> None:
    resp = await env.driver.slash_command("U1", "again", retry_num=1)
    assert resp.status == 200  # Bolt passes retries through; dedup is the app's job


async def test_modal_round_trip(env: Env) -> None:
    view = await env.driver.open_modal_via("U1", command_text="new")
    assert view["callback_id"] == "answer" and view["id"].startswith("V")
    resp = await env.driver.submit_view(
        "U1", view, {"stance": "agree", "topics": ["fees", "rules"], "comment": "Fine"}
    )
    assert resp.status == 200
    submitted = env.seen.submissions[0]
    assert submitted["type"] == "view_submission"
    assert submitted["view"]["private_metadata"] == "c1"
    values = submitted["view"]["state"]["values"]
    assert values["stance"]["pick"]["selected_option"]["value"] == "agree"
    assert [o["value"] for o in values["topics"]["pick"]["selected_options"]] == ["fees", "rules"]
    assert values["comment"]["text"] == {"type": "plain_text_input", "value": "Fine"}
    kinds = [(e.kind, e.where) for e in env.slack.transcript_events()]
    assert kinds == [("modal", "modal for @alice")]
    assert "Stance: ( ) Agree  ( ) Disagree" in env.slack.transcript_events()[0].text


async def test_unfilled_required_input_gets_errors(env: Env) -> None:
    view = await env.driver.open_modal_via("U1", command_text="new")
    resp = await env.driver.submit_view("U1", view, {})
    assert resp.json == {"response_action": "errors", "errors": {"stance": "Pick one"}}
    values = env.seen.submissions[0]["view"]["state"]["values"]
    assert values["comment"]["text"]["value"] is None
    assert values["topics"]["pick"]["selected_options"] == []


def test_state_values_fail_loudly_on_unknown_ids() -> None:
    view = dict(QUESTION_MODAL)
    with pytest.raises(DriverError, match="not in view"):
        build_state_values(view, {"nope": "x"})
    with pytest.raises(DriverError, match="not offered"):
        build_state_values(view, {"stance": "maybe"})


async def test_click_in_message_opens_modal(env: Env) -> None:
    client = AsyncWebClient(token=env.slack.bot_token, base_url=env.slack.url)
    await client.chat_postMessage(
        channel="C1",
        text="New consultation",
        blocks=[
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "action_id": "respond",
                        "value": "c1",
                        "text": {"type": "plain_text", "text": "Respond"},
                    }
                ],
            }
        ],
    )
    message = env.slack.messages("C1")[0]
    view = await env.driver.open_modal_via("U1", "respond", message=message)
    assert view["callback_id"] == "answer"
    action_body = env.seen.actions[0]
    assert action_body["type"] == "block_actions"
    assert action_body["container"]["message_ts"] == message.ts
    assert action_body["actions"][0]["block_id"] == message.blocks[0]["block_id"]
    assert action_body["actions"][0]["value"] == "c1"
    assert action_body["channel"] == {"id": "C1", "name": "north"}
    with pytest.raises(DriverError):
        await env.driver.click_in_message("U1", message, "missing")


async def test_event_and_home_click(env: Env) -> None:
    resp = await env.driver.app_home_opened("U1")
    assert resp.status == 200
    await env.slack.wait_for(lambda: env.slack.home_view("U1"))
    assert env.seen.events[0]["tab"] == "home"
    resp = await env.driver.click_in_home("U1", "respond")
    assert resp.status == 200
    await env.slack.wait_for(lambda: env.slack.view_by_trigger(resp.trigger_id or ""))
    assert env.seen.actions[0]["container"]["type"] == "view"
    assert env.seen.actions[0]["view"]["type"] == "home"


async def test_url_verification(env: Env) -> None:
    resp = await env.driver.url_verification("abc")
    assert resp.status == 200 and json.loads(resp.body) == {"challenge": "abc"}
    transcript = env.slack.transcript_markdown()
    assert transcript.startswith("# Sandbox transcript")
