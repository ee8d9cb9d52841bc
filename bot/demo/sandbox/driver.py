"""Plays Slack towards the app: signed slash commands, button clicks, view submissions, events.

Payloads follow what Slack really sends, so scenario tests exercise Bolt's signature check,
payload parsing and our handlers exactly as production would.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Self
from urllib.parse import urlencode

import aiohttp

from bot.demo.sandbox.models import Message
from bot.demo.sandbox.slack_api import SandboxSlack

__all__ = [
    "DriverError",
    "DriverResponse",
    "SlackDriver",
    "build_state_values",
    "compute_signature",
]

_SELECT_SINGLE = {"radio_buttons", "static_select", "external_select"}
_SELECT_MULTI = {"checkboxes", "multi_static_select", "multi_external_select"}
_TEXTLIKE = {"plain_text_input", "email_text_input", "url_text_input", "number_input"}


class DriverError(ValueError):
    """The test asked for something the app's UI does not offer (missing block/option/button)."""


@dataclass
class DriverResponse:
    """The app's HTTP answer to one delivery."""

    status: int
    body: str
    json: Any
    headers: dict[str, str]
    trigger_id: str | None = None
    payload: dict[str, Any] = field(default_factory=dict)


def compute_signature(signing_secret: str, timestamp: str, body: bytes) -> str:
    """Slack's v0 request signature."""
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(signing_secret.encode(), base, hashlib.sha256).hexdigest()


def _all_options(element: Mapping[str, Any]) -> list[dict[str, Any]]:
    options = list(element.get("options") or [])
    for group in element.get("option_groups") or []:
        options.extend(group.get("options") or [])
    return options


def _pick_option(element: Mapping[str, Any], value: Any, block_id: str) -> dict[str, Any]:
    for option in _all_options(element):
        if option.get("value") == value:
            return dict(option)
    offered = [o.get("value") for o in _all_options(element)]
    raise DriverError(f"block {block_id!r}: option {value!r} not offered (have {offered})")


def _element_state(
    element: Mapping[str, Any], value: Any, block_id: str, filled: bool
) -> dict[str, Any]:
    kind = str(element.get("type"))
    state: dict[str, Any] = {"type": kind}
    if kind in _SELECT_SINGLE:
        if filled:
            state["selected_option"] = (
                None if value is None else _pick_option(element, value, block_id)
            )
        else:
            state["selected_option"] = element.get("initial_option")
    elif kind in _SELECT_MULTI:
        if filled:
            chosen = [value] if isinstance(value, str) else list(value or [])
            state["selected_options"] = [_pick_option(element, v, block_id) for v in chosen]
        else:
            state["selected_options"] = list(element.get("initial_options") or [])
    elif kind in _TEXTLIKE:
        state["value"] = (
            (None if value is None else str(value)) if filled else element.get("initial_value")
        )
    elif kind == "datepicker":
        state["selected_date"] = value if filled else element.get("initial_date")
    elif kind == "timepicker":
        state["selected_time"] = value if filled else element.get("initial_time")
    elif kind in {"users_select", "conversations_select", "channels_select"}:
        key = {"users_select": "selected_user", "channels_select": "selected_channel"}.get(
            kind, "selected_conversation"
        )
        state[key] = value if filled else element.get(f"initial_{key.split('_')[1]}")
    elif kind in {"multi_users_select", "multi_conversations_select", "multi_channels_select"}:
        key = {
            "multi_users_select": "selected_users",
            "multi_channels_select": "selected_channels",
        }.get(kind, "selected_conversations")
        state[key] = list(value or []) if filled else []
    else:
        state["value"] = value
    return state


