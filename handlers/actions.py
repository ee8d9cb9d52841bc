"""Button clicks (block_actions)."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.errors import SlackApiError

from bot.blocks.home import HOME_LAUNCH_ACTION
from bot.blocks.posts import RESPOND_ACTION
from bot.blocks.receipt import EDIT_ACTION
from bot.consultations import ConsultationError
from bot.home import publish_home
from bot.launch import start_launch
from bot.permissions import authorize, resolve_actor
from bot.responding import modal_for
from bot.services import Services

log = logging.getLogger(__name__)


def _action(body: dict[str, Any]) -> dict[str, Any]:
    actions = body.get("actions") or [{}]
    return actions[0] if isinstance(actions[0], dict) else {}


def register(app: AsyncApp, services: Services) -> None:
    async def open_response_modal(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        user_id = (body.get("user") or {}).get("id")
        consultation_id = _action(body).get("value")
        trigger_id = body.get("trigger_id")
        if not (user_id and consultation_id and trigger_id):
            return
        channel_id = (body.get("channel") or {}).get("id")
        view = await modal_for(services, user_id, str(consultation_id), channel_id)
        try:
            await services.client.views_open(trigger_id=trigger_id, view=view)
        except SlackApiError as exc:
            log.warning("views.open failed: %s", exc.response.get("error"))

    app.action(RESPOND_ACTION)(open_response_modal)
    app.action(EDIT_ACTION)(open_response_modal)

    @app.action(HOME_LAUNCH_ACTION)
    async def launch_from_home(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        user_id = (body.get("user") or {}).get("id") or ""
        actor = await resolve_actor(services.db, user_id)
        if not authorize(actor, "launch"):
            return
        try:
            await start_launch(services, str(_action(body).get("value")), actor=user_id)
        except ConsultationError as exc:
            log.info("launch from home refused: %s", exc)
        await publish_home(services, user_id)
