"""Staff review of the theme codebooks in Slack: `/consult themes ID [QUESTION]` opens a modal
listing a question's themes; staff rename, merge or drop one, and the modal shows the result."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from slack_sdk.errors import SlackApiError

from bot.answering.blocks.modal import info_modal
from bot.consultations.catalogue import ConsultationError
from bot.core.permissions import authorize, resolve_actor
from bot.core.services import Services
from bot.reporting.codebook import CodebookError, FieldError, apply_edit, review
from bot.reporting.llm_coding import LlmEndpoint
from bot.reporting.theme_blocks import (
    EDIT_BLOCK,
    LABEL_BLOCK,
    OTHER_BLOCK,
    THEME_BLOCK,
    loading_modal,
    read_edit,
    read_metadata,
    review_modal,
)

log = logging.getLogger(__name__)


async def open_review(
    services: Services, consultation_id: str, question_key: str | None, trigger_id: str
) -> None:
    """Open the modal at once (the trigger lasts 3 s), then fill it once the codebook is ready."""
    opened = await services.client.views_open(
        trigger_id=trigger_id, view=loading_modal(consultation_id)
    )
    view_id = (opened.get("view") or {}).get("id")
    try:
        found = await review(
            services.db,
            consultation_id,
            question_key,
            llm=LlmEndpoint.from_settings(services.settings),
        )
        view = review_modal(found)
    except (CodebookError, ConsultationError) as exc:
        view = info_modal("Themes", str(exc))
    try:
        await services.client.views_update(view_id=view_id, view=view)
    except SlackApiError as exc:  # closed meanwhile: nothing to show it in
        log.info("themes modal not updated: %s", exc.response.get("error"))


async def switch_question(services: Services, user_id: str, view: dict[str, Any], key: str) -> None:
    """The question picker in the modal: show another question's codebook."""
    where = read_metadata(view)
    actor = await resolve_actor(services.db, user_id)
    if where is None or not authorize(actor, "themes") or not view.get("id"):
        return
    try:
        found = await review(
            services.db, where[0], key, llm=LlmEndpoint.from_settings(services.settings)
        )
        new_view = review_modal(found)
    except (CodebookError, ConsultationError) as exc:
        new_view = info_modal("Themes", str(exc))
    await services.client.views_update(view_id=view["id"], view=new_view)


@dataclass(frozen=True)
class Outcome:
    errors: dict[str, str] | None = None
    view: dict[str, Any] | None = None


_BLOCKS = {"edit": EDIT_BLOCK, "theme": THEME_BLOCK, "other": OTHER_BLOCK, "label": LABEL_BLOCK}


async def submit_review(services: Services, user_id: str, view: dict[str, Any]) -> Outcome:
    """Apply one edit from the modal; the modal then shows the codebook as it now stands."""
    actor = await resolve_actor(services.db, user_id)
    decision = authorize(actor, "themes")
    if not decision:
        return Outcome(view=info_modal("Not allowed", decision.reason))
    where = read_metadata(view)
    if where is None:
        return Outcome(
            view=info_modal("Themes", "This form is out of date: run the command again.")
        )
    consultation_id, question_key = where
    fields = read_edit((view.get("state") or {}).get("values") or {})
    try:
        done = await apply_edit(
            services.db,
            consultation_id,
            question_key,
            edit=fields[EDIT_BLOCK] or "",
            theme_id=fields[THEME_BLOCK],
            other_id=fields[OTHER_BLOCK],
            label=fields[LABEL_BLOCK],
            actor=user_id,
        )
    except FieldError as exc:
        return Outcome(errors={_BLOCKS[exc.field]: str(exc)[:150]})
    except (CodebookError, ConsultationError) as exc:
        return Outcome(view=info_modal("Themes", str(exc)))
    found = await review(services.db, consultation_id, question_key)
    return Outcome(view=review_modal(found, notice=done))
