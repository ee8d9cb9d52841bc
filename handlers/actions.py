"""Button clicks (block_actions)."""

from __future__ import annotations

import json
import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.errors import SlackApiError

from bot.answering.blocks.home import HOME_CLOSE_ACTION, HOME_LAUNCH_ACTION
from bot.answering.blocks.receipt import EDIT_ACTION
from bot.answering.home import publish_home
from bot.answering.responding import modal_for
from bot.consultations.blocks.posts import RESPOND_ACTION
from bot.consultations.catalogue import ConsultationError
from bot.consultations.launch import start_launch
from bot.consultations.lifecycle import close_consultation
from bot.core.permissions import authorize, resolve_actor
from bot.core.services import Services
from bot.engagement.blocks import (
    ADD_TO_FAQ_ACTION,
    ANSWER_QUESTION_ACTION,
    NUDGE_REGION_ACTION,
    STOP_REMINDERS_ACTION,
    answer_modal,
)
from bot.engagement.questions import add_to_faq, open_question
from bot.engagement.reminders import nudge, nudge_reply, stop_reminders
from bot.reporting.blocks import SHARE_ACTION
from bot.reporting.summary import SummaryRefused, share_summary
from bot.reporting.theme_blocks import QUESTION_ACTION
from bot.reporting.theme_review import switch_question
from bot.slack.copy import say

log = logging.getLogger(__name__)


def _action(body: dict[str, Any]) -> dict[str, Any]:
    actions = body.get("actions")
    if not isinstance(actions, list) or not actions or not isinstance(actions[0], dict):
        return {}
    return actions[0]


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

    @app.action(QUESTION_ACTION)
    async def themes_question_chosen(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        user_id = (body.get("user") or {}).get("id") or ""
        key = (_action(body).get("selected_option") or {}).get("value")
        view = body.get("view")
        if user_id and isinstance(key, str) and isinstance(view, dict):
            await switch_question(services, user_id, view, key)

    @app.action(SHARE_ACTION)
    async def share_summary_in_channel(
        ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond
    ) -> None:
        await ack()
        user_id = (body.get("user") or {}).get("id") or ""
        # The channel the summary was shown in (the ephemeral's container), nowhere else.
        channel = (body.get("container") or {}).get("channel_id") or (
            body.get("channel") or {}
        ).get("id")
        try:
            value = json.loads(_action(body).get("value") or "{}")
            consultation_id, region = str(value["c"]), value.get("r")
            if region is not None and not isinstance(region, str):
                return
        except (ValueError, KeyError, TypeError):
            return
        # The summary message the button is on: the same in Slack's retries and a double click.
        click_id = (body.get("container") or {}).get("message_ts") or _action(body).get("action_ts")
        if not channel or not click_id:
            return
        actor = await resolve_actor(services.db, user_id)
        try:
            shared = await share_summary(
                services, actor, consultation_id, region, channel, click_id=str(click_id)
            )
        except (SummaryRefused, ConsultationError) as exc:
            await respond(response_type="ephemeral", text=str(exc), replace_original=False)
            return
        if not shared:
            return
        await respond(
            response_type="ephemeral",
            text=say("replies", "sharing_summary"),
            replace_original=False,
        )

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
        await publish_home(services, actor)

    register_reminder_actions(app, services)
    register_question_actions(app, services)


def register_reminder_actions(app: AsyncApp, services: Services) -> None:
    """Stop reminders (in a reminder DM) and Close now (staff, App Home)."""

    @app.action(STOP_REMINDERS_ACTION)
    async def stop_reminders_clicked(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        user_id = (body.get("user") or {}).get("id")
        consultation_id = _action(body).get("value")
        if not (user_id and consultation_id):
            return
        container = body.get("container") or {}
        try:
            await stop_reminders(
                services,
                str(consultation_id),
                user_id,
                channel_id=container.get("channel_id") or (body.get("channel") or {}).get("id"),
                message_ts=container.get("message_ts"),
            )
        except ConsultationError as exc:
            log.info("stop reminders refused: %s", exc)

    @app.action(NUDGE_REGION_ACTION)
    async def nudge_region_clicked(
        ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond
    ) -> None:
        """A lead's "Nudge them now" in an escalation DM: the nudge, scoped to that region."""
        await ack()
        user_id = (body.get("user") or {}).get("id") or ""
        try:
            value = json.loads(_action(body).get("value") or "{}")
            consultation_id, region = str(value["c"]), str(value["r"])
        except (ValueError, KeyError, TypeError):
            return
        actor = await resolve_actor(services.db, user_id)
        decision = authorize(actor, "remind", region=region)
        if not decision:
            await respond(response_type="ephemeral", text=decision.reason, replace_original=False)
            return
        try:
            outcome = await nudge(services, consultation_id, actor, region=region)
        except ConsultationError as exc:
            await respond(response_type="ephemeral", text=str(exc), replace_original=False)
            return
        text = nudge_reply(outcome) or say("replies", "nobody_left_to_nudge")
        await respond(response_type="ephemeral", text=text, replace_original=False)

    @app.action(HOME_CLOSE_ACTION)
    async def close_from_home(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        user_id = (body.get("user") or {}).get("id") or ""
        actor = await resolve_actor(services.db, user_id)
        if not authorize(actor, "close"):
            return
        consultation_id = str(_action(body).get("value"))
        try:
            await close_consultation(services, consultation_id, actor=user_id)
        except ConsultationError as exc:
            log.info("close from home refused: %s", exc)
        await publish_home(services, actor)


def _question_id(body: dict[str, Any]) -> int | None:
    try:
        return int(str(_action(body).get("value")))
    except ValueError:
        return None


def register_question_actions(app: AsyncApp, services: Services) -> None:
    """Answer (opens the modal) and Add to FAQ, in the DMs staff get about members' questions."""

    @app.action(ANSWER_QUESTION_ACTION)
    async def answer_clicked(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        user_id = (body.get("user") or {}).get("id") or ""
        question_id, trigger_id = _question_id(body), body.get("trigger_id")
        if question_id is None or not trigger_id:
            return
        decision = authorize(await resolve_actor(services.db, user_id), "answer_question")
        if not decision:
            await respond(response_type="ephemeral", text=decision.reason, replace_original=False)
            return
        try:
            question, consultation = await open_question(services.db, question_id)
        except ConsultationError as exc:
            await respond(response_type="ephemeral", text=str(exc), replace_original=False)
            return
        if question.answered_by is not None:
            text = say("replies", "already_answered_by", user_id=question.answered_by)
            await respond(response_type="ephemeral", text=text, replace_original=False)
            return
        view = answer_modal(consultation, question_id=question_id, text=question.text)
        try:
            await services.client.views_open(trigger_id=trigger_id, view=view)
        except SlackApiError as exc:
            log.warning("views.open failed: %s", exc.response.get("error"))

    @app.action(ADD_TO_FAQ_ACTION)
    async def add_to_faq_clicked(
        ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond
    ) -> None:
        await ack()
        user_id = (body.get("user") or {}).get("id") or ""
        question_id = _question_id(body)
        if question_id is None:
            return
        decision = authorize(await resolve_actor(services.db, user_id), "add_to_faq")
        if not decision:
            await respond(response_type="ephemeral", text=decision.reason, replace_original=False)
            return
        container = body.get("container") or {}
        try:
            await add_to_faq(
                services,
                question_id,
                user_id,
                channel_id=container.get("channel_id") or (body.get("channel") or {}).get("id"),
                message_ts=container.get("message_ts"),
            )
        except ConsultationError as exc:
            await respond(response_type="ephemeral", text=str(exc), replace_original=False)
