"""Members answering: the modal they get when they press Respond, and recording what they send."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete
from sqlmodel import col, select

from bot.answering.answers import (
    Submission,
    current_answers,
    record_submissions,
    respondent_key_for,
    validate_answers,
)
from bot.answering.blocks.modal import (
    ORGANISATION_BLOCK,
    REGION_BLOCK,
    ModalContext,
    ParsedSubmission,
    errors_for,
    info_modal,
    parse_submission,
    response_modal,
    unsent_text,
)
from bot.answering.blocks.receipt import receipt_message, saved_modal
from bot.consultations.catalogue import (
    ConsultationError,
    ConsultationView,
    get_consultation,
    is_open_for_answers,
    target_networks,
)
from bot.consultations.directory import list_regions
from bot.consultations.launch import QueuedProgress, refresh_posts
from bot.core.services import Services
from bot.core.timefmt import human_deadline
from bot.delivery.outbox import FORGET_WHEN_SENT, Outgoing, enqueue_many
from bot.slack.caching import RefreshingCache
from bot.slack.text import escape
from storage.models import (
    Consultation,
    InboxSubmission,
    MemberProfile,
    Network,
    ProcessedDelivery,
    Region,
    utcnow,
)

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
# change once added; networks and regions only when the directory is reloaded) is kept for
# FORM_CACHE_SECONDS; the consultation row (status, deadline) for STATE_CACHE_SECONDS. Both are
# refreshed in the background when older (bot.slack.caching), so a deadline rush never waits on a
# reload. The deadline itself is compared exactly on every submission; only a manual close or
# extend made by another replica can take a moment longer to be seen.
FORM_CACHE_SECONDS = 30.0
STATE_CACHE_SECONDS = 1.0
STATE_STALE_LIMIT = 10.0  # never answer from a status older than this


@dataclass(frozen=True)
class _Form:
    view: ConsultationView
    networks: list[Network]
    regions: list[Region]


@dataclass(frozen=True)
class AnsweringCaches:
    state: RefreshingCache[str, Consultation | None]
    form: RefreshingCache[str, _Form]
    # The "saved" view each accepted answer is acked with, by what it shows: built once, not
    # once per answer (Block Kit validation costs more than the rest of the ack).
    saved_views: dict[tuple[Any, ...], dict[str, Any]] = field(default_factory=dict)


def _caches(services: Services) -> AnsweringCaches:
    caches = services.answering_caches
    if caches is None:

        async def load_state(consultation_id: str) -> Consultation | None:
            async with services.db.read_session() as session:
                return await session.get(Consultation, consultation_id)

        async def load_form(consultation_id: str) -> _Form:
            view = await get_consultation(services.db, consultation_id)
            return _Form(
                view,
                await target_networks(services.db, view.consultation),
                await list_regions(services.db),
            )

        caches = AnsweringCaches(
            state=RefreshingCache(
                "consultation state",
                load_state,
                ttl=STATE_CACHE_SECONDS,
                stale_limit=STATE_STALE_LIMIT,
                spawn=services.in_background,
            ),
            form=RefreshingCache(
                "consultation form",
                load_form,
                ttl=FORM_CACHE_SECONDS,
                spawn=services.in_background,
            ),
        )
        services.answering_caches = caches
    return caches


def refresh_answering_state(services: Services, consultation_id: str) -> None:
    """After a launch, close or extend here: forget what was cached and load it again, so the
    next member to press Respond sees the new state at once."""
    forget_consultation_state(services, consultation_id)
    services.in_background(warm_answering_caches(services))


def forget_consultation_state(services: Services, consultation_id: str) -> None:
    """Drop this process's cached status and form (after a close, extend or edit here)."""
    caches = _caches(services)
    caches.state.forget(consultation_id)
    caches.form.forget(consultation_id)


