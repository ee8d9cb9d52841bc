"""Modal submissions (view_submission)."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.errors import SlackApiError

from bot.blocks.common import ephemeral_text
from bot.blocks.modal import RESPONSE_CALLBACK, info_modal
from bot.responding import submit_response
from bot.services import Services

log = logging.getLogger(__name__)


def delivery_key(body: dict[str, Any]) -> str | None:
    """The same submission retried by Slack (or double-clicked) has the same view id and hash."""
    view = body.get("view") or {}
    if not view.get("id"):
        return None
    return f"view_submission:{view['id']}:{view.get('hash', '')}"


def register(app: AsyncApp, services: Services) -> None:
    @app.view(RESPONSE_CALLBACK)
    async def response_submitted(ack: AsyncAck, body: dict[str, Any]) -> None:
        user_id = (body.get("user") or {}).get("id")
        view = body.get("view")
        if not user_id or not isinstance(view, dict):
            await ack(
                response_action="update", view=info_modal("Not recorded", "Please try again.")
            )
            return
        outcome = await submit_response(services, user_id, view, delivery_key(body))
        if outcome.errors:
            await ack(response_action="errors", errors=outcome.errors)
            return
        if outcome.replace_view is not None:
            await ack(response_action="update", view=outcome.replace_view)
            return
        # Stored and committed: only now is the member told it is recorded.
        channel = outcome.channel_id
        if channel and channel.startswith(("C", "G")):
            await ack()
            try:
                await services.client.chat_postEphemeral(
                    channel=channel,
                    user=user_id,
                    text="Your response is recorded.",
                    blocks=ephemeral_text(outcome.confirmation or "Recorded."),
                )
            except SlackApiError as exc:
                log.info("ephemeral confirmation not shown: %s", exc.response.get("error"))
        else:
            await ack(
                response_action="update",
                view=info_modal("Recorded", outcome.confirmation or "Recorded."),
            )
