"""Events API listeners."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncApp

from bot.answering.home import publish_home
from bot.consultations.catalogue import ConsultationError
from bot.core.permissions import resolve_actor
from bot.core.services import Services
from bot.engagement.questions import ask_in_thread

log = logging.getLogger(__name__)


def member_thread_reply(event: dict[str, Any], bot_user_id: str | None) -> bool:
    """A plain message a person wrote in a thread (not the thread's parent, not an edit, a
    join or any other subtype, and never the bot's or another bot's)."""
    if event.get("subtype") or event.get("bot_id") or event.get("bot_profile"):
        return False
    user, text = event.get("user"), event.get("text")
    thread_ts, ts = event.get("thread_ts"), event.get("ts")
    if not (isinstance(user, str) and user and isinstance(text, str) and text.strip()):
        return False
    if user == bot_user_id or not isinstance(event.get("channel"), str):
        return False
    return isinstance(thread_ts, str) and isinstance(ts, str) and thread_ts != ts


def register(app: AsyncApp, services: Services) -> None:
    @app.event("app_home_opened")
    async def home_opened(event: dict[str, Any]) -> None:
        user = event.get("user")
        if event.get("tab", "home") == "home" and isinstance(user, str) and user:
            await publish_home(services, await resolve_actor(services.db, user))

    @app.event("message")
    async def thread_question(event: dict[str, Any]) -> None:
        """A member's question in the thread of a launch post; any other message is ignored."""
        if not member_thread_reply(event, services.bot_user_id):
            return
        try:
            await ask_in_thread(
                services,
                event["user"],
                event["text"],
                channel_id=event["channel"],
                thread_ts=event["thread_ts"],
                ts=event["ts"],
            )
        except ConsultationError as exc:
            log.info("thread question not taken: %s", exc)