async def _form(
    services: Services, consultation_id: str
) -> tuple[ConsultationView, list[Network], list[Region]]:
    """The consultation (status at most a second or so old), its networks and the regions.

    Raises ConsultationError for an unknown consultation."""
    caches = _caches(services)
    consultation = await caches.state.get(consultation_id)
    if consultation is None:
        raise ConsultationError(f"There is no consultation with id '{consultation_id}'.")
    if consultation.anonymous and not services.anon_secret:
        # Never recorded under a pseudonym anyone could recompute (started without the key).
        raise ConsultationError(
            "This anonymous consultation cannot take answers until consultbot's anonymity key "
            "is set up again; please tell the policy team."
        )
    form = await caches.form.get(consultation_id)
    return (
        ConsultationView(consultation=consultation, questions=form.view.questions),
        form.networks,
        form.regions,
    )


async def warm_answering_caches(services: Services) -> None:
    """Load what answering reads (status, form, channel members) for every open consultation,
    so the first members to press Respond after a start or launch do not wait for it."""
    async with services.db.read_session() as session:
        open_ids = (
            await session.exec(select(Consultation.id).where(Consultation.status == "open"))
        ).all()
    for consultation_id in open_ids:
        try:
            _view, networks, _regions = await _form(services, consultation_id)
            for network in networks:
                await services.members.members(network.channel_id)
        except Exception as exc:  # a cold cache is slower, not wrong
            log.warning("could not warm the caches for %s: %r", consultation_id, exc)


async def modal_for(
    services: Services, user_id: str, consultation_id: str, channel_id: str | None
) -> dict[str, Any]:
    """The view to open for a member who pressed Respond or Edit: the form, or why not."""
    try:
        view, networks, regions = await _form(services, consultation_id)
    except ConsultationError as exc:
        return info_modal("Not available", str(exc))
    if view.consultation.status == "draft":
        return info_modal("Not open yet", "This consultation has not been launched yet.")
    if not is_open_for_answers(view.consultation):
        return info_modal("Consultation closed", _closed_text(view))
    if not await services.members.networks_of(user_id, networks):
        return info_modal("Not consulted", _not_consulted_text(view, networks))
    async with services.db.read_session() as session:
        profile = await session.get(MemberProfile, user_id)
    ask_profile = bool(regions) and (
        profile is None or profile.region_id is None or not profile.organisation
    )
    key = respondent_key_for(view, user_id, services.anon_secret)
    async with services.db.read_session() as session:
        response, current = await current_answers(session, view, key)
    context = ModalContext(consultation_id=view.id, channel_id=channel_id, ask_profile=ask_profile)
    return response_modal(
        view,
        context,
        current=current,
        consent=response.quote_consent if response else None,
        regions=regions,
    )


@dataclass
class SubmitOutcome:
    """What to tell Slack: field errors, a replacement view, or accepted (close the modal)."""

    errors: dict[str, str] = field(default_factory=dict)
    replace_view: dict[str, Any] | None = None
    accepted_id: int | None = None  # the inbox row holding the accepted submission
    # Accepted: what the modal shows at the ack ("saved"; the receipt follows by DM).
    saved_view: dict[str, Any] | None = None


