"""Members answering: the modal they get when they press Respond, and recording what they send."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from slack_sdk.errors import SlackApiError

from bot.answers import (
    Submission,
    current_answers,
    record_submission,
    respondent_key_for,
    validate_answers,
)
from bot.blocks.modal import (
    ORGANISATION_BLOCK,
    REGION_BLOCK,
    ModalContext,
    errors_for,
    info_modal,
    parse_submission,
    response_modal,
    unsent_text,
)
from bot.blocks.receipt import confirmation_text, receipt_message
from bot.consultations import (
    ConsultationError,
    ConsultationView,
    get_consultation,
    is_open_for_answers,
    target_networks,
)
from bot.directory import list_regions
from bot.launch import refresh_posts
from bot.outbox import enqueue
from bot.services import Services
from bot.slack_text import escape
from bot.timefmt import human_deadline
from storage.models import Consultation, MemberProfile, Network, Region, utcnow

log = logging.getLogger(__name__)


def _closed_text(view: ConsultationView) -> str:
    c = view.consultation
    return (
        f"*{escape(c.title)}* closed on {human_deadline(c.deadline, c.timezone)}, "
        "so new answers and edits can no longer be recorded."
    )


def _not_consulted_text(view: ConsultationView, networks: list[Network]) -> str:
    names = ", ".join(f"*{escape(n.name)}*" for n in networks) or "no networks yet"
    return (
        f"Thank you for your interest in *{escape(view.consultation.title)}*. "
        f"This consultation gathers the views of members of: {names}. "
        "If you think you should be included, please ask your network's lead to add you to its "
        "channel."
    )


# What a form needs that does not change from one member to the next (the questions never
# change once added; networks and regions only when the directory is reloaded) is read once per
# consultation and kept briefly, so a deadline rush does not read it again for every submission.
# The consultation row itself (status, deadline) is always read fresh.
FORM_CACHE_SECONDS = 30.0


@dataclass(frozen=True)
class _Form:
    loaded_at: float
    view: ConsultationView
    networks: list[Network]
    regions: list[Region]


async def _form(
    services: Services, consultation_id: str, user_id: str
) -> tuple[ConsultationView, list[Network], list[Region], MemberProfile | None]:
    """The consultation (fresh status), its networks and the regions, and the member's profile.

    Raises ConsultationError for an unknown consultation."""
    cache: dict[str, _Form] = services.extras.setdefault("form_cache", {})
    async with services.db.read_session() as session:
        consultation = await session.get(Consultation, consultation_id)
        profile = await session.get(MemberProfile, user_id)
    if consultation is None:
        raise ConsultationError(f"There is no consultation with id '{consultation_id}'.")
    form = cache.get(consultation_id)
    if form is None or time.monotonic() - form.loaded_at > FORM_CACHE_SECONDS:
        # One load at a time: a rush must not load the same form a hundred times at once.
        async with services.extras.setdefault("form_cache_lock", asyncio.Lock()):
            form = cache.get(consultation_id)
            if form is None or time.monotonic() - form.loaded_at > FORM_CACHE_SECONDS:
                view = await get_consultation(services.db, consultation_id)
                form = _Form(
                    time.monotonic(),
                    view,
                    await target_networks(services.db, view.consultation),
                    await list_regions(services.db),
                )
                cache[consultation_id] = form
    return (
        ConsultationView(consultation=consultation, questions=form.view.questions),
        form.networks,
        form.regions,
        profile,
    )


async def modal_for(
    services: Services, user_id: str, consultation_id: str, channel_id: str | None
) -> dict[str, Any]:
    """The view to open for a member who pressed Respond or Edit: the form, or why not."""
    try:
        view, networks, regions, profile = await _form(services, consultation_id, user_id)
    except ConsultationError as exc:
        return info_modal("Not available", str(exc))
    if view.consultation.status == "draft":
        return info_modal("Not open yet", "This consultation has not been launched yet.")
    if not is_open_for_answers(view.consultation):
        return info_modal("Consultation closed", _closed_text(view))
    if not await services.members.networks_of(user_id, networks):
        return info_modal("Not consulted", _not_consulted_text(view, networks))
    ask_profile = bool(regions) and (
        profile is None or profile.region_id is None or not profile.organisation
    )
    key = respondent_key_for(view, user_id, services.anon_secret)
    async with services.db.session() as session:
        response, current = await current_answers(session, view, key)
    display_name = None
    if not view.consultation.anonymous:
        display_name = await _display_name(services, user_id)
    context = ModalContext(
        consultation_id=view.id,
        channel_id=channel_id,
        display_name=display_name,
        ask_profile=ask_profile,
    )
    return response_modal(
        view,
        context,
        current=current,
        consent=response.quote_consent if response else None,
        regions=regions,
    )


async def _display_name(services: Services, user_id: str) -> str | None:
    try:
        info = await services.client.users_info(user=user_id)
    except SlackApiError:
        return None
    user = info.get("user") or {}
    return user.get("real_name") or (user.get("profile") or {}).get("real_name") or user.get("name")


@dataclass
class SubmitOutcome:
    """What to tell Slack: field errors, a replacement view, or close (recorded)."""

    errors: dict[str, str] = field(default_factory=dict)
    replace_view: dict[str, Any] | None = None
    recorded: bool = False
    channel_id: str | None = None
    confirmation: str | None = None


async def submit_response(
    services: Services, user_id: str, view_payload: dict[str, Any], delivery_key: str | None
) -> SubmitOutcome:
    context = ModalContext.loads(view_payload.get("private_metadata"))
    if context is None:
        return SubmitOutcome(
            replace_view=info_modal(
                "Out of date", "This form is out of date; please press Respond again."
            )
        )
    try:
        view, networks, all_regions, profile = await _form(
            services, context.consultation_id, user_id
        )
    except ConsultationError as exc:
        return SubmitOutcome(replace_view=info_modal("Not available", str(exc)))
    state = ((view_payload.get("state") or {}).get("values")) or {}
    parsed = parse_submission(view, state if isinstance(state, dict) else {})
    if not is_open_for_answers(view.consultation):
        # Nothing is silently lost: the member gets their text back to send another way.
        text = unsent_text(view, parsed.answers)
        body = _closed_text(view)
        if text:
            body += "\n\nHere is what you wrote, so you can send it another way:\n\n" + text
        return SubmitOutcome(replace_view=info_modal("Consultation closed", body[:2900]))
    errors = errors_for(validate_answers(view, parsed.answers))
    regions = {r.id for r in all_regions} if context.ask_profile else set()
    if context.ask_profile:
        if parsed.region_id not in regions:
            errors[REGION_BLOCK] = "Please choose your region."
        if not parsed.organisation:
            errors[ORGANISATION_BLOCK] = "Please tell us your organisation."
    if errors:
        return SubmitOutcome(errors=errors)
    mine = await services.members.networks_of(user_id, networks)
    if not mine:
        return SubmitOutcome(
            replace_view=info_modal("Not consulted", _not_consulted_text(view, networks))
        )
    async with services.db.queued_session() as session:
        if context.ask_profile:
            profile = await session.get(MemberProfile, user_id) or MemberProfile(user_id=user_id)
            profile.region_id, profile.organisation = parsed.region_id, parsed.organisation
            profile.source, profile.updated_at = "self", utcnow()
            session.add(profile)
        result = await record_submission(
            session,
            Submission(
                consultation=view,
                answers=parsed.answers,
                user_id=user_id,
                networks=[n.id for n in mine],
                region_id=profile.region_id if profile else None,
                organisation=profile.organisation if profile else None,
                display_name=context.display_name,
                quote_consent=parsed.consent,
                delivery_key=delivery_key,
            ),
            anon_secret=services.anon_secret,
        )
        if result.changed:
            key = respondent_key_for(view, user_id, services.anon_secret)
            await enqueue(
                session,
                dedup_key=f"receipt:{view.id}:{key}:{result.revision}",
                method="chat.postMessage",
                channel=user_id,
                payload={
                    "channel": user_id,
                    **receipt_message(view, parsed.answers, revision=result.revision),
                },
                consultation_id=view.id,
            )
    if result.changed:
        # The channel posts' live count, in its own short transaction: every answer in a 5 s
        # bucket writes the same outbox key, and holding that key until the answer's commit
        # would make a rush of answers wait for each other.
        try:
            async with services.db.session() as session:
                await refresh_posts(session, view.id, [n.id for n in mine])
        except Exception:  # the answer is stored; the next one refreshes the count
            log.exception("could not queue the post refresh for %s", view.id)
    services.outbox.wake()
    return SubmitOutcome(
        recorded=True,
        channel_id=context.channel_id,
        confirmation=confirmation_text(view, max(result.revision, 1)),
    )
