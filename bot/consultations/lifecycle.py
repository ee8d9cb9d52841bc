"""A consultation's lifecycle after launch: closing at the deadline (or by staff), extending the
deadline (which reopens a closed consultation), and the `/consult status` report.

Closing is claimed atomically: `UPDATE consultations SET status='closed' ... WHERE status='open'`
(and, for the tick, `deadline <= now`), so when several replicas tick at once exactly one closes
a consultation; in the same transaction it queues the post updates (rendered "Closed" when sent),
a closing note with the final count in each network's thread, cancels the reminders not yet sent
and withdraws queued reminder DMs.

Staff closing early move the deadline to the moment of closing, so every surface that says
"closed on <deadline>" tells the truth; the original deadline is kept in the audit log.

`extend` takes an ISO 8601 date-time (`2021-01-15T12:00`, in the consultation's time zone unless
it carries an offset), a bare date (`2021-01-15`, meaning 17:00 that day in the consultation's
time zone, the usual close of business), or a duration from now (`+3d`, `+36h`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy import func, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.consultations.blocks.notes import closing_note, extended_note
from bot.consultations.catalogue import (
    ConsultationError,
    respondents_by_network,
)
from bot.consultations.files import parse_offset
from bot.consultations.launch import refresh_posts
from bot.core.audit import record
from bot.core.services import Services
from bot.core.timefmt import human_deadline
from bot.delivery.outbox import enqueue
from storage.db import Database
from storage.models import (
    AuditEntry,
    Consultation,
    ConsultationPost,
    Network,
    utcnow,
)

log = logging.getLogger(__name__)

DATE_ONLY_CLOSES_AT = time(17)


# --- closing ---------------------------------------------------------------------------------


async def _count_events(session: AsyncSession, consultation_id: str, action: str) -> int:
    return (
        await session.exec(
            select(func.count()).where(
                AuditEntry.consultation_id == consultation_id, AuditEntry.action == action
            )
        )
    ).one()


async def _after_close(
    session: AsyncSession,
    services: Services,
    consultation: Consultation,
    *,
    actor: str | None,
    detail: dict,
) -> None:
    """Everything that follows a close, in the transaction that claimed it."""
    number = await _count_events(session, consultation.id, "consultation.close") + 1
    posts = (
        await session.exec(
            select(ConsultationPost).where(ConsultationPost.consultation_id == consultation.id)
        )
    ).all()
    await refresh_posts(
        session, consultation.id, [p.network_id for p in posts], reason=f"closed:{number}"
    )
    for post in posts:
        if post.outbox_id is None:
            continue
        await enqueue(
            session,
            dedup_key=f"closing-note:{number}:{consultation.id}:{post.network_id}",
            method="chat.postMessage",
            channel=post.channel_id,
            payload={
                "render": "closing_note",
                "consultation_id": consultation.id,
                "network_id": post.network_id,
                "channel": post.channel_id,
            },
            depends_on_id=post.outbox_id,
            consultation_id=consultation.id,
        )
    for hook in services.hooks.on_close:  # e.g. cancel the reminders, in this transaction
        detail = {**detail, **await hook(session, consultation.id)}
    record(session, actor, "consultation.close", consultation.id, **detail)


async def render_closing_note(db: Database, payload: dict) -> dict:
    """The closing note with the count as it stands when it is posted (final once closed)."""
    consultation_id, network_id = payload["consultation_id"], payload["network_id"]
    async with db.read_session() as session:
        consultation = await session.get(Consultation, consultation_id)
        network = await session.get(Network, network_id)
    assert consultation is not None
    counts = await respondents_by_network(db, consultation_id)
    return {
        "channel": payload["channel"],
        **closing_note(
            consultation,
            respondents=counts.get(network_id, 0),
            network_name=network.name if network else network_id,
        ),
    }


@dataclass(frozen=True)
class Closed:
    consultation: Consultation
    closed_now: bool  # False: it was already closed


async def close_consultation(
    services: Services, consultation_id: str, *, actor: str | None, now: datetime | None = None
) -> Closed:
    """Close an open consultation now (staff). Closing twice is harmless: the second says so.
    The posts, closing notes, reminders and this process's caches follow by themselves."""
    now = now or utcnow()
    async with services.db.session() as session:
        consultation = await session.get(Consultation, consultation_id)
        if consultation is None:
            raise ConsultationError(f"There is no consultation with id '{consultation_id}'.")
        if consultation.status == "draft":
            raise ConsultationError(
                f"`{consultation_id}` has not been launched, so there is nothing to close."
            )
        original = consultation.deadline
        result = await session.exec(  # type: ignore[call-overload]
            update(Consultation)
            .where(col(Consultation.id) == consultation_id, col(Consultation.status) == "open")
            .values(status="closed", closed_at=now, deadline=min(original, now))
        )
        if result.rowcount != 1:
            await session.refresh(consultation)
            return Closed(consultation, closed_now=False)
        await session.refresh(consultation)
        await _after_close(
            session,
            services,
            consultation,
            actor=actor,
            detail={"by": "staff", "original_deadline": original.isoformat()},
        )
    services.after_change(consultation_id)
    services.outbox.wake()
    return Closed(consultation, closed_now=True)


