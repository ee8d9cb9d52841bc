"""Scheduled launch: a consultation launched by the scheduler at `launch_at`, exactly once.

Staff schedule with `/consult launch ID at DATE` (or `launch_at` in the consultation file),
reschedule by scheduling again, and cancel with `/consult launch ID cancel`, all before it goes
out. DATE is read in the consultation's time zone: `2021-01-04T09:30`, a bare date
(`2021-01-04`, meaning 09:00 that day, the start of the working day) or a duration (`+2h`).

The tick claims a due launch with a conditional UPDATE that takes a short lease (the row must
still be a draft, due, and not leased by anyone else), so with several replicas ticking one of
them launches it; the launch itself is the ordinary one (idempotent per network). A launch that
fell due while the bot was down goes out at the first tick after start, unless the deadline has
passed: then the schedule is dropped and whoever scheduled it is told why. Whoever scheduled it
(every staff member for a schedule from a file) gets a DM when it has gone out, written in the
transaction that opens the consultation, so it is neither lost nor sent twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy import and_, or_, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.consultations.blocks.notes import scheduled_launch_failed_note, scheduled_launch_note
from bot.consultations.catalogue import ConsultationError, target_networks
from bot.consultations.launch import launch_progress, start_launch
from bot.consultations.lifecycle import parse_new_deadline
from bot.core.audit import record
from bot.core.services import Services
from bot.core.timefmt import human_deadline
from bot.delivery.outbox import enqueue
from storage.db import Database
from storage.models import Consultation, StaffMember, utcnow

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=2)
DATE_ONLY_LAUNCHES_AT = time(9)
SCHEDULER = "scheduler"  # the actor of a scheduled launch nobody is named for
# The note waits a moment, so it can say the posts are out rather than "0 so far".
NOTE_DELAY = timedelta(seconds=3)


@dataclass(frozen=True)
class Scheduled:
    consultation: Consultation
    previous: datetime | None  # the time it was scheduled for before, if rescheduled


async def schedule_launch(
    services: Services,
    consultation_id: str,
    when: str,
    *,
    actor: str,
    now: datetime | None = None,
) -> Scheduled:
    """Have the scheduler launch a draft at `when` (see the module doc for the formats)."""
    now = now or utcnow()
    async with services.db.session() as session:
        consultation = await _draft(session, consultation_id, "schedule")
        at = parse_new_deadline(
            when, consultation.timezone, now, date_only_at=DATE_ONLY_LAUNCHES_AT
        )
        if at <= now:
            raise ConsultationError(
                f"{human_deadline(at, consultation.timezone)} has already passed; "
                f"launch it now with `/consult launch {consultation_id}`."
            )
        if at >= consultation.deadline:
            raise ConsultationError(
                f"That is not before its deadline "
                f"({human_deadline(consultation.deadline, consultation.timezone)}); "
                f"extend it first with `/consult extend {consultation_id} DATE`."
            )
        previous = consultation.launch_at
        consultation.launch_at, consultation.launch_scheduled_by = at, actor
        consultation.launch_lease_until = None
        session.add(consultation)
        record(
            session,
            actor,
            "consultation.schedule",
            consultation_id,
            launch_at=at.isoformat(),
            previous=previous.isoformat() if previous else None,
        )
        await session.flush()
        await session.refresh(consultation)
    return Scheduled(consultation, previous)


async def cancel_scheduled_launch(
    services: Services, consultation_id: str, *, actor: str
) -> Consultation:
    """Forget a scheduled launch that has not gone out; the consultation stays a draft."""
    async with services.db.session() as session:
        consultation = await _draft(session, consultation_id, "cancel")
        if consultation.launch_at is None:
            raise ConsultationError(f"`{consultation_id}` has no scheduled launch to cancel.")
        detail = {"launch_at": consultation.launch_at.isoformat()}
        consultation.launch_at = consultation.launch_scheduled_by = None
        consultation.launch_lease_until = None
        session.add(consultation)
        record(session, actor, "consultation.unschedule", consultation_id, **detail)
        await session.flush()
        await session.refresh(consultation)
    return consultation


async def _draft(session: AsyncSession, consultation_id: str, verb: str) -> Consultation:
    consultation = await session.get(Consultation, consultation_id, with_for_update=True)
    if consultation is None:
        raise ConsultationError(f"There is no consultation with id '{consultation_id}'.")
    if consultation.status != "draft":
        raise ConsultationError(
            f"`{consultation_id}` has already been launched, so there is no launch to {verb}."
        )
    return consultation


def scheduled_text(consultation: Consultation) -> str:
    """'Scheduled to launch on Monday 4 January 2021, 9am' (empty when not scheduled)."""
    if consultation.status != "draft" or consultation.launch_at is None:
        return ""
    return f"Scheduled for {human_deadline(consultation.launch_at, consultation.timezone)}"


# --- the tick --------------------------------------------------------------------------------


def _due(now: datetime) -> Any:
    return and_(
        col(Consultation.status) == "draft",
        col(Consultation.launch_at) <= now,
        or_(
            col(Consultation.launch_lease_until).is_(None),
            col(Consultation.launch_lease_until) < now,
        ),
    )


async def _claim(db: Database, consultation_id: str, now: datetime) -> bool:
    async with db.session() as session:
        result = await session.exec(  # type: ignore[call-overload]
            update(Consultation)
            .where(col(Consultation.id) == consultation_id, _due(now))
            .values(launch_lease_until=now + LEASE)
        )
        return result.rowcount == 1


async def _recipients(session: AsyncSession, consultation: Consultation) -> list[str]:
    if consultation.launch_scheduled_by and consultation.launch_scheduled_by != SCHEDULER:
        return [consultation.launch_scheduled_by]
    return sorted((await session.exec(select(StaffMember.user_id))).all())


async def _tell_launched(session: AsyncSession, consultation: Consultation) -> None:
    """In the launch's transaction: the DM saying it went out, to whoever scheduled it."""
    for user_id in await _recipients(session, consultation):
        await enqueue(
            session,
            dedup_key=f"scheduled-launch:{consultation.id}:{user_id}",
            method="chat.postMessage",
            channel=user_id,
            payload={
                "render": "scheduled_launch_note",
                "consultation_id": consultation.id,
                "channel": user_id,
            },
            consultation_id=consultation.id,
            available_at=utcnow() + NOTE_DELAY,
        )


