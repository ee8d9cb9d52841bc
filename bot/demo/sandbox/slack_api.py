"""An emulated Slack Web API on loopback, so tests and the demo exercise the real slack_sdk client.

The bot points `AsyncWebClient(base_url=sandbox.url)` at it. Responses follow Slack's JSON shapes,
Block Kit is validated with Slack's limits, and rate limits / faults can be switched on to test the
bot's retry and outbox behaviour.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import json
import random
import time
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime
from typing import Any, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from aiohttp import web

from bot.demo.sandbox.models import (
    Channel,
    Fault,
    FileShare,
    InvalidPayload,
    Message,
    RecordedCall,
    TranscriptEvent,
    User,
    ViewRecord,
)
from bot.demo.sandbox.ratelimit import RateLimiter, RateLimits
from bot.demo.sandbox.render import render_blocks_as_text
from bot.demo.sandbox.validation import validate_message_blocks, validate_view

__all__ = [
    "Channel",
    "FileShare",
    "InvalidPayload",
    "Message",
    "RateLimits",
    "RecordedCall",
    "SandboxSlack",
    "TranscriptEvent",
    "User",
    "ViewRecord",
]

TRIGGER_TTL_SECONDS = 3.0
MAX_VIEW_STACK = 3
MAX_TEXT_LENGTH = 40000
_JSON_PARAMS = {"blocks", "view", "attachments", "files", "metadata", "unfurl_links"}
_TRUE = {"1", "true", "True", "yes"}

Handler = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]


class _ApiError(Exception):
    """Raised inside a method handler to answer `{"ok": false, "error": ...}`."""

    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra


def _truthy(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value != 0
    return isinstance(value, str) and value in _TRUE


class SandboxSlack:
    """Emulated Slack workspace + Web API server; every call is recorded for assertions."""

    def __init__(
        self,
        *,
        bot_token: str = "xoxb-sandbox",
        team_id: str = "T0SANDBOX",
        bot_user_id: str = "U0BOT",
        seed: int = 0,
        rate_limits: RateLimits | None = None,
        clock: Callable[[], float] = time.monotonic,
        bot_id: str = "B0BOT",
        api_app_id: str = "A0SANDBOX",
        team_domain: str = "sandbox",
    ) -> None:
        self.bot_token = bot_token
        self.team_id = team_id
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.api_app_id = api_app_id
        self.team_domain = team_domain
        self.clock = clock
        self._rng = random.Random(seed)
        self.rate_limits = rate_limits or RateLimits()
        self._limiter = RateLimiter(self.rate_limits, clock, self._rng)

        self.users: dict[str, User] = {}
        self.channels: dict[str, Channel] = {}
        # user id -> their DM channel's id: found at once, not by a walk over every channel
        # (a rush's receipts open thousands of DMs).
        self._dm_of_user: dict[str, str] = {}
        self.calls: list[RecordedCall] = []
        self.invalid_payloads: list[InvalidPayload] = []
        self.all_messages: list[Message] = []
        self.files: dict[str, FileShare] = {}
        self.shares: list[FileShare] = []
        self.views: list[ViewRecord] = []
        self.homes: dict[str, ViewRecord] = {}
        self._events: list[TranscriptEvent] = []
        self._faults: list[Fault] = []
        self._triggers: dict[str, tuple[str, float, bool]] = {}  # id -> (user, issued, used)
        self._response_urls: dict[str, dict[str, Any]] = {}
        self._last_ts_us = 0
        self._counter = 0

        self._runner: web.AppRunner | None = None
        self._base: str | None = None
        self.add_user(bot_user_id, name="consultbot", real_name="Consultbot", is_bot=True)
        self._handlers: dict[str, Handler] = {
            "auth.test": self._auth_test,
            "chat.postMessage": self._chat_post_message,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "chat.update": self._chat_update,
            "chat.getPermalink": self._chat_get_permalink,
            "conversations.members": self._conversations_members,
            "conversations.info": self._conversations_info,
            "conversations.open": self._conversations_open,
            "conversations.history": self._conversations_history,
            "conversations.replies": self._conversations_replies,
            "users.info": self._users_info,
            "users.list": self._users_list,
            "views.open": self._views_open,
            "views.update": self._views_update,
            "views.push": self._views_push,
            "views.publish": self._views_publish,
            "files.getUploadURLExternal": self._files_get_upload_url,
            "files.completeUploadExternal": self._files_complete_upload,
        }

    # ------------------------------------------------------------------ lifecycle

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Serve the API; port 0 picks a free port (read it back from `url`)."""
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/api/{method}", self._handle_api)
        app.router.add_post("/upload/v1/{file_id}", self._handle_upload)
        app.router.add_post("/respond/{rid}", self._handle_response_url)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        bound_host, bound_port = self._runner.addresses[0][:2]
        self._base = f"http://{bound_host}:{bound_port}"

    async def stop(self) -> None:
        """Stop serving; recorded state stays available."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        """Server root, e.g. http://127.0.0.1:PORT."""
        if self._base is None:
            raise RuntimeError("SandboxSlack is not started")
        return self._base

    @property
    def url(self) -> str:
        """Web API base URL for AsyncWebClient(base_url=...)."""
        return f"{self.base_url}/api/"

    # ------------------------------------------------------------------ workspace setup

    def add_user(
        self,
        user_id: str,
        name: str | None = None,
        real_name: str | None = None,
        tz: str = "Europe/London",
        is_bot: bool = False,
        deleted: bool = False,
    ) -> User:
        """Add (or replace) a workspace member."""
        user = User(
            id=user_id,
            name=name or user_id.lower(),
            real_name=real_name or (name or user_id).replace(".", " ").title(),
            tz=tz,
            is_bot=is_bot,
            deleted=deleted,
        )
        self.users[user_id] = user
        return user

    def add_channel(
        self,
        channel_id: str,
        name: str,
        members: Iterable[str] = (),
        bot_is_member: bool = True,
        is_private: bool = False,
    ) -> Channel:
        """Add (or replace) a channel; the bot is counted as a member when bot_is_member."""
        channel = Channel(
            id=channel_id,
            name=name.lstrip("#"),
            members=list(members),
            bot_is_member=bot_is_member,
            is_private=is_private,
        )
        self.channels[channel_id] = channel
        self._sync_bot_membership(channel)
        return channel

    def set_members(self, channel: str, members: Iterable[str]) -> None:
        """Replace a channel's human membership (bot membership is kept)."""
        ch = self._find_channel(channel)
        if ch is None:
            raise KeyError(channel)
        ch.members = list(members)
        self._sync_bot_membership(ch)

    def set_bot_membership(self, channel: str, is_member: bool) -> None:
        """Invite/kick the bot, e.g. to test not_in_channel handling."""
        ch = self._find_channel(channel)
        if ch is None:
            raise KeyError(channel)
        ch.bot_is_member = is_member
        self._sync_bot_membership(ch)

    def _sync_bot_membership(self, ch: Channel) -> None:
        if ch.bot_is_member and self.bot_user_id not in ch.members:
            ch.members.append(self.bot_user_id)
        if not ch.bot_is_member and self.bot_user_id in ch.members:
            ch.members.remove(self.bot_user_id)

    def dm_channel_id(self, user_id: str) -> str:
        """The stable DM channel id between the bot and a user (created on first use)."""
        known = self._dm_of_user.get(user_id)
        if known is not None and known in self.channels:
            return known
        dm_id = "D" + (user_id[1:] if user_id[:1] in {"U", "W"} else user_id)
        while dm_id in self.channels:
            dm_id += "X"
        self.channels[dm_id] = Channel(
            id=dm_id,
            name=f"dm-{user_id}",
            members=[user_id, self.bot_user_id],
            is_im=True,
            user=user_id,
        )
        self._dm_of_user[user_id] = dm_id
        return dm_id

    # ------------------------------------------------------------------ driver hooks

    def issue_trigger_id(self, user_id: str) -> str:
        """A trigger_id as Slack puts in an interaction; valid once, for 3 seconds."""
        self._counter += 1
        trigger = f"{self._counter}.{self._rng.randrange(10**12, 10**13)}.{self._rng.getrandbits(128):032x}"
        self._triggers[trigger] = (user_id, self.clock(), False)
        return trigger

    def issue_response_url(
        self, user_id: str, channel_id: str, message_ts: str | None = None
    ) -> str:
        """A response_url that posts back into this sandbox."""
        rid = f"{self._next_id('R')}{self._rng.getrandbits(64):016x}"
        self._response_urls[rid] = {
            "user": user_id,
            "channel": channel_id,
            "message_ts": message_ts,
            "uses": 0,
        }
        return f"{self.base_url}/respond/{rid}"

    def record_interaction_response(
        self,
        user_id: str,
        channel_id: str | None,
        body: dict[str, Any],
        *,
        view_id: str | None = None,
    ) -> None:
        """Record what an app's HTTP ack body would show (ephemeral text, response_action)."""
        action = body.get("response_action")
        if action in {"update", "push"} and isinstance(body.get("view"), dict):
            errors = validate_view(body["view"])
            if errors:
                self._invalid(f"response_action.{action}", body, errors)
                return
            if action == "update" and view_id:
                record = self._find_view(view_id, None)
                if record is not None:
                    self._replace_view(record, body["view"])
                    return
            top = self._top_modal(user_id)
            record = self._new_view_record(body["view"], user_id, None, parent=top)
            self._event("modal", f"modal for {self._at(user_id)}", self._view_text(record.view))
            return
        if action == "errors":
            text = "\n".join(f"{k}: {v}" for k, v in (body.get("errors") or {}).items())
            self._event("modal_errors", f"modal for {self._at(user_id)}", text)
            return
        if action == "clear":
            for record in self.views:
                if record.user_id == user_id:
                    record.closed = True
            return
        if channel_id and (body.get("text") or body.get("blocks")):
            self._respond_into(user_id, channel_id, None, body, source="ack")

    # ------------------------------------------------------------------ faults

    def fail_next(
        self,
        method: str,
        *,
        count: int = 1,
        status: int | None = None,
        error: str | None = None,
        retry_after: int | None = None,
        delay: float | None = None,
        channel: str | None = None,
    ) -> None:
        """Make the next `count` calls of `method` fail.

        error -> HTTP 200 {"ok": false, "error": error}; retry_after -> HTTP 429 with Retry-After;
        status -> that HTTP status; delay alone -> sleep then answer normally; nothing -> HTTP 500.
        """
        self._faults.append(Fault(method, count, status, error, retry_after, delay, channel))

    def clear_faults(self) -> None:
        """Drop every pending injected fault."""
        self._faults.clear()

    def _take_fault(self, method: str, channel: str | None) -> Fault | None:
        for fault in self._faults:
            if fault.method != method or fault.count <= 0:
                continue
            if fault.channel is not None and fault.channel != channel:
                continue
            fault.count -= 1
            if fault.count <= 0:
                self._faults.remove(fault)
            return fault
        return None

    # ------------------------------------------------------------------ HTTP plumbing

    async def _read_params(self, request: web.Request) -> dict[str, Any]:
        params: dict[str, Any] = dict(request.query)
        ctype = request.content_type
        if request.can_read_body:
            if ctype == "application/json":
                try:
                    body = await request.json()
                except (json.JSONDecodeError, UnicodeDecodeError):
                    body = None
                if isinstance(body, dict):
                    params.update(body)
            elif ctype in {"application/x-www-form-urlencoded", "multipart/form-data"}:
                form = await request.post()
                params.update({k: v for k, v in form.items() if isinstance(v, str)})
        for key in _JSON_PARAMS:
            value = params.get(key)
            if isinstance(value, str) and value[:1] in {"[", "{"}:
                try:
                    params[key] = json.loads(value)
                except json.JSONDecodeError:
                    pass
        return params

    def _json(
        self, body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None
    ) -> web.Response:
        return web.json_response(body, status=status, headers=headers)

    async def _handle_api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = await self._read_params(request)
        auth = request.headers.get("Authorization", "")
        token = auth[7:] if auth.startswith("Bearer ") else params.get("token")
        logged = {k: v for k, v in params.items() if k != "token"}

        def answer(body: dict[str, Any], status: int = 200, **headers: str) -> web.Response:
            self.calls.append(
                RecordedCall(
                    method=method,
                    params=logged,
                    ok=bool(body.get("ok")),
                    error=body.get("error"),
                    response=body,
                    at=self.clock(),
                    http_status=status,
                )
            )
            return self._json(body, status, {k.replace("_", "-"): v for k, v in headers.items()})

        handler = self._handlers.get(method)
        if handler is None:
            return answer({"ok": False, "error": "unknown_method"})
        if not token:
            return answer({"ok": False, "error": "not_authed"})
        if token != self.bot_token:
            return answer({"ok": False, "error": "invalid_auth"})

        channel = params.get("channel") or params.get("channel_id")
        resolved = self._resolve_channel_id(channel) if isinstance(channel, str) else None
        fault = self._take_fault(method, channel) or (
            self._take_fault(method, resolved) if resolved and resolved != channel else None
        )
        if fault is not None:
            if fault.delay:
                await asyncio.sleep(fault.delay)
            if fault.error is not None:
                return answer({"ok": False, "error": fault.error})
            if fault.retry_after is not None:
                return answer(
                    {"ok": False, "error": "ratelimited"}, 429, Retry_After=str(fault.retry_after)
                )
            if fault.status is not None or not fault.delay:
                status = fault.status or 500
                return answer({"ok": False, "error": "fatal_error"}, status)

        wait = self._limiter.check(method, resolved or channel)
        if wait is not None:
            return answer({"ok": False, "error": "ratelimited"}, 429, Retry_After=str(wait))

        try:
            result = await handler(params)
            body = {"ok": True, **result}
        except _ApiError as exc:
            body = {"ok": False, "error": exc.error, **exc.extra}
        return answer(body)

    async def _handle_upload(self, request: web.Request) -> web.Response:
        file_id = request.match_info["file_id"]
        record = self.files.get(file_id)
        if record is None:
            return web.Response(status=404, text="file_not_found")
        if request.content_type == "multipart/form-data":
            form = await request.post()
            field = next(iter(form.values()), b"")
            data = field.file.read() if hasattr(field, "file") else str(field).encode()
        else:
            data = await request.read()
        record.content = data
        return web.Response(text=f"OK - {len(data)}")

    async def _handle_response_url(self, request: web.Request) -> web.Response:
        info = self._response_urls.get(request.match_info["rid"])
        if info is None:
            return web.Response(status=404, text="no_active_hooks")
        info["uses"] += 1
        if info["uses"] > 5:
            return web.Response(status=404, text="used_url")
        try:
            body = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            return web.Response(status=400, text="invalid_payload")
        if isinstance(body.get("blocks"), str):
            body["blocks"] = json.loads(body["blocks"])
        if body.get("blocks") is not None:
            errors = validate_message_blocks(body["blocks"])
            if errors:
                self._invalid("response_url", body, errors)
                return web.Response(status=400, text="invalid_blocks")
        self._respond_into(info["user"], info["channel"], info["message_ts"], body, "response_url")
        return web.Response(text="ok")

    def _respond_into(
        self,
        user_id: str,
        channel_id: str,
        message_ts: str | None,
        body: dict[str, Any],
        source: str,
    ) -> None:
        if body.get("delete_original"):
            self._event("delete", self._where(channel_id, None), f"(deleted message {message_ts})")
            return
        if body.get("replace_original") and message_ts:
            original = self._find_message(channel_id, message_ts, include_ephemeral=True)
            if original is not None:
                self._apply_update(original, body.get("text"), body.get("blocks"))
                return
        blocks = self._stamp_blocks(body.get("blocks"))
        ts = self._next_ts()
        in_channel = body.get("response_type") == "in_channel"
        msg = Message(
            channel=channel_id,
            ts=ts,
            text=body.get("text"),
            blocks=blocks,
            user=self.bot_user_id,
            bot_id=self.bot_id,
            thread_ts=body.get("thread_ts"),
            ephemeral_to=None if in_channel else user_id,
            source=source,
        )
        msg.versions.append({"ts": ts, "text": msg.text, "blocks": msg.blocks})
        self.all_messages.append(msg)
        where = (
            self._where(channel_id, msg.thread_ts)
            if in_channel
            else f"ephemeral to {self._at(user_id)} in {self._where(channel_id, None)}"
        )
        self._event("message" if in_channel else "ephemeral", where, self._msg_text(msg), ts)

    # ------------------------------------------------------------------ helpers

    def _next_id(self, prefix: str) -> str:
        self._counter += 1
        return f"{prefix}0SBX{self._counter:06d}"

    def _next_ts(self) -> str:
        now_us = int(time.time() * 1_000_000)
        self._last_ts_us = max(self._last_ts_us + 100, now_us)
        return f"{self._last_ts_us // 1_000_000}.{self._last_ts_us % 1_000_000:06d}"

    def _hash(self) -> str:
        return f"{int(time.time())}.{self._rng.getrandbits(48):012x}"

    def _find_channel(self, ref: str | None) -> Channel | None:
        if not ref:
            return None
        if ref in self.channels:
            return self.channels[ref]
        if ref in self.users:  # a user id: the DM with them, as Slack resolves it
            return self.channels[self.dm_channel_id(ref)]
        name = ref.lstrip("#")
        for ch in self.channels.values():
            if not ch.is_im and ch.name == name:
                return ch
        return None

    def _resolve_channel_id(self, ref: str) -> str | None:
        ch = self._find_channel(ref)
        return ch.id if ch else None

    def _post_target(self, ref: Any) -> Channel:
        """Resolve chat.postMessage's channel argument the way Slack does."""
        if not isinstance(ref, str) or not ref:
            raise _ApiError("channel_not_found")
        if ref in self.users and ref not in self.channels:
            user = self.users[ref]
            if user.deleted:
                raise _ApiError("user_disabled")
            return self.channels[self.dm_channel_id(ref)]
        ch = self._find_channel(ref)
        if ch is None:
            raise _ApiError("channel_not_found")
        if not ch.is_im and not ch.bot_is_member:
            raise _ApiError("not_in_channel")
        return ch

    def _at(self, user_id: str | None) -> str:
        if user_id is None:
            return "@?"
        user = self.users.get(user_id)
        return f"@{user.name}" if user else f"@{user_id}"

    def _where(self, channel_id: str, thread_ts: str | None) -> str:
        ch = self.channels.get(channel_id)
        if ch is None:
            base = channel_id
        elif ch.is_im:
            base = f"DM {self._at(ch.user)}"
        else:
            base = f"#{ch.name}"
        return f"{base} › thread {thread_ts}" if thread_ts else base

    def _stamp_blocks(self, blocks: Any) -> list[dict[str, Any]] | None:
        """Give blocks without block_id a generated one, as Slack does when it stores them."""
        if not isinstance(blocks, list):
            return None
        out: list[dict[str, Any]] = []
        for block in blocks:
            b = dict(block)
            if not b.get("block_id"):
                b["block_id"] = base64.b32encode(self._rng.randbytes(3)).decode().rstrip("=")
            out.append(b)
        return out

    def _invalid(self, method: str, params: dict[str, Any], errors: list[str]) -> None:
        self.invalid_payloads.append(InvalidPayload(method, dict(params), errors, self.clock()))

    def _check_blocks(self, method: str, params: dict[str, Any]) -> None:
        blocks = params.get("blocks")
        if blocks is None or blocks == "":
            return
        errors = validate_message_blocks(blocks)
        if errors:
            self._invalid(method, params, errors)
            raise _ApiError("invalid_blocks", errors=errors)

    def _check_view(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        view = params.get("view")
        errors = validate_view(view) if view is not None else ["missing required field: view"]
        if errors:
            self._invalid(method, params, errors)
            raise _ApiError("invalid_arguments", response_metadata={"messages": errors})
        assert isinstance(view, dict)
        return view

    def _event(self, kind: str, where: str, text: str, ts: str | None = None) -> None:
        self._events.append(TranscriptEvent(len(self._events) + 1, kind, where, text, ts))

    def _msg_text(self, msg: Message) -> str:
        parts = [render_blocks_as_text(msg.blocks) if msg.blocks else (msg.text or "")]
        parts.extend(f"📎 {f.get('title') or f.get('name')}" for f in msg.files)
        return "\n".join(p for p in parts if p)

    def _view_text(self, view: dict[str, Any]) -> str:
        title = view.get("title", {}).get("text") if isinstance(view.get("title"), dict) else None
        head = f"[{title}]\n" if title else ""
        submit = view.get("submit", {}).get("text") if isinstance(view.get("submit"), dict) else ""
        tail = f"\n[{submit}]" if submit else ""
        return f"{head}{render_blocks_as_text(view.get('blocks'))}{tail}"

    def _find_message(
        self, channel_id: str, ts: str, *, include_ephemeral: bool = False
    ) -> Message | None:
        for msg in self.all_messages:
            if msg.channel == channel_id and msg.ts == ts:
                if msg.ephemeral_to is None or include_ephemeral:
                    return msg
        return None

    def _apply_update(self, msg: Message, text: Any, blocks: Any) -> None:
        if text is not None:
            msg.text = text
        if blocks is not None:
            msg.blocks = self._stamp_blocks(blocks)
        edit_ts = self._next_ts()
        msg.versions.append({"ts": edit_ts, "text": msg.text, "blocks": msg.blocks})
        where = self._where(msg.channel, msg.thread_ts if msg.is_reply else None)
        if msg.ephemeral_to:
            where = f"ephemeral to {self._at(msg.ephemeral_to)} in {where}"
        self._event("update", where, self._msg_text(msg), msg.ts)

    # ------------------------------------------------------------------ methods: auth/chat

    async def _auth_test(self, p: dict[str, Any]) -> dict[str, Any]:
        return {
            "url": f"https://{self.team_domain}.slack.com/",
            "team": self.team_domain.title(),
            "user": self.users[self.bot_user_id].name,
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    async def _chat_post_message(self, p: dict[str, Any]) -> dict[str, Any]:
        ch = self._post_target(p.get("channel"))
        self._check_blocks("chat.postMessage", p)
        text, blocks = p.get("text"), p.get("blocks")
        if not text and not blocks and not p.get("attachments"):
            raise _ApiError("no_text")
        if isinstance(text, str) and len(text) > MAX_TEXT_LENGTH:
            raise _ApiError("msg_too_long")
        thread_ts = p.get("thread_ts") or None
        if thread_ts and self._find_message(ch.id, str(thread_ts)) is None:
            raise _ApiError("thread_not_found")
        ts = self._next_ts()
        msg = Message(
            channel=ch.id,
            ts=ts,
            text=text,
            blocks=self._stamp_blocks(blocks),
            user=self.bot_user_id,
            bot_id=self.bot_id,
            thread_ts=str(thread_ts) if thread_ts else None,
            reply_broadcast=_truthy(p.get("reply_broadcast")),
            metadata=p.get("metadata") if isinstance(p.get("metadata"), dict) else None,
        )
        msg.versions.append({"ts": ts, "text": msg.text, "blocks": msg.blocks})
        self.all_messages.append(msg)
        self._event(
            "reply" if msg.thread_ts else "message",
            self._where(ch.id, msg.thread_ts),
            self._msg_text(msg),
            ts,
        )
        return {"channel": ch.id, "ts": ts, "message": msg.to_slack()}

    async def _chat_post_ephemeral(self, p: dict[str, Any]) -> dict[str, Any]:
        ch = self._post_target(p.get("channel"))
        user_id = p.get("user")
        if not user_id or user_id not in self.users:
            raise _ApiError("user_not_found")
        if user_id not in ch.members:
            raise _ApiError("user_not_in_channel")
        self._check_blocks("chat.postEphemeral", p)
        if not p.get("text") and not p.get("blocks") and not p.get("attachments"):
            raise _ApiError("no_text")
        ts = self._next_ts()
        msg = Message(
            channel=ch.id,
            ts=ts,
            text=p.get("text"),
            blocks=self._stamp_blocks(p.get("blocks")),
            user=self.bot_user_id,
            bot_id=self.bot_id,
            thread_ts=p.get("thread_ts") or None,
            ephemeral_to=user_id,
            source="chat.postEphemeral",
        )
        msg.versions.append({"ts": ts, "text": msg.text, "blocks": msg.blocks})
        self.all_messages.append(msg)
        where = f"ephemeral to {self._at(user_id)} in {self._where(ch.id, None)}"
        self._event("ephemeral", where, self._msg_text(msg), ts)
        return {"message_ts": ts}

    async def _chat_update(self, p: dict[str, Any]) -> dict[str, Any]:
        ch = self._find_channel(p.get("channel"))
        if ch is None:
            raise _ApiError("channel_not_found")
        msg = self._find_message(ch.id, str(p.get("ts", "")))
        if msg is None:
            raise _ApiError("message_not_found")
        self._check_blocks("chat.update", p)
        if p.get("text") is None and p.get("blocks") is None and not p.get("attachments"):
            raise _ApiError("no_text")
        self._apply_update(msg, p.get("text"), p.get("blocks"))
        return {"channel": ch.id, "ts": msg.ts, "text": msg.text or "", "message": msg.to_slack()}

    async def _chat_get_permalink(self, p: dict[str, Any]) -> dict[str, Any]:
        ch = self._find_channel(p.get("channel"))
        if ch is None:
            raise _ApiError("channel_not_found")
        msg = self._find_message(ch.id, str(p.get("message_ts", "")))
        if msg is None:
            raise _ApiError("message_not_found")
        link = f"https://{self.team_domain}.slack.com/archives/{ch.id}/p{msg.ts.replace('.', '')}"
        if msg.is_reply:
            link += f"?thread_ts={msg.thread_ts}&cid={ch.id}"
        return {"channel": ch.id, "permalink": link}

    # ------------------------------------------------------------------ methods: conversations/users

    async def _conversations_members(self, p: dict[str, Any]) -> dict[str, Any]:
        ch = self._find_channel(p.get("channel"))
        if ch is None or (ch.is_private and not ch.bot_is_member):
            raise _ApiError("channel_not_found")
        limit = int(p.get("limit") or 100)
        if limit < 1 or limit > 1000:
            raise _ApiError("invalid_limit")
        offset = 0
        if p.get("cursor"):
            try:
                decoded = base64.b64decode(str(p["cursor"])).decode()
                offset = int(decoded.split(":", 1)[1])
            except (ValueError, IndexError, binascii.Error, UnicodeDecodeError):
                raise _ApiError("invalid_cursor") from None
        page = ch.members[offset : offset + limit]
        nxt = offset + limit
        cursor = (
            base64.b64encode(f"offset:{nxt}".encode()).decode() if nxt < len(ch.members) else ""
        )
        return {"members": page, "response_metadata": {"next_cursor": cursor}}

    def _history_channel(self, p: dict[str, Any]) -> Channel:
        ch = self._find_channel(p.get("channel"))
        if ch is None:
            raise _ApiError("channel_not_found")
        if not ch.is_im and not ch.bot_is_member:
            raise _ApiError("not_in_channel")
        return ch

    def _page(self, messages: list[Message], p: dict[str, Any], *, newest_first: bool) -> dict:
        """Slack's history shape; metadata only with include_all_metadata, as Slack does."""
        with_metadata = _truthy(p.get("include_all_metadata"))
        oldest = float(p.get("oldest") or 0)
        limit = int(p.get("limit") or 100)
        chosen = [m for m in messages if float(m.ts) >= oldest]
        if newest_first:
            chosen.reverse()
        out = []
        for msg in chosen[:limit]:
            item = msg.to_slack()
            if not with_metadata:
                item.pop("metadata", None)
            out.append(item)
        return {
            "messages": out,
            "has_more": len(chosen) > limit,
            "response_metadata": {"next_cursor": ""},
        }

    async def _conversations_history(self, p: dict[str, Any]) -> dict[str, Any]:
        ch = self._history_channel(p)
        top = [
            m
            for m in self.all_messages
            if m.channel == ch.id and not m.ephemeral_to and not m.is_reply
        ]
        return self._page(top, p, newest_first=True)

    async def _conversations_replies(self, p: dict[str, Any]) -> dict[str, Any]:
        ch = self._history_channel(p)
        ts = str(p.get("ts", ""))
        parent = self._find_message(ch.id, ts)
        if parent is None:
            raise _ApiError("thread_not_found")
        thread = [parent] + [
            m
            for m in self.all_messages
            if m.channel == ch.id and m.thread_ts == ts and m.is_reply and not m.ephemeral_to
        ]
        return self._page(thread, p, newest_first=False)

    def _channel_info(self, ch: Channel) -> dict[str, Any]:
        if ch.is_im:
            return {
                "id": ch.id,
                "created": ch.created,
                "is_im": True,
                "is_org_shared": False,
                "user": ch.user,
                "is_user_deleted": bool(
                    ch.user and self.users.get(ch.user, User("", "", "")).deleted
                ),
                "priority": 0,
            }
        return {
            "id": ch.id,
            "name": ch.name,
            "name_normalized": ch.name,
            "is_channel": not ch.is_private,
            "is_group": ch.is_private,
            "is_im": False,
            "is_mpim": False,
            "is_private": ch.is_private,
            "is_archived": False,
            "is_general": False,
            "is_shared": False,
            "is_org_shared": False,
            "is_member": ch.bot_is_member,
            "created": ch.created,
            "creator": "U0ADMIN",
            "context_team_id": self.team_id,
            "topic": {"value": "", "creator": "", "last_set": 0},
            "purpose": {"value": "", "creator": "", "last_set": 0},
            "num_members": len(ch.members),
        }

    async def _conversations_info(self, p: dict[str, Any]) -> dict[str, Any]:
        ch = self._find_channel(p.get("channel"))
        if ch is None or (ch.is_private and not ch.bot_is_member):
            raise _ApiError("channel_not_found")
        return {"channel": self._channel_info(ch)}

    async def _conversations_open(self, p: dict[str, Any]) -> dict[str, Any]:
        if p.get("channel"):
            ch = self._find_channel(p["channel"])
            if ch is None or not ch.is_im:
                raise _ApiError("channel_not_found")
            return {"channel": {"id": ch.id}, "no_op": True, "already_open": True}
        users = [u.strip() for u in str(p.get("users") or "").split(",") if u.strip()]
        if not users:
            raise _ApiError("users_list_not_supplied")
        if len(users) > 1:
            raise _ApiError("not_supported")  # group DMs are not emulated
        user = self.users.get(users[0])
        if user is None:
            raise _ApiError("user_not_found")
        if user.deleted:
            raise _ApiError("user_disabled")
        if user.is_bot:
            raise _ApiError("cannot_dm_bot")
        existed = any(c.is_im and c.user == user.id for c in self.channels.values())
        dm_id = self.dm_channel_id(user.id)
        out: dict[str, Any] = {"channel": {"id": dm_id}}
        if existed:
            out.update(no_op=True, already_open=True)
        if _truthy(p.get("return_im")):
            out["channel"] = self._channel_info(self.channels[dm_id])
        return out

    def user_object(self, user: User) -> dict[str, Any]:
        """users.info's `user` object for a member."""
        try:
            offset = datetime.now(ZoneInfo(user.tz)).utcoffset()
            tz_offset = int(offset.total_seconds()) if offset else 0
            tz_label = datetime.now(ZoneInfo(user.tz)).tzname() or user.tz
        except ZoneInfoNotFoundError:
            tz_offset, tz_label = 0, "UTC"
        return {
            "id": user.id,
            "team_id": self.team_id,
            "name": user.name,
            "deleted": user.deleted,
            "real_name": user.real_name,
            "tz": user.tz,
            "tz_label": tz_label,
            "tz_offset": tz_offset,
            "is_admin": False,
            "is_owner": False,
            "is_bot": user.is_bot,
            "is_app_user": False,
            "updated": int(datetime.now(UTC).timestamp()),
            "profile": {
                "real_name": user.real_name,
                "real_name_normalized": user.real_name,
                "display_name": user.name,
                "display_name_normalized": user.name,
                "email": f"{user.name}@example.org",
                "team": self.team_id,
                "image_48": "https://example.org/avatar_48.png",
            },
        }

    async def _users_list(self, p: dict[str, Any]) -> dict[str, Any]:
        """Every user, paginated with a cursor like Slack (limit up to 1000, default 200)."""
        limit = min(max(int(p.get("limit") or 200), 1), 1000)
        everyone = list(self.users.values())
        offset = 0
        if p.get("cursor"):
            try:
                offset = int(base64.b64decode(str(p["cursor"])).decode().split(":", 1)[1])
            except (ValueError, IndexError, binascii.Error, UnicodeDecodeError):
                raise _ApiError("invalid_cursor") from None
        page = everyone[offset : offset + limit]
        nxt = offset + limit
        cursor = base64.b64encode(f"users:{nxt}".encode()).decode() if nxt < len(everyone) else ""
        return {
            "members": [self.user_object(u) for u in page],
            "cache_ts": int(self.clock()),
            "response_metadata": {"next_cursor": cursor},
        }

    async def _users_info(self, p: dict[str, Any]) -> dict[str, Any]:
        user = self.users.get(str(p.get("user", "")))
        if user is None:
            raise _ApiError("user_not_found")
        return {"user": self.user_object(user)}

    # ------------------------------------------------------------------ methods: views

    def _use_trigger(self, trigger_id: Any) -> str:
        """Exchange a trigger_id once, within its 3 s lifetime; return its user."""
        entry = self._triggers.get(str(trigger_id or ""))
        if entry is None:
            raise _ApiError("invalid_trigger_id")
        user_id, issued, used = entry
        if used:
            raise _ApiError("exchanged_trigger_id")
        if self.clock() - issued > TRIGGER_TTL_SECONDS:
            raise _ApiError("expired_trigger_id")
        self._triggers[str(trigger_id)] = (user_id, issued, True)
        return user_id

    def _view_dict(
        self, view: dict[str, Any], view_id: str, root: str | None, previous: str | None
    ) -> dict[str, Any]:
        return {
            "id": view_id,
            "team_id": self.team_id,
            "type": view.get("type"),
            "blocks": self._stamp_blocks(view.get("blocks")) or [],
            "private_metadata": view.get("private_metadata", ""),
            "callback_id": view.get("callback_id", ""),
            "state": {"values": {}},
            "hash": self._hash(),
            "title": view.get("title"),
            "clear_on_close": bool(view.get("clear_on_close", False)),
            "notify_on_close": bool(view.get("notify_on_close", False)),
            "close": view.get("close"),
            "submit": view.get("submit"),
            "previous_view_id": previous,
            "root_view_id": root or view_id,
            "app_id": self.api_app_id,
            "external_id": view.get("external_id", ""),
            "app_installed_team_id": self.team_id,
            "bot_id": self.bot_id,
        }

    def _new_view_record(
        self,
        view: dict[str, Any],
        user_id: str,
        trigger_id: str | None,
        parent: ViewRecord | None = None,
    ) -> ViewRecord:
        view_id = self._next_id("V")
        root = parent.view["root_view_id"] if parent else None
        data = self._view_dict(view, view_id, root, parent.id if parent else None)
        record = ViewRecord(view=data, user_id=user_id, trigger_id=trigger_id)
        record.versions.append(data)
        self.views.append(record)
        return record

    def _replace_view(self, record: ViewRecord, view: dict[str, Any]) -> None:
        data = self._view_dict(
            view, record.id, record.view["root_view_id"], record.view["previous_view_id"]
        )
        record.view = data
        record.versions.append(data)
        kind = "home" if data["type"] == "home" else "modal_update"
        where = (
            f"App Home of {self._at(record.user_id)}"
            if kind == "home"
            else f"modal for {self._at(record.user_id)}"
        )
        self._event(kind, where, self._view_text(data))

    def _find_view(self, view_id: Any, external_id: Any) -> ViewRecord | None:
        candidates = [*self.views, *self.homes.values()]
        for record in reversed(candidates):
            if view_id and record.id == view_id:
                return record
            if external_id and record.view.get("external_id") == external_id:
                return record
        return None

    def _top_modal(self, user_id: str) -> ViewRecord | None:
        for record in reversed(self.views):
            if record.user_id == user_id and not record.closed:
                return record
        return None

    async def _views_open(self, p: dict[str, Any]) -> dict[str, Any]:
        view = self._check_view("views.open", p)
        user_id = self._use_trigger(p.get("trigger_id"))
        for record in self.views:  # opening a new modal replaces the user's open stack
            if record.user_id == user_id:
                record.closed = True
        record = self._new_view_record(view, user_id, str(p["trigger_id"]))
        self._event("modal", f"modal for {self._at(user_id)}", self._view_text(record.view))
        return {"view": record.view}

    async def _views_push(self, p: dict[str, Any]) -> dict[str, Any]:
        view = self._check_view("views.push", p)
        user_id = self._use_trigger(p.get("trigger_id"))
        top = self._top_modal(user_id)
        if top is None:
            raise _ApiError("not_found")
        depth = sum(
            1
            for r in self.views
            if not r.closed and r.view["root_view_id"] == top.view["root_view_id"]
        )
        if depth >= MAX_VIEW_STACK:
            raise _ApiError("push_limit_reached")
        record = self._new_view_record(view, user_id, str(p["trigger_id"]), parent=top)
        self._event("modal", f"modal for {self._at(user_id)}", self._view_text(record.view))
        return {"view": record.view}

    async def _views_update(self, p: dict[str, Any]) -> dict[str, Any]:
        view = self._check_view("views.update", p)
        if not p.get("view_id") and not p.get("external_id"):
            raise _ApiError("invalid_arguments", response_metadata={"messages": ["no view id"]})
        record = self._find_view(p.get("view_id"), p.get("external_id"))
        if record is None:
            raise _ApiError("not_found")
        if p.get("hash") and p["hash"] != record.view["hash"]:
            raise _ApiError("hash_conflict")
        self._replace_view(record, view)
        return {"view": record.view}

    async def _views_publish(self, p: dict[str, Any]) -> dict[str, Any]:
        view = self._check_view("views.publish", p)
        user_id = str(p.get("user_id") or "")
        if user_id not in self.users:
            raise _ApiError("user_not_found")
        if view.get("type") != "home":
            raise _ApiError("invalid_arguments", response_metadata={"messages": ["type: home"]})
        record = self.homes.get(user_id)
        if record is not None and p.get("hash") and p["hash"] != record.view["hash"]:
            raise _ApiError("hash_conflict")
        if record is None:
            view_id = self._next_id("V")
            data = self._view_dict(view, view_id, None, None)
            record = ViewRecord(view=data, user_id=user_id, trigger_id=None, versions=[data])
            self.homes[user_id] = record
            self._event("home", f"App Home of {self._at(user_id)}", self._view_text(data))
        else:
            self._replace_view(record, view)
        return {"view": record.view}

    # ------------------------------------------------------------------ methods: files

    async def _files_get_upload_url(self, p: dict[str, Any]) -> dict[str, Any]:
        filename, length = p.get("filename"), p.get("length")
        if not filename or length in (None, ""):
            raise _ApiError("invalid_arguments")
        file_id = self._next_id("F")
        self.files[file_id] = FileShare(
            file_id=file_id,
            filename=str(filename),
            title=None,
            content=b"",
            channel=None,
            thread_ts=None,
            initial_comment=None,
            ts=None,
        )
        return {"upload_url": f"{self.base_url}/upload/v1/{file_id}", "file_id": file_id}

    async def _files_complete_upload(self, p: dict[str, Any]) -> dict[str, Any]:
        files = p.get("files")
        if not isinstance(files, list) or not files:
            raise _ApiError("invalid_arguments")
        records: list[tuple[FileShare, str | None]] = []
        for item in files:
            record = self.files.get(str(item.get("id")))
            if record is None:
                raise _ApiError("file_not_found")
            records.append((record, item.get("title")))
        targets = [p["channel_id"]] if p.get("channel_id") else []
        targets += [c for c in str(p.get("channels") or "").split(",") if c]
        channels = [self._post_target(t) for t in targets]
        thread_ts = p.get("thread_ts") or None
        out_files: list[dict[str, Any]] = []
        for record, title in records:
            record.title = title or record.filename
            out_files.append(
                {
                    "id": record.file_id,
                    "name": record.filename,
                    "title": record.title,
                    "mimetype": "application/octet-stream",
                    "size": len(record.content),
                    "user": self.bot_user_id,
                    "permalink": f"https://{self.team_domain}.slack.com/files/{self.bot_user_id}/"
                    f"{record.file_id}/{record.filename}",
                }
            )
        for ch in channels:
            ts = self._next_ts()
            msg = Message(
                channel=ch.id,
                ts=ts,
                text=p.get("initial_comment") or "",
                blocks=None,
                user=self.bot_user_id,
                bot_id=self.bot_id,
                thread_ts=str(thread_ts) if thread_ts else None,
                files=[dict(f) for f in out_files],
                source="files.completeUploadExternal",
            )
            msg.versions.append({"ts": ts, "text": msg.text, "blocks": None})
            self.all_messages.append(msg)
            for record, _ in records:
                self.shares.append(
                    FileShare(
                        file_id=record.file_id,
                        filename=record.filename,
                        title=record.title,
                        content=record.content,
                        channel=ch.id,
                        thread_ts=msg.thread_ts,
                        initial_comment=p.get("initial_comment"),
                        ts=ts,
                    )
                )
            self._event("file", self._where(ch.id, msg.thread_ts), self._msg_text(msg), ts)
        return {"files": out_files}

    # ------------------------------------------------------------------ people writing

    def post_as_user(
        self,
        user_id: str,
        channel: str,
        text: str,
        *,
        thread_ts: str | None = None,
        bot_id: str | None = None,
    ) -> Message:
        """A message a person (or another app, with `bot_id`) writes in a channel or thread;
        the driver's `post_message` also tells the app, as the Events API would."""
        ch = self._find_channel(channel)
        if ch is None:
            raise _ApiError("channel_not_found")
        if thread_ts and self._find_message(ch.id, thread_ts) is None:
            raise _ApiError("thread_not_found")
        ts = self._next_ts()
        msg = Message(
            channel=ch.id,
            ts=ts,
            text=text,
            blocks=None,
            user=user_id,
            bot_id=bot_id,
            thread_ts=thread_ts,
            source="user",
        )
        msg.versions.append({"ts": ts, "text": text, "blocks": None})
        self.all_messages.append(msg)
        self._event("written", f"{self._at(user_id)} in {self._where(ch.id, thread_ts)}", text, ts)
        return msg

    # ------------------------------------------------------------------ query helpers for tests

    def _channel_ref(self, channel_or_user: str) -> str | None:
        if channel_or_user in self.users and channel_or_user not in self.channels:
            return self.dm_channel_id(channel_or_user)
        return self._resolve_channel_id(channel_or_user)

    def messages(self, channel: str) -> list[Message]:
        """Non-ephemeral messages in a channel (id, #name, or user id for the DM), in ts order."""
        ch_id = self._channel_ref(channel)
        found = [m for m in self.all_messages if m.channel == ch_id and m.ephemeral_to is None]
        return sorted(found, key=lambda m: float(m.ts))

    def top_level_messages(self, channel: str) -> list[Message]:
        """Messages not inside a thread (broadcast replies excluded)."""
        return [m for m in self.messages(channel) if not m.is_reply]

    def thread_replies(self, channel: str, ts: str) -> list[Message]:
        """Replies under the message `ts`."""
        return [m for m in self.messages(channel) if m.is_reply and m.thread_ts == ts]

    def dm_messages(self, user_id: str) -> list[Message]:
        """Messages the bot posted into its DM with this user."""
        return self.messages(self.dm_channel_id(user_id))

    def ephemerals(self, user_id: str, channel: str | None = None) -> list[Message]:
        """Ephemeral messages shown to a user (optionally in one channel)."""
        ch_id = self._channel_ref(channel) if channel else None
        return [
            m
            for m in self.all_messages
            if m.ephemeral_to == user_id and (ch_id is None or m.channel == ch_id)
        ]

    def views_opened(self, user_id: str) -> list[dict[str, Any]]:
        """Current state of each modal opened/pushed for a user, latest last."""
        return [r.view for r in self.views if r.user_id == user_id]

    def view_by_trigger(self, trigger_id: str) -> dict[str, Any] | None:
        """The modal opened with this trigger_id (its current state), if any."""
        for record in self.views:
            if record.trigger_id == trigger_id:
                return record.view
        return None

    def view_record(self, view_id: str) -> ViewRecord | None:
        """The record (with versions) for a view id."""
        return self._find_view(view_id, None)

    def home_view(self, user_id: str) -> dict[str, Any] | None:
        """The App Home view last published for a user."""
        record = self.homes.get(user_id)
        return record.view if record else None

    def files_shared(self, channel_or_user: str) -> list[FileShare]:
        """Files shared into a channel or a user's DM, with their bytes."""
        ch_id = self._channel_ref(channel_or_user)
        return [s for s in self.shares if s.channel == ch_id]

    def count(self, method: str, *, ok: bool | None = None) -> int:
        """How many calls of `method` were received (optionally only ok/failed ones)."""
        return sum(1 for c in self.calls if c.method == method and (ok is None or c.ok == ok))

    def calls_to(self, method: str) -> list[RecordedCall]:
        """Every recorded call of one method."""
        return [c for c in self.calls if c.method == method]

    def transcript_events(self) -> list[TranscriptEvent]:
        """What users saw, in order, as readable entries (see TranscriptEvent.__str__)."""
        return list(self._events)

    def transcript_markdown(self, title: str = "Sandbox transcript") -> str:
        """The transcript as a Markdown document."""
        body = "\n\n".join(str(e) for e in self._events)
        return f"# {title}\n\n{body}\n"

    async def wait_for(
        self,
        predicate: Callable[[], Any],
        timeout: float = 3.0,
        interval: float = 0.01,
    ) -> Any:
        """Poll until predicate() is truthy (for work the bot does in the background)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            result = predicate()
            if result:
                return result
            if loop.time() >= deadline:
                raise TimeoutError(f"condition not met within {timeout}s")
            await asyncio.sleep(interval)

    def fingerprint(self) -> str:
        """A short hash of what users saw, handy to detect unexpected output changes."""
        text = "\n".join(f"{e.kind}|{e.where}|{e.text}" for e in self._events)
        return hashlib.sha256(text.encode()).hexdigest()[:16]