def build_state_values(view: Mapping[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
    """Build view.state.values as Slack would from the user's inputs (block_id -> value).

    For blocks holding several elements pass {action_id: value}. Unknown block ids or option
    values raise DriverError so a test fails loudly when the app's modal changes.
    """
    blocks = {b.get("block_id"): b for b in view.get("blocks") or []}
    unknown = [bid for bid in values if bid not in blocks]
    if unknown:
        raise DriverError(f"block_id(s) {unknown} not in view (have {list(blocks)})")
    state: dict[str, dict[str, Any]] = {}
    for block_id, block in blocks.items():
        if block.get("type") == "input":
            elements = [block.get("element") or {}]
        elif block.get("type") == "actions" and block_id in values:
            elements = list(block.get("elements") or [])
        elif block.get("type") == "section" and block_id in values and block.get("accessory"):
            elements = [block["accessory"]]
        else:
            continue
        given = values.get(block_id)
        multi = len(elements) > 1 or (
            isinstance(given, Mapping) and elements and elements[0].get("action_id") in given
        )
        block_state: dict[str, Any] = {}
        for element in elements:
            action_id = element.get("action_id")
            if multi:
                assert isinstance(given, Mapping)
                filled = action_id in given
                value = given.get(action_id)
            else:
                filled = block_id in values
                value = given
            block_state[str(action_id)] = _element_state(element, value, str(block_id), filled)
        if multi and isinstance(given, Mapping):
            missing = [a for a in given if a not in block_state]
            if missing:
                raise DriverError(f"block {block_id!r}: action_id(s) {missing} not present")
        state[str(block_id)] = block_state
    return state


def _find_element(
    blocks: list[dict[str, Any]] | None, action_id: str
) -> tuple[str, dict[str, Any]] | None:
    for block in blocks or []:
        candidates: list[dict[str, Any]] = []
        if block.get("type") == "actions":
            candidates = list(block.get("elements") or [])
        elif block.get("type") == "section" and block.get("accessory"):
            candidates = [block["accessory"]]
        elif block.get("type") == "input" and block.get("element"):
            candidates = [block["element"]]
        for element in candidates:
            if element.get("action_id") == action_id:
                return str(block.get("block_id")), element
    return None


class SlackDriver:
    """Sends signed Slack requests to the app at `app_url` (its /slack/events endpoint)."""

    def __init__(
        self,
        app_url: str,
        signing_secret: str,
        slack: SandboxSlack,
        team_id: str = "T0SANDBOX",
        api_app_id: str = "A0SANDBOX",
        *,
        verification_token: str = "sandbox-verification-token",
    ) -> None:
        self.app_url = app_url
        self.signing_secret = signing_secret
        self.slack = slack
        self.team_id = team_id
        self.api_app_id = api_app_id
        self.token = verification_token
        self._session: aiohttp.ClientSession | None = None
        self._event_ids = itertools.count(1)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP session."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _sess(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        return self._session

    # ------------------------------------------------------------------ transport

    async def post_raw(
        self,
        body: bytes,
        headers: Mapping[str, str],
        *,
        sign: bool = True,
        timestamp: str | int | None = None,
        bad_signature: bool = False,
        retry_num: int | None = None,
    ) -> DriverResponse:
        """POST arbitrary bytes (signed unless sign=False) — for fuzzing and edge cases."""
        hdrs = dict(headers)
        if sign:
            ts = str(int(time.time()) if timestamp is None else timestamp)
            secret = self.signing_secret + ("-wrong" if bad_signature else "")
            hdrs["X-Slack-Request-Timestamp"] = ts
            hdrs["X-Slack-Signature"] = compute_signature(secret, ts, body)
        if retry_num is not None:
            hdrs["X-Slack-Retry-Num"] = str(retry_num)
            hdrs["X-Slack-Retry-Reason"] = "http_timeout"
        async with self._sess().post(self.app_url, data=body, headers=hdrs) as resp:
            text = await resp.text()
            try:
                parsed = json.loads(text) if text else None
            except json.JSONDecodeError:
                parsed = None
            return DriverResponse(resp.status, text, parsed, dict(resp.headers))

    async def _send_form(
        self,
        fields: Mapping[str, str],
        *,
        retry_num: int | None,
        timestamp: str | int | None,
        bad_signature: bool,
    ) -> DriverResponse:
        body = urlencode(fields).encode()
        return await self.post_raw(
            body,
            {"Content-Type": "application/x-www-form-urlencoded"},
            timestamp=timestamp,
            bad_signature=bad_signature,
            retry_num=retry_num,
        )

    async def _send_payload(
        self,
        payload: dict[str, Any],
        *,
        retry_num: int | None = None,
        timestamp: str | int | None = None,
        bad_signature: bool = False,
    ) -> DriverResponse:
        resp = await self._send_form(
            {"payload": json.dumps(payload)},
            retry_num=retry_num,
            timestamp=timestamp,
            bad_signature=bad_signature,
        )
        resp.payload = payload
        resp.trigger_id = payload.get("trigger_id")
        return resp

    # ------------------------------------------------------------------ identities

    def _user_name(self, user_id: str) -> str:
        user = self.slack.users.get(user_id)
        return user.name if user else user_id.lower()

    def _team(self) -> dict[str, Any]:
        return {"id": self.team_id, "domain": self.slack.team_domain}

    def _user(self, user_id: str) -> dict[str, Any]:
        name = self._user_name(user_id)
        return {"id": user_id, "username": name, "name": name, "team_id": self.team_id}

    def _channel(self, channel_id: str) -> dict[str, Any]:
        ch = self.slack.channels.get(channel_id)
        name = "directmessage" if ch is None or ch.is_im else ch.name
        return {"id": channel_id, "name": name}

    def _record_ack(self, user_id: str, channel_id: str | None, resp: DriverResponse) -> None:
        if resp.status == 200 and isinstance(resp.json, dict):
            self.slack.record_interaction_response(user_id, channel_id, resp.json)
        elif resp.status == 200 and resp.body and resp.json is None and channel_id:
            self.slack.record_interaction_response(user_id, channel_id, {"text": resp.body})

    # ------------------------------------------------------------------ slash commands

    async def slash_command(
        self,
        user_id: str,
        text: str,
        *,
        command: str = "/consult",
        channel_id: str | None = None,
        retry_num: int | None = None,
        timestamp: str | int | None = None,
        bad_signature: bool = False,
    ) -> DriverResponse:
        """Send a slash command; default channel is the user's DM with the bot."""
        channel_id = channel_id or self.slack.dm_channel_id(user_id)
        trigger_id = self.slack.issue_trigger_id(user_id)
        fields = {
            "token": self.token,
            "team_id": self.team_id,
            "team_domain": self.slack.team_domain,
            "channel_id": channel_id,
            "channel_name": self._channel(channel_id)["name"],
            "user_id": user_id,
            "user_name": self._user_name(user_id),
            "command": command,
            "text": text,
            "api_app_id": self.api_app_id,
            "is_enterprise_install": "false",
            "response_url": self.slack.issue_response_url(user_id, channel_id),
            "trigger_id": trigger_id,
        }
        resp = await self._send_form(
            fields, retry_num=retry_num, timestamp=timestamp, bad_signature=bad_signature
        )
        resp.trigger_id = trigger_id
        resp.payload = dict(fields)
        self._record_ack(user_id, channel_id, resp)
        return resp

    # ------------------------------------------------------------------ block actions

    async def click_button(
        self,
        user_id: str,
        action_id: str,
        value: str | None,
        *,
        block_id: str | None = None,
        channel_id: str | None = None,
        message: Message | Mapping[str, Any] | None = None,
        container: Mapping[str, Any] | None = None,
        view: Mapping[str, Any] | None = None,
        label: str | None = None,
        retry_num: int | None = None,
        timestamp: str | int | None = None,
        bad_signature: bool = False,
    ) -> DriverResponse:
        """Send a block_actions payload for a button click, as Slack does."""
        trigger_id = self.slack.issue_trigger_id(user_id)
        now = f"{time.time():.6f}"
        msg_dict: dict[str, Any] | None = None
        is_ephemeral = False
        if isinstance(message, Message):
            channel_id = channel_id or message.channel
            is_ephemeral = message.ephemeral_to is not None
            msg_dict = message.to_slack()
        elif message is not None:
            msg_dict = dict(message)
        action: dict[str, Any] = {
            "action_id": action_id,
            "block_id": block_id or "sandbox",
            "text": {"type": "plain_text", "text": label or action_id, "emoji": True},
            "type": "button",
            "action_ts": now,
        }
        if value is not None:
            action["value"] = value
        if container is None:
            if view is not None:
                container = {"type": "view", "view_id": view.get("id")}
            elif msg_dict is not None:
                container = {
                    "type": "message",
                    "message_ts": msg_dict.get("ts"),
                    "channel_id": channel_id,
                    "is_ephemeral": is_ephemeral,
                }
            else:
                container = {"type": "message", "channel_id": channel_id, "is_ephemeral": True}
        payload: dict[str, Any] = {
            "type": "block_actions",
            "user": self._user(user_id),
            "api_app_id": self.api_app_id,
            "token": self.token,
            "container": dict(container),
            "trigger_id": trigger_id,
            "team": self._team(),
            "enterprise": None,
            "is_enterprise_install": False,
            "state": {"values": {}},
            "actions": [action],
        }
        if channel_id:
            payload["channel"] = self._channel(channel_id)
            payload["response_url"] = self.slack.issue_response_url(
                user_id, channel_id, msg_dict.get("ts") if msg_dict else None
            )
        if msg_dict is not None:
            payload["message"] = msg_dict
        if view is not None:
            payload["view"] = dict(view)
        resp = await self._send_payload(
            payload, retry_num=retry_num, timestamp=timestamp, bad_signature=bad_signature
        )
        self._record_ack(user_id, channel_id, resp)
        return resp

    async def click_in_message(
        self, user_id: str, message: Message, action_id: str, **kwargs: Any
    ) -> DriverResponse:
        """Click the button with `action_id` found in a recorded message's current blocks."""
        found = _find_element(message.blocks, action_id)
        if found is None:
            raise DriverError(f"no element with action_id {action_id!r} in message {message.ts}")
        block_id, element = found
        return await self.click_button(
            user_id,
            action_id,
            element.get("value"),
            block_id=block_id,
            message=message,
            label=str((element.get("text") or {}).get("text", action_id)),
            **kwargs,
        )

    async def click_in_home(
        self, user_id: str, action_id: str, value: str | None = None, **kwargs: Any
    ) -> DriverResponse:
        """Click a button on the user's App Home (value defaults to the button's own)."""
        home = self.slack.home_view(user_id)
        if home is None:
            raise DriverError(f"no App Home published for {user_id}")
        return await self.click_in_view(user_id, home, action_id, value, **kwargs)

    async def click_in_view(
        self,
        user_id: str,
        view: Mapping[str, Any],
        action_id: str,
        value: str | None = None,
        **kwargs: Any,
    ) -> DriverResponse:
        """Click a button inside a modal or home view."""
        found = _find_element(view.get("blocks"), action_id)
        if found is None:
            raise DriverError(f"no element with action_id {action_id!r} in view {view.get('id')}")
        block_id, element = found
        return await self.click_button(
            user_id,
            action_id,
            value if value is not None else element.get("value"),
            block_id=block_id,
            view=view,
            label=str((element.get("text") or {}).get("text", action_id)),
            **kwargs,
        )

    async def choose_in_view(
        self, user_id: str, view: Mapping[str, Any], action_id: str, value: str
    ) -> DriverResponse:
        """Pick an option of a static select inside a modal (block_actions, as Slack sends)."""
        found = _find_element(view.get("blocks"), action_id)
        if found is None:
            raise DriverError(f"no element with action_id {action_id!r} in view {view.get('id')}")
        block_id, element = found
        option = _pick_option(element, value, block_id)
        payload: dict[str, Any] = {
            "type": "block_actions",
            "user": self._user(user_id),
            "api_app_id": self.api_app_id,
            "token": self.token,
            "container": {"type": "view", "view_id": view.get("id")},
            "trigger_id": self.slack.issue_trigger_id(user_id),
            "team": self._team(),
            "enterprise": None,
            "is_enterprise_install": False,
            "view": dict(view),
            "actions": [
                {
                    "type": "static_select",
                    "action_id": action_id,
                    "block_id": block_id,
                    "selected_option": option,
                    "action_ts": f"{time.time():.6f}",
                }
            ],
        }
        return await self._send_payload(payload)

    async def open_modal_via(
        self,
        user_id: str,
        action_id: str | None = None,
        *,
        message: Message | None = None,
        home: bool = False,
        value: str | None = None,
        command_text: str | None = None,
        command: str = "/consult",
        timeout: float = 3.0,
    ) -> dict[str, Any]:
        """Click a button (in `message`, or on the App Home) or run a slash command, then
        return the modal the app opened with that trigger_id (waits up to `timeout`)."""
        if command_text is not None:
            resp = await self.slash_command(user_id, command_text, command=command)
        elif action_id is None:
            raise DriverError("open_modal_via needs action_id or command_text")
        elif message is not None:
            resp = await self.click_in_message(user_id, message, action_id)
        elif home:
            resp = await self.click_in_home(user_id, action_id, value)
        else:
            resp = await self.click_button(user_id, action_id, value)
        if resp.status != 200:
            raise DriverError(f"app answered {resp.status}: {resp.body[:200]}")
        trigger_id = resp.trigger_id
        assert trigger_id is not None
        try:
            return await self.slack.wait_for(
                lambda: self.slack.view_by_trigger(trigger_id), timeout=timeout
            )
        except TimeoutError:
            raise DriverError(f"app opened no modal with trigger {trigger_id}") from None

    # ------------------------------------------------------------------ view submission

    async def submit_view(
        self,
        user_id: str,
        view: Mapping[str, Any],
        values: Mapping[str, Any],
        *,
        retry_num: int | None = None,
        timestamp: str | int | None = None,
        bad_signature: bool = False,
    ) -> DriverResponse:
        """Submit a modal with the user's inputs (block_id -> value); see build_state_values."""
        sent_view = dict(view)
        sent_view["state"] = {"values": build_state_values(view, values)}
        payload: dict[str, Any] = {
            "type": "view_submission",
            "team": self._team(),
            "user": self._user(user_id),
            "api_app_id": self.api_app_id,
            "token": self.token,
            "trigger_id": self.slack.issue_trigger_id(user_id),
            "view": sent_view,
            "response_urls": [],
            "is_enterprise_install": False,
            "enterprise": None,
        }
        resp = await self._send_payload(
            payload, retry_num=retry_num, timestamp=timestamp, bad_signature=bad_signature
        )
        if resp.status == 200:
            body = resp.json if isinstance(resp.json, dict) else {}
            if not body.get("response_action"):
                record = self.slack.view_record(str(view.get("id")))
                if record is not None:
                    record.closed = True
            else:
                self.slack.record_interaction_response(
                    user_id, None, body, view_id=str(view.get("id"))
                )
        return resp

    async def close_view(self, user_id: str, view: Mapping[str, Any]) -> DriverResponse:
        """Send view_closed (Slack only does so when the view has notify_on_close)."""
        payload = {
            "type": "view_closed",
            "team": self._team(),
            "user": self._user(user_id),
            "api_app_id": self.api_app_id,
            "token": self.token,
            "view": dict(view),
            "is_cleared": False,
            "is_enterprise_install": False,
        }
        return await self._send_payload(payload)

    # ------------------------------------------------------------------ events

    async def send_event(
        self,
        event: Mapping[str, Any],
        *,
        retry_num: int | None = None,
        timestamp: str | int | None = None,
        bad_signature: bool = False,
        event_id: str | None = None,
    ) -> DriverResponse:
        """Send an Events API event_callback envelope (pass event_id to replay one)."""
        now = int(time.time())
        envelope = {
            "token": self.token,
            "team_id": self.team_id,
            "context_team_id": self.team_id,
            "api_app_id": self.api_app_id,
            "event": dict(event),
            "type": "event_callback",
            "event_id": event_id or f"Ev0SBX{next(self._event_ids):08d}",
            "event_time": now,
            "authorizations": [
                {
                    "enterprise_id": None,
                    "team_id": self.team_id,
                    "user_id": self.slack.bot_user_id,
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
            "is_ext_shared_channel": False,
            "event_context": f"4-sandbox-{now}",
        }
        resp = await self.post_raw(
            json.dumps(envelope).encode(),
            {"Content-Type": "application/json"},
            timestamp=timestamp,
            bad_signature=bad_signature,
            retry_num=retry_num,
        )
        resp.payload = envelope
        return resp

    async def post_message(
        self,
        user_id: str,
        channel: str,
        text: str,
        *,
        thread_ts: str | None = None,
        bot_id: str | None = None,
        **kwargs: Any,
    ) -> tuple[Message, DriverResponse]:
        """A person (or, with `bot_id`, another app) writes a message, and Slack sends the
        `message` event to the app."""
        message = self.slack.post_as_user(
            user_id, channel, text, thread_ts=thread_ts, bot_id=bot_id
        )
        event: dict[str, Any] = {
            "type": "message",
            "channel": message.channel,
            "user": user_id,
            "text": text,
            "ts": message.ts,
            "event_ts": message.ts,
            "channel_type": "channel",
        }
        if thread_ts:
            event["thread_ts"] = thread_ts
        if bot_id:
            event["bot_id"] = bot_id
            event["app_id"] = f"A{bot_id}"
        return message, await self.send_event(event, **kwargs)

    async def app_home_opened(self, user_id: str, **kwargs: Any) -> DriverResponse:
        """Send app_home_opened for the Home tab, with the current home view if any."""
        event: dict[str, Any] = {
            "type": "app_home_opened",
            "user": user_id,
            "channel": self.slack.dm_channel_id(user_id),
            "tab": "home",
            "event_ts": f"{time.time():.6f}",
        }
        home = self.slack.home_view(user_id)
        if home is not None:
            event["view"] = home
        return await self.send_event(event, **kwargs)

    async def url_verification(self, challenge: str = "sandbox-challenge") -> DriverResponse:
        """Send the url_verification handshake."""
        body = {"token": self.token, "challenge": challenge, "type": "url_verification"}
        return await self.post_raw(json.dumps(body).encode(), {"Content-Type": "application/json"})

    async def wait(self, seconds: float) -> None:
        """Let background work run (readability helper for scenario tests)."""
        await asyncio.sleep(seconds)