async def accept_submission(
    services: Services, user_id: str, view_payload: dict[str, Any], delivery_key: str | None
) -> SubmitOutcome:
    """Check a submission and, if it can be recorded, write it to the inbox in one statement.

    Everything the member must fix is answered here, inside Slack's 3 seconds; what remains
    (the revision, the receipt, the post's count) happens after the ack, from the inbox.
    """
    context = ModalContext.loads(view_payload.get("private_metadata"))
    if context is None:
        return SubmitOutcome(
            replace_view=info_modal(
                "Out of date", "This form is out of date; please press Respond again."
            )
        )
    try:
        view, networks, all_regions = await _form(services, context.consultation_id)
    except ConsultationError as exc:
        return SubmitOutcome(replace_view=info_modal("Not available", str(exc)))
    state = ((view_payload.get("state") or {}).get("values")) or {}
    state = state if isinstance(state, dict) else {}
    parsed = parse_submission(view, state)
    if not is_open_for_answers(view.consultation):
        # Nothing is silently lost: the member gets their text back to send another way.
        text = unsent_text(view, parsed.answers)
        body = _closed_text(view)
        if text:
            body += "\n\nHere is what you wrote, so you can send it another way:\n\n" + text
        return SubmitOutcome(replace_view=info_modal("Consultation closed", body[:2900]))
    errors = errors_for(validate_answers(view, parsed.answers))
    if context.ask_profile:
        if parsed.region_id not in {r.id for r in all_regions}:
            errors[REGION_BLOCK] = "Please choose your region."
        if not parsed.organisation:
            errors[ORGANISATION_BLOCK] = "Please tell us your organisation."
    if errors:
        return SubmitOutcome(errors=errors)
    if not context.ask_profile:
        parsed = parsed.without_profile()
    mine = await services.members.networks_of(user_id, networks)
    if not mine:
        return SubmitOutcome(
            replace_view=info_modal("Not consulted", _not_consulted_text(view, networks))
        )
    key = delivery_key or f"view_submission:{uuid.uuid4().hex}"
    inbox_id = await services.db.insert_one(
        InboxSubmission,
        {
            "delivery_key": key,
            "user_id": user_id,
            "consultation_id": view.id,
            "payload": {
                "parsed": parsed.packed(),
                "networks": [n.id for n in mine],
                "view_id": view_payload.get("id"),
            },
            "accepted_at": utcnow(),
            "attempts": 0,
        },
        ["delivery_key"],
        InboxSubmission.id,
    )
    if inbox_id is None:  # Slack's retry of a delivery we already accepted
        async with services.db.read_session() as session:
            inbox_id = (
                await session.exec(
                    select(InboxSubmission.id).where(InboxSubmission.delivery_key == key)
                )
            ).first()
            if inbox_id is None and await session.get(ProcessedDelivery, key) is not None:
                # Accepted and already recorded: say so rather than "try again".
                return SubmitOutcome(
                    replace_view=info_modal("Recorded", "Your response is recorded.")
                )
    # Durable from here (a crash before it is recorded is picked up again from the inbox),
    # so the member is told at once, in the ack, that it is saved; no Web API call, so a rush
    # of answers is not held back by Slack's limits on ephemeral messages.
    return SubmitOutcome(accepted_id=inbox_id or 0, saved_view=_saved_view(services, view))


def _saved_view(services: Services, view: ConsultationView) -> dict[str, Any]:
    c = view.consultation
    shown = (c.id, c.title, c.deadline, c.timezone, c.anonymous)
    views = _caches(services).saved_views
    saved = views.get(shown)
    if saved is None:
        if len(views) > 100:  # titles and deadlines change rarely; never let it grow
            views.clear()
        saved = views[shown] = saved_modal(view)
    return saved


def stored_submission(view: ConsultationView, payload: dict[str, Any]) -> ParsedSubmission:
    """The answers an inbox row holds: packed as read at the ack (with a region and
    organisation only if the form asked for them), or, for rows accepted before packing and
    still waiting after an upgrade, Slack's form state read now by the same rule."""
    packed = payload.get("parsed")
    if isinstance(packed, dict):
        return ParsedSubmission.unpacked(view, packed)
    parsed = parse_submission(view, payload.get("values") or {})
    context = ModalContext.loads(payload.get("private_metadata"))
    return parsed if context is not None and context.ask_profile else parsed.without_profile()


def wake_recording(services: Services) -> None:
    """After the ack: record what was just accepted now, not at the inbox worker's next poll."""
    if services.inbox is not None:
        services.inbox.wake()


