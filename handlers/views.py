"""Modal submissions (view_submission)."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.answering.blocks.modal import RESPONSE_CALLBACK, info_modal
from bot.answering.responding import accept_submission, wake_recording
from bot.consultations.blocks.new_consultation import NEW_CALLBACK, block_for_problem, form_to_file
from bot.consultations.catalogue import ConsultationError, create_from_form
from bot.consultations.files import FileFormatError
from bot.core.permissions import authorize, resolve_actor
from bot.core.services import Services
from bot.engagement.blocks import ANSWER_BLOCK, ANSWER_CALLBACK, ANSWER_INPUT
from bot.engagement.questions import answer_question
from bot.reporting.theme_blocks import THEMES_CALLBACK
from bot.reporting.theme_review import submit_review
from bot.slack.blocks import read_private_metadata
from bot.slack.copy import say

log = logging.getLogger(__name__)


def delivery_key(body: dict[str, Any]) -> str | None:
    """The same submission retried by Slack (or double-clicked) has the same view id and hash."""
    view = body.get("view") or {}
    if not view.get("id"):
        return None
    return f"view_submission:{view['id']}:{view.get('hash', '')}"


async def _allowed(
    services: Services, ack: AsyncAck, body: dict[str, Any], action: str
) -> str | None:
    """The submitter's user id when they may `action`; otherwise the modal says why, and None."""
    user_id = (body.get("user") or {}).get("id") or ""
    decision = authorize(await resolve_actor(services.db, user_id), action)
    if decision:
        return user_id
    await ack(
        response_action="update",
        view=info_modal(say("replies", "title_not_allowed"), decision.reason),
    )
    return None


def register(app: AsyncApp, services: Services) -> None:
    @app.view(RESPONSE_CALLBACK)
    async def response_submitted(ack: AsyncAck, body: dict[str, Any]) -> None:
        user_id = (body.get("user") or {}).get("id")
        view = body.get("view")
        if not user_id or not isinstance(view, dict):
            await ack(
                response_action="update",
                view=info_modal(say("replies", "title_not_recorded"), say("replies", "try_again")),
            )
            return
        try:
            outcome = await accept_submission(services, user_id, view, delivery_key(body))
        except Exception:
            # e.g. the database is restarting. Keep the modal open with everything the member
            # typed, and say so: closing it would look like "sent" when nothing was stored.
            log.exception("could not accept a submission")
            first_input = next(
                (b["block_id"] for b in view.get("blocks", []) if b.get("type") == "input"),
                None,
            )
            if first_input is None:
                await ack(
                    response_action="update",
                    view=info_modal(
                        say("replies", "title_not_recorded"), say("replies", "not_saved")
                    ),
                )
            else:
                await ack(
                    response_action="errors", errors={first_input: say("replies", "not_saved")}
                )
            return
        if outcome.errors:
            await ack(response_action="errors", errors=outcome.errors)
            return
        if outcome.replace_view is not None:
            await ack(response_action="update", view=outcome.replace_view)
            return
        if not outcome.accepted_id or outcome.saved_view is None:
            await ack(
                response_action="update",
                view=info_modal(say("replies", "title_not_recorded"), say("replies", "try_again")),
            )
            return
        # Accepted: the submission is in the inbox, durable, so the modal says "saved" now;
        # recording follows at once, and the receipt DM after it.
        await ack(response_action="update", view=outcome.saved_view)
        wake_recording(services)

    @app.view(NEW_CALLBACK)
    async def new_consultation_submitted(ack: AsyncAck, body: dict[str, Any]) -> None:
        user_id = await _allowed(services, ack, body, "new")
        if user_id is None:
            return
        view = body.get("view") or {}
        metadata = read_private_metadata(view.get("private_metadata")) or {}
        timezone = metadata.get("tz")
        timezone = (
            timezone if isinstance(timezone, str) and timezone else services.settings.timezone
        )
        state = (view.get("state") or {}).get("values") or {}
        try:
            consultation = await create_from_form(
                services.db,
                form_to_file(state, timezone),
                default_timezone=timezone,
                actor=user_id,
            )
        except FileFormatError as exc:
            errors: dict[str, str] = {}
            for problem in exc.problems:
                block = block_for_problem(problem)
                errors[block] = (errors.get(block, "") + " " + problem).strip()[:2000]
            await ack(response_action="errors", errors=errors)
            return
        except ConsultationError as exc:
            block = "networks" if str(exc).startswith("networks") else "id"
            await ack(response_action="errors", errors={block: str(exc)[:2000]})
            return
        await ack(
            response_action="update",
            view=info_modal(
                say("replies", "title_created"),
                say(
                    "replies",
                    "consultation_created",
                    title=consultation.title,
                    consultation_id=consultation.id,
                ),
            ),
        )

    @app.view(ANSWER_CALLBACK)
    async def answer_submitted(ack: AsyncAck, body: dict[str, Any]) -> None:
        """Staff's answer to a member's question: sent to the asker once."""
        user_id = await _allowed(services, ack, body, "answer_question")
        if user_id is None:
            return
        view = body.get("view") or {}
        try:
            question_id = int(str(view.get("private_metadata")))
        except ValueError:
            await ack(
                response_action="update",
                view=info_modal(say("replies", "title_not_sent"), say("replies", "try_again")),
            )
            return
        values = (view.get("state") or {}).get("values") or {}
        text = ((values.get(ANSWER_BLOCK) or {}).get(ANSWER_INPUT) or {}).get("value") or ""
        if not str(text).strip():
            await ack(
                response_action="errors",
                errors={ANSWER_BLOCK: say("replies", "write_an_answer_first")},
            )
            return
        try:
            answered = await answer_question(services, question_id, user_id, str(text))
        except ConsultationError as exc:
            await ack(response_action="update", view=info_modal("Not sent", str(exc)))
            return
        if not answered.answered_now:
            who = answered.question.answered_by
            await ack(
                response_action="update",
                view=info_modal(
                    say("replies", "title_already_answered"),
                    say("replies", "answered_first_by", user_id=who),
                ),
            )
            return
        await ack(
            response_action="update",
            view=info_modal(
                say("replies", "title_answer_sent"),
                say("replies", "answer_sent_to", user_id=answered.question.asked_by),
            ),
        )

    @app.view(THEMES_CALLBACK)
    async def themes_reviewed(ack: AsyncAck, body: dict[str, Any]) -> None:
        user_id = (body.get("user") or {}).get("id") or ""
        view = body.get("view")
        if not isinstance(view, dict):
            await ack(
                response_action="update",
                view=info_modal(say("replies", "title_themes"), say("replies", "try_again")),
            )
            return
        outcome = await submit_review(services, user_id, view)
        if outcome.errors:
            await ack(response_action="errors", errors=outcome.errors)
        else:
            await ack(response_action="update", view=outcome.view)