async def _drop_schedule(services: Services, consultation_id: str, reason: str) -> None:
    """The launch cannot go out: forget the schedule and tell whoever made it."""
    async with services.db.session() as session:
        consultation = await session.get(Consultation, consultation_id)
        if consultation is None or consultation.launch_at is None:
            return
        due = consultation.launch_at
        for user_id in await _recipients(session, consultation):
            await enqueue(
                session,
                dedup_key=f"scheduled-launch-failed:{consultation_id}:{due.isoformat()}:{user_id}",
                method="chat.postMessage",
                channel=user_id,
                payload={"channel": user_id, **scheduled_launch_failed_note(consultation, reason)},
                consultation_id=consultation_id,
            )
        consultation.launch_at = consultation.launch_lease_until = None
        session.add(consultation)
        record(
            session,
            None,
            "consultation.schedule_failed",
            consultation_id,
            launch_at=due.isoformat(),
            reason=reason,
        )
    services.outbox.wake()


async def launch_due(services: Services, now: datetime | None = None) -> list[str]:
    """The tick job: launch every scheduled draft that is due, each claimed by one replica."""
    now = now or utcnow()
    async with services.db.session() as session:
        due = (await session.exec(select(Consultation.id).where(_due(now)))).all()
    launched = []
    for consultation_id in due:
        if not await _claim(services.db, consultation_id, now):
            continue  # another replica has it
        async with services.db.session() as session:
            consultation = await session.get(Consultation, consultation_id)
            actor = (consultation.launch_scheduled_by if consultation else None) or SCHEDULER
        try:
            await start_launch(services, consultation_id, actor=actor, on_launched=_tell_launched)
        except ConsultationError as exc:
            log.info("scheduled launch of %s did not go out: %s", consultation_id, exc)
            await _drop_schedule(services, consultation_id, str(exc))
            continue
        # Any other failure leaves the lease to run out: the next claim tries again.
        launched.append(consultation_id)
    if launched:
        log.info("launched as scheduled: %s", ", ".join(launched))
    return launched


async def render_scheduled_launch_note(db: Database, payload: dict[str, Any]) -> dict[str, Any]:
    """The note with the posts' progress as it stands when it is sent."""
    consultation_id = payload["consultation_id"]
    async with db.read_session() as session:
        consultation = await session.get(Consultation, consultation_id)
    if consultation is None:
        return {"channel": payload["channel"], "text": "This consultation is no longer available."}
    progress = await launch_progress(db, consultation_id)
    networks = max(progress.total, len(await target_networks(db, consultation)))
    return {
        "channel": payload["channel"],
        **scheduled_launch_note(
            consultation, posted=progress.sent, networks=networks, failed=progress.failed
        ),
    }