async def record_accepted(services: Services, rows: Sequence[InboxSubmission]) -> int:
    """Record accepted submissions: revisions, profiles, receipts and the inbox rows' removal in
    one transaction for the whole batch (one writer turn on SQLite); then the posts' counts.

    Safe to run twice (a retry, another replica after a lease ran out): a delivery is recorded
    once and gets one receipt. Returns how many answers were recorded."""
    if not rows:
        return 0
    forms = {c: (await _form(services, c))[0] for c in {row.consultation_id for row in rows}}
    named = [row.user_id for row in rows if not forms[row.consultation_id].consultation.anonymous]
    # The member's name as Slack has it, for quote attribution: read here, never taken from
    # the submission, so a forged one cannot put words in someone else's name.
    people = await services.people.people(sorted(set(named)), stale_ok=True) if named else {}
    parsed = [
        (
            row,
            forms[row.consultation_id],
            stored_submission(forms[row.consultation_id], row.payload),
        )
        for row in rows
    ]
    async with services.db.queued_session() as session:
        user_ids = sorted({row.user_id for row in rows})
        profiles = {
            p.user_id: p
            for p in (
                await session.exec(
                    select(MemberProfile).where(col(MemberProfile.user_id).in_(user_ids))
                )
            ).all()
        }
        submissions: list[Submission] = []
        for n, (row, view, answer) in enumerate(parsed):
            if n % 50 == 49:
                await asyncio.sleep(0)  # a long batch leaves room for Slack's acks
            profile = profiles.get(row.user_id)
            if answer.region_id:  # only ever set when the form asked for it
                anonymous = view.consultation.anonymous
                if profile is None:
                    # An anonymous answer leaves no time on the profile near its revision's
                    # (that would point to whose it is): a new profile takes the launch time.
                    created = (view.consultation.launched_at or utcnow()) if anonymous else utcnow()
                    profile = MemberProfile(user_id=row.user_id, updated_at=created)
                profile.region_id, profile.organisation = answer.region_id, answer.organisation
                profile.source = "self"
                if not anonymous:
                    profile.updated_at = utcnow()
                profiles[row.user_id] = profile
                session.add(profile)
            person = people.get(row.user_id)
            submissions.append(
                Submission(
                    consultation=view,
                    answers=answer.answers,
                    user_id=row.user_id,
                    networks=list(row.payload.get("networks") or []),
                    region_id=profile.region_id if profile else None,
                    organisation=profile.organisation if profile else None,
                    display_name=(
                        None if view.consultation.anonymous or person is None else person.name
                    ),
                    quote_consent=answer.consent,
                    delivery_key=row.delivery_key,
                    submitted_at=row.accepted_at,
                )
            )
        results = await record_submissions(session, submissions, anon_secret=services.anon_secret)
        receipts: list[Outgoing] = []
        for n, ((row, view, answer), result) in enumerate(zip(parsed, results, strict=True)):
            if n % 50 == 49:
                await asyncio.sleep(0)
            if result.changed:
                receipts.append(
                    Outgoing(
                        # Keyed by the delivery, never by the pseudonym: nothing may link the two.
                        dedup_key=f"receipt:{row.delivery_key}",
                        method="chat.postMessage",
                        channel=row.user_id,
                        payload={
                            "channel": row.user_id,
                            **receipt_message(view, answer.answers, revision=result.revision),
                        },
                        consultation_id=view.id,
                        batch=FORGET_WHEN_SENT if view.consultation.anonymous else None,
                    )
                )
        await enqueue_many(session, receipts)
        # The inbox rows go in the same transaction as the answers: recorded exactly once.
        await session.exec(  # type: ignore[call-overload]
            delete(InboxSubmission).where(col(InboxSubmission.id).in_([row.id for row in rows]))
        )
    changed: dict[str, set[str]] = {}
    for (row, view, _answer), result in zip(parsed, results, strict=True):
        if result.changed:
            changed.setdefault(view.id, set()).update(row.payload.get("networks") or [])
    await _queue_post_counts(services, changed)
    services.outbox.wake()
    return len(rows)


async def _queue_post_counts(services: Services, networks: dict[str, set[str]]) -> None:
    """The channel posts' live counts, in their own short transaction: every answer in a 5 s
    bucket writes the same outbox key, and holding that key until the answers' commit would
    make recording batches wait for each other. Once this process has queued a bucket's
    update, the rest of the bucket's answers write nothing."""
    if services.queued_progress is None:
        services.queued_progress = QueuedProgress()
    queued = services.queued_progress
    now = utcnow()
    for consultation_id, network_ids in networks.items():
        to_queue = queued.still_to_queue(consultation_id, sorted(network_ids), now)
        if not to_queue:
            continue
        try:
            async with services.db.queued_session() as session:
                await refresh_posts(session, consultation_id, to_queue, now=now)
            queued.mark_queued(consultation_id, to_queue, now)
        except Exception:  # the answers are stored; the next batch refreshes the count
            log.exception("could not queue the post refresh for %s", consultation_id)