async def close_due(services: Services, now: datetime | None = None) -> list[str]:
    """Close every open consultation whose deadline has passed; each is claimed by one caller."""
    db = services.db
    now = now or utcnow()
    async with db.session() as session:
        due = (
            await session.exec(
                select(Consultation.id).where(
                    Consultation.status == "open", col(Consultation.deadline) <= now
                )
            )
        ).all()
    closed = []
    for consultation_id in due:
        async with db.session() as session:
            result = await session.exec(  # type: ignore[call-overload]
                update(Consultation)
                .where(
                    col(Consultation.id) == consultation_id,
                    col(Consultation.status) == "open",
                    col(Consultation.deadline) <= now,
                )
                .values(status="closed", closed_at=now)
            )
            if result.rowcount != 1:
                continue  # another replica closed it, or it was extended meanwhile
            consultation = await session.get(Consultation, consultation_id)
            assert consultation is not None
            await session.refresh(consultation)
            await _after_close(
                session, services, consultation, actor=None, detail={"by": "deadline"}
            )
        closed.append(consultation_id)
        services.after_change(consultation_id)
    if closed:
        log.info("closed at their deadline: %s", ", ".join(closed))
        services.outbox.wake()
    return closed


async def close_at_deadline(services: Services) -> list[str]:
    """The tick job: close what is due."""
    return await close_due(services)


# --- extending -------------------------------------------------------------------------------


def parse_new_deadline(
    text: str, timezone: str, now: datetime, *, date_only_at: time = DATE_ONLY_CLOSES_AT
) -> datetime:
    """`2021-01-15T12:00` (local unless it has an offset), `2021-01-15` (17:00 local, or
    `date_only_at`), or `+3d`."""
    text = text.strip()
    if text.startswith("+"):
        try:
            return now + parse_offset(text[1:])
        except ValueError as exc:
            raise ConsultationError(str(exc)) from None
    zone = ZoneInfo(timezone)
    try:
        if len(text) == 10:
            day = datetime.fromisoformat(text).date()
            moment = datetime.combine(day, date_only_at, tzinfo=zone)
        else:
            moment = datetime.fromisoformat(text)
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=zone)
    except ValueError:
        raise ConsultationError(
            f"`{text}` is not a date: use 2021-01-15 ({date_only_at:%H:%M}), "
            "2021-01-15T12:00 or +3d."
        ) from None
    return moment.astimezone(UTC)


@dataclass(frozen=True)
class Extended:
    consultation: Consultation
    reopened: bool
    previous_deadline: datetime


async def extend_consultation(
    services: Services,
    consultation_id: str,
    new_deadline: str | datetime,
    *,
    actor: str | None,
    now: datetime | None = None,
) -> Extended:
    """Move the deadline (a closed consultation reopens), update the posts, recompute reminders."""
    now = now or utcnow()
    async with services.db.session() as session:
        consultation = await session.get(Consultation, consultation_id, with_for_update=True)
        if consultation is None:
            raise ConsultationError(f"There is no consultation with id '{consultation_id}'.")
        deadline = (
            parse_new_deadline(new_deadline, consultation.timezone, now)
            if isinstance(new_deadline, str)
            else new_deadline.astimezone(UTC)
        )
        if deadline <= now:
            raise ConsultationError(
                f"The new deadline ({human_deadline(deadline, consultation.timezone)}) "
                "has already passed."
            )
        previous = consultation.deadline
        reopened = consultation.status == "closed"
        consultation.deadline = deadline
        if reopened:
            consultation.status, consultation.closed_at = "open", None
        session.add(consultation)
        await session.flush()
        if consultation.status == "open":
            for hook in services.hooks.on_open:  # e.g. re-plan the reminders
                await hook(session, consultation, now)
            number = await _count_events(session, consultation_id, "consultation.extend") + 1
            posts = (
                await session.exec(
                    select(ConsultationPost).where(
                        ConsultationPost.consultation_id == consultation_id
                    )
                )
            ).all()
            await refresh_posts(
                session,
                consultation_id,
                [p.network_id for p in posts],
                reason=f"extended:{number}",
            )
            for post in posts:
                if post.outbox_id is None:
                    continue
                await enqueue(
                    session,
                    dedup_key=f"extended-note:{number}:{consultation_id}:{post.network_id}",
                    method="chat.postMessage",
                    channel=post.channel_id,
                    payload={
                        "channel": post.channel_id,
                        "reply_broadcast": reopened,
                        **extended_note(consultation, reopened=reopened),
                    },
                    depends_on_id=post.outbox_id,
                    consultation_id=consultation_id,
                )
        record(
            session,
            actor,
            "consultation.extend",
            consultation_id,
            **{
                "from": previous.isoformat(),
                "to": deadline.isoformat(),
                "reopened": reopened,
            },
        )
    services.after_change(consultation_id)
    services.outbox.wake()
    return Extended(consultation, reopened, previous)


def deadline_moved_text(extended: Extended) -> str:
    c = extended.consultation
    verb = "reopened" if extended.reopened else "extended"
    return (
        f":white_check_mark: `{c.id}` {verb}: it now closes on "
        f"{human_deadline(c.deadline, c.timezone)}. The posts are updated and reminders "
        "re-planned."
    )
