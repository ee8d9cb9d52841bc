"""Reminders: planned from a consultation's offsets when it opens, sent once by a claiming tick.

Planning. Each offset (`7d`, `2d`, `4h`) becomes a `ReminderPlan` row when the consultation is
launched (a lifecycle hook the composition root lists), and is recomputed when the deadline moves: rows not yet sent are
replaced, sent ones are kept (an offset is sent at most once per consultation). Day offsets are
wall-clock arithmetic in the consultation's time zone (2d before 17:00 BST is 17:00 two local
days earlier, whatever the clocks did); hours, minutes and seconds are exact durations. An offset
already in the past when the plan is made is stored as `skipped`.

Sending. A tick claims each due row with a conditional UPDATE and a lease, gathers who is in each
network channel (Slack), then in ONE transaction marks the row done and writes every message to
the outbox: a reply in each network's thread, also sent to the channel, with the response count;
and one DM per member who has not responded (counted once across networks; never to bots,
deactivated accounts, or members who pressed Stop). A crash after the claim leaves the row
`claimed` until the lease runs out, and the dedup keys (`reminder:<plan>:<user>`,
`reminder-thread:<plan>:<network>`) make even a double enqueue harmless. When several offsets fell
due while the bot was down only the latest is sent, and none once the deadline has passed.

Working hours. A DM goes out between 09:00 and 18:00 in the member's own time zone (users.info
`tz`): one due at 03:00 for that member waits until 09:00 local (outbox `available_at`), unless
that is after the deadline. Queued DMs are withdrawn (outbox status `cancelled`) when the member
responds, presses Stop, or the consultation closes before they go out.

Manual nudges (`/consult remind ID [NETWORK]`): the same round at once for one network or all,
at most once an hour per network. Staff remind everyone (thread reply + DMs). A regional lead's
nudge DMs only the non-responders of their own region(s) (region from the member's profile), and
posts nothing in the channel, since it is not addressed to the whole network. "Once an hour"
applies to overlapping audiences: a staff nudge (or a scheduled reminder) blocks every nudge of
that network for an hour; a lead's nudge blocks the leads of the same region(s), and a staff nudge
then leaves out those regions' members (it reached them) but reaches everyone else.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from slack_sdk.errors import SlackApiError
from sqlalchemy import and_, or_, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.answering.answers import respondent_key_for
from bot.consultations.catalogue import (
    ConsultationError,
    ConsultationView,
    get_consultation,
    target_networks,
)
from bot.consultations.files import parse_offset
from bot.core.audit import record
from bot.core.permissions import Actor, reminder_scope, scopes_overlap
from bot.core.services import Services
from bot.core.timefmt import human_time
from bot.delivery.outbox import (
    FORGET_WHEN_SENT,
    Outgoing,
    enqueue,
    enqueue_many,
    forget_or_cancel,
)
from bot.engagement.blocks import reminder_dm, thread_reminder
from bot.engagement.escalation import escalate_quiet_regions
from storage.db import Database, insert_or_ignore
from storage.models import (
    Consultation,
    ConsultationPost,
    ManualReminder,
    MemberProfile,
    Network,
    OutboxMessage,
    ReminderOptOut,
    ReminderPlan,
    Response,
    utcnow,
)

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=5)
WORKDAY_START = time(9)
WORKDAY_END = time(18)
MANUAL_INTERVAL = timedelta(hours=1)
# Slackbot is not flagged is_bot in users.info; it is never a member to remind.
ACTIVE = ("pending", "claimed")
DM_KEY_PREFIXES = ("reminder:", "nudge:")
# How old a reading of the channels and the workspace's people the audience may use.
AUDIENCE_SECONDS = 60.0
CHANNEL_READS_AT_ONCE = 8  # conversations.members is Tier 4 (100+ a minute)


# --- planning --------------------------------------------------------------------------------


def _zone(name: str | None, fallback: str = "UTC") -> ZoneInfo:
    for candidate in (name, fallback, "UTC"):
        if candidate:
            try:
                return ZoneInfo(candidate)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("UTC")


def reminder_due(deadline: datetime, timezone: str, label: str) -> datetime:
    """When the reminder `label` before `deadline` is due (UTC).

    Days are counted on the wall clock of `timezone`; hours, minutes and seconds are exact.
    """
    delta = parse_offset(label)
    if label.strip().endswith("d"):
        zone = _zone(timezone)
        wall = deadline.astimezone(zone).replace(tzinfo=None) - timedelta(days=delta.days)
        return wall.replace(tzinfo=zone).astimezone(UTC)
    return deadline - delta


def compute_plan(
    deadline: datetime, timezone: str, labels: Iterable[str], now: datetime
) -> list[tuple[str, datetime, str]]:
    """(label, due_at, status) per distinct offset; offsets already past are `skipped`."""
    plan: dict[str, tuple[str, datetime, str]] = {}
    for label in labels:
        label = label.strip()
        if label in plan:
            continue
        due = reminder_due(deadline, timezone, label)
        plan[label] = (label, due, "pending" if due > now else "skipped")
    return sorted(plan.values(), key=lambda item: item[1])


async def plan_reminders(
    session: AsyncSession, consultation: Consultation, now: datetime | None = None
) -> None:
    """Store (or recompute) the plan in the caller's transaction. Sent rows are kept as they are;
    every other row gets the due time of the current deadline (or goes, if its offset did)."""
    now = now or utcnow()
    rows = (
        await session.exec(
            select(ReminderPlan).where(ReminderPlan.consultation_id == consultation.id)
        )
    ).all()
    existing = {row.offset_label: row for row in rows}
    planned = compute_plan(
        consultation.deadline, consultation.timezone, consultation.reminders, now
    )
    for label, due, status in planned:
        row = existing.get(label)
        if row is None:
            session.add(
                ReminderPlan(
                    consultation_id=consultation.id, offset_label=label, due_at=due, status=status
                )
            )
        elif row.status != "done":
            row.due_at, row.status = due, status
            row.lease_until, row.claimed_by = None, None
            session.add(row)
    labels = {label for label, _, _ in planned}
    for label, row in existing.items():
        if label not in labels and row.status != "done":
            await session.delete(row)
    await session.flush()


async def stop_reminders_at_close(session: AsyncSession, consultation_id: str) -> dict[str, int]:
    """The close hook: no more rounds, and queued reminder DMs withdrawn (figures for the audit)."""
    return {
        "reminders_cancelled": await cancel_reminders(session, consultation_id),
        "dms_withdrawn": await withdraw_consultation_dms(session, consultation_id),
    }


async def cancel_reminders(session: AsyncSession, consultation_id: str) -> int:
    """Cancel what is not sent yet (the consultation closed); returns how many rows."""
    result = await session.exec(  # type: ignore[call-overload]
        update(ReminderPlan)
        .where(
            col(ReminderPlan.consultation_id) == consultation_id,
            col(ReminderPlan.status).in_(ACTIVE),
        )
        .values(status="cancelled", lease_until=None)
    )
    return int(result.rowcount or 0)


# --- who is reminded -------------------------------------------------------------------------


def delivery_time(
    now: datetime, member_tz: str | None, deadline: datetime, fallback_tz: str
) -> datetime:
    """When to deliver a DM due `now`: at once within 09:00-18:00 in the member's time zone,
    otherwise at the next 09:00 there, unless that is not before the deadline (then at once)."""
    zone = _zone(member_tz, fallback_tz)
    here = now.astimezone(zone)
    if WORKDAY_START <= here.time() < WORKDAY_END:
        return now
    day = here.date() if here.time() < WORKDAY_START else here.date() + timedelta(days=1)
    start = datetime.combine(day, WORKDAY_START, tzinfo=zone).astimezone(UTC)
    return now if start >= deadline else start


@dataclass(frozen=True)
class Person:
    user_id: str
    tz: str | None
    region: str | None = None


@dataclass
class Audience:
    """Who is in each target network now, who of them answered, who asked for no reminders."""

    view: ConsultationView
    networks: list[Network]
    members: dict[str, list[str]]  # network id -> human member ids
    people: dict[str, Person]
    answered: set[str]
    opted_out: set[str]
    unreachable: list[str] = field(default_factory=list)  # networks whose members we can't read

    def count(self, network_id: str) -> tuple[int, int]:
        """(answered, members) of a network."""
        members = self.members.get(network_id, [])
        return sum(1 for m in members if m in self.answered), len(members)

    def to_remind(
        self,
        network_ids: Iterable[str],
        regions: frozenset[str] | None = None,
        skip: Mapping[str, frozenset[str]] | None = None,
    ) -> list[Person]:
        """Members of these networks to DM: not answered, not opted out, in `regions` if given,
        not in the regions `skip` gives for that network. A member of several networks appears
        once."""
        chosen: dict[str, Person] = {}
        for network_id in network_ids:
            for user_id in self.members.get(network_id, []):
                person = self.people[user_id]
                if user_id in self.answered or user_id in self.opted_out:
                    continue
                if regions is not None and person.region not in regions:
                    continue
                if skip and person.region in skip.get(network_id, ()):
                    continue
                chosen[user_id] = person
        return [chosen[k] for k in sorted(chosen)]


async def _answered_and_opted_out(
    session: AsyncSession, consultation_id: str
) -> tuple[set[str], set[str]]:
    """Respondent keys that have answered, and users who pressed Stop reminders."""
    keys = set(
        (
            await session.exec(
                select(Response.respondent_key).where(Response.consultation_id == consultation_id)
            )
        ).all()
    )
    opted_out = set(
        (
            await session.exec(
                select(ReminderOptOut.user_id).where(
                    ReminderOptOut.consultation_id == consultation_id
                )
            )
        ).all()
    )
    return keys, opted_out


async def gather_audience(
    services: Services, view: ConsultationView, networks: list[Network]
) -> Audience:
    """Read the channels (several at once) and each member once (users.list), then answers
    and opt-outs. The Slack readings may be up to AUDIENCE_SECONDS old: `/consult status`,
    nudges and reminder rounds share them, so a lead asking five times costs Slack one
    reading (users.list is Tier 2, and a reminder round to 2,000 people needs it too)."""
    reads = asyncio.Semaphore(CHANNEL_READS_AT_ONCE)

    async def read(network: Network) -> list[str] | None:
        async with reads:
            try:
                return sorted(
                    await services.members.members(network.channel_id, max_age=AUDIENCE_SECONDS)
                )
            except SlackApiError as exc:
                log.warning(
                    "reminders: cannot read members of %s: %s",
                    network.channel_id,
                    exc.response.get("error"),
                )
                return None

    # All at once, the workspace listing (users.list) too: a channel answered 429, its
    # Retry-After slept out, then holds up nothing else.
    _listed, *found_members = await asyncio.gather(
        services.people.people([], max_age=AUDIENCE_SECONDS),
        *(read(network) for network in networks),
    )
    members = {n.id: ids or [] for n, ids in zip(networks, found_members, strict=True)}
    unreachable = [n.id for n, ids in zip(networks, found_members, strict=True) if ids is None]
    everyone = sorted({m for ids in members.values() for m in ids})
    found = await services.people.people(everyone)  # listed just now
    people = {u: Person(user_id=u, tz=p.tz) for u, p in found.items() if p.is_human}
    consultation_id = view.id
    async with services.db.session() as session:
        keys, opted_out = await _answered_and_opted_out(session, consultation_id)
        regions = dict(
            (
                await session.exec(
                    select(MemberProfile.user_id, MemberProfile.region_id).where(
                        col(MemberProfile.user_id).in_(list(people) or [""])
                    )
                )
            ).all()
        )
    people = {uid: Person(uid, p.tz, regions.get(uid)) for uid, p in people.items()}
    answered = {
        uid for uid in people if respondent_key_for(view, uid, services.anon_secret) in keys
    }
    return Audience(
        view=view,
        networks=networks,
        members={nid: [m for m in ids if m in people] for nid, ids in members.items()},
        people=people,
        answered=answered,
        opted_out=opted_out,
        unreachable=unreachable,
    )


# --- writing a round to the outbox -----------------------------------------------------------


@dataclass(frozen=True)
class RoundCounts:
    dms_now: int = 0
    dms_later: int = 0
    threads: int = 0


async def enqueue_round(
    session: AsyncSession,
    audience: Audience,
    *,
    prefix: str,
    round_id: str,
    thread_rounds: dict[str, str],
    dm_networks: list[str],
    regions: frozenset[str] | None,
    now: datetime,
    skip: Mapping[str, frozenset[str]] | None = None,
) -> RoundCounts:
    """Write one reminder round in the caller's transaction.

    `thread_rounds` maps each network that gets a thread reply to the id used in its key;
    DMs go to the non-responders of `dm_networks` (within `regions`), one per member.
    """
    consultation = audience.view.consultation
    by_id = {n.id: n for n in audience.networks}
    threads = 0
    for network_id, thread_round in thread_rounds.items():
        post = await session.get(ConsultationPost, (consultation.id, network_id))
        if post is None or post.outbox_id is None:
            continue
        answered, members = audience.count(network_id)
        await enqueue(
            session,
            dedup_key=f"{prefix}-thread:{thread_round}:{network_id}",
            method="chat.postMessage",
            channel=post.channel_id,
            payload={
                "channel": post.channel_id,
                "reply_broadcast": True,
                **thread_reminder(
                    consultation,
                    answered=answered,
                    members=members,
                    network_name=by_id[network_id].name,
                    now=now,
                ),
            },
            depends_on_id=post.outbox_id,
            consultation_id=consultation.id,
        )
        threads += 1
    dms_now = dms_later = 0
    dms: list[Outgoing] = []
    for person in audience.to_remind(dm_networks, regions, skip):
        at = delivery_time(now, person.tz, consultation.deadline, consultation.timezone)
        dms.append(
            Outgoing(
                dedup_key=f"{prefix}:{round_id}:{person.user_id}",
                method="chat.postMessage",
                channel=person.user_id,
                payload={
                    "render": "reminder_dm",
                    "consultation_id": consultation.id,
                    "channel": person.user_id,
                },
                consultation_id=consultation.id,
                # Anonymous: once sent, no row says who was (not) reminded, so who answered.
                batch=FORGET_WHEN_SENT if consultation.anonymous else None,
                available_at=at,
            )
        )
        if at > now:
            dms_later += 1
        else:
            dms_now += 1
    # One statement for the whole round: thousands of DMs, written before any is sent.
    await enqueue_many(session, dms)
    return RoundCounts(dms_now, dms_later, threads)


async def render_reminder_dm(db: Database, payload: dict[str, Any]) -> dict[str, Any]:
    """The DM as it reads when it is sent (time left, a moved deadline, after Stop)."""
    async with db.read_session() as session:
        consultation = await session.get(Consultation, payload["consultation_id"])
    out = {"channel": payload["channel"]}
    if payload.get("ts"):
        out["ts"] = payload["ts"]
    if consultation is None:  # deleted since: say so rather than fail the delivery
        return {**out, "text": "This consultation is no longer available."}
    return {**out, **reminder_dm(consultation, now=utcnow(), stopped=bool(payload.get("stopped")))}


# --- scheduled reminders: claim, send, finish ------------------------------------------------


def _claimable(now: datetime) -> Any:
    return and_(
        col(ReminderPlan.due_at) <= now,
        or_(
            col(ReminderPlan.status) == "pending",
            and_(col(ReminderPlan.status) == "claimed", col(ReminderPlan.lease_until) < now),
        ),
    )


async def claim_reminder(db: Database, plan_id: int, worker: str, now: datetime) -> bool:
    """Claim one due row for `worker` with a lease; False when another worker has it."""
    async with db.session() as session:
        result = await session.exec(  # type: ignore[call-overload]
            update(ReminderPlan)
            .where(col(ReminderPlan.id) == plan_id, _claimable(now))
            .values(status="claimed", lease_until=now + LEASE, claimed_by=worker)
        )
        return result.rowcount == 1


async def _finish(
    session: AsyncSession, plan_id: int, worker: str, status: str, now: datetime
) -> bool:
    """Mark our claimed row final; False if we lost it (lease expired, plan recomputed)."""
    result = await session.exec(  # type: ignore[call-overload]
        update(ReminderPlan)
        .where(
            col(ReminderPlan.id) == plan_id,
            col(ReminderPlan.status) == "claimed",
            col(ReminderPlan.claimed_by) == worker,
        )
        .values(status=status, done_at=now, lease_until=None)
    )
    return result.rowcount == 1


async def _skip_reason(session: AsyncSession, plan: ReminderPlan, now: datetime) -> str | None:
    consultation = await session.get(Consultation, plan.consultation_id)
    if consultation is None or consultation.status != "open":
        return "cancelled"
    if consultation.deadline <= now:
        return "skipped"
    later = (
        await session.exec(
            select(ReminderPlan.id).where(
                ReminderPlan.consultation_id == plan.consultation_id,
                col(ReminderPlan.due_at) > plan.due_at,
                col(ReminderPlan.due_at) <= now,
                col(ReminderPlan.status).in_(("pending", "claimed", "done")),
            )
        )
    ).first()
    return "skipped" if later is not None else None  # superseded by a later offset


async def send_reminder(services: Services, plan_id: int, now: datetime) -> RoundCounts | None:
    """Send a row this worker has claimed: everything in one transaction with marking it done."""
    db, worker = services.db, services.outbox.worker_id
    async with db.session() as session:
        plan = await session.get(ReminderPlan, plan_id)
        assert plan is not None
        reason = await _skip_reason(session, plan, now)
        if reason is not None:
            await _finish(session, plan_id, worker, reason, now)
            return None
        consultation_id = plan.consultation_id
    view = await get_consultation(db, consultation_id)
    networks = await target_networks(db, view.consultation)
    audience = await gather_audience(services, view, networks)
    async with db.session() as session:
        if not await _finish(session, plan_id, worker, "done", now):
            return None
        ids = [n.id for n in networks]
        counts = await enqueue_round(
            session,
            audience,
            prefix="reminder",
            round_id=str(plan_id),
            thread_rounds={nid: str(plan_id) for nid in ids},
            dm_networks=ids,
            regions=None,
            now=now,
        )
        # The leads of quiet regions hear of it at the same point, once (same transaction).
        await escalate_quiet_regions(
            session,
            view.consultation,
            round_id=str(plan_id),
            people=audience.people,
            region_of={user_id: person.region for user_id, person in audience.people.items()},
            answered=audience.answered,
            min_group=services.settings.min_group,
        )
    services.outbox.wake()
    log.info(
        "reminder %s of %s sent: %d threads, %d DMs now, %d later",
        plan_id,
        consultation_id,
        counts.threads,
        counts.dms_now,
        counts.dms_later,
    )
    return counts


async def send_due_reminders(services: Services, now: datetime | None = None) -> int:
    """Claim and send every due reminder; returns how many rounds went out."""
    now = now or utcnow()
    async with services.db.session() as session:
        due = (
            await session.exec(
                select(ReminderPlan.id).where(_claimable(now)).order_by(col(ReminderPlan.due_at))
            )
        ).all()
    sent = 0
    for plan_id in due:
        assert plan_id is not None
        if not await claim_reminder(services.db, plan_id, services.outbox.worker_id, now):
            continue
        try:
            if await send_reminder(services, plan_id, now) is not None:
                sent += 1
        except Exception:  # left claimed: retried when the lease runs out
            log.exception("reminder %s failed; it is retried after its lease", plan_id)
    return sent


# --- withdrawing queued DMs that should no longer go -----------------------------------------


def _dm_rows() -> Any:
    return and_(
        col(OutboxMessage.status) == "pending",
        col(OutboxMessage.method) == "chat.postMessage",
        or_(*(col(OutboxMessage.dedup_key).startswith(p) for p in DM_KEY_PREFIXES)),
    )


async def _cancel_outbox(session: AsyncSession, ids: list[int], reason: str) -> int:
    # A withdrawn DM of an anonymous consultation is deleted: "withdrawn: responded" beside a
    # member's id would say who answered.
    return await forget_or_cancel(session, ids, reason)


async def withdraw_consultation_dms(session: AsyncSession, consultation_id: str) -> int:
    """Cancel every queued reminder DM of a consultation (it closed)."""
    ids = (
        await session.exec(
            select(OutboxMessage.id).where(
                _dm_rows(), OutboxMessage.consultation_id == consultation_id
            )
        )
    ).all()
    return await _cancel_outbox(session, [i for i in ids if i is not None], "withdrawn: closed")


async def withdraw_stale_reminders(services: Services, now: datetime | None = None) -> int:
    """Cancel queued reminder DMs whose member has since responded or opted out, or whose
    consultation is no longer open."""
    now = now or utcnow()
    async with services.db.session() as session:
        rows = (
            await session.exec(
                select(
                    OutboxMessage.id, OutboxMessage.consultation_id, OutboxMessage.channel
                ).where(_dm_rows())
            )
        ).all()
        if not rows:
            return 0
        by_consultation: dict[str, list[tuple[int, str]]] = {}
        for row_id, consultation_id, user_id in rows:
            by_consultation.setdefault(consultation_id or "", []).append((row_id, user_id))
        cancelled = 0
        for consultation_id, queued in by_consultation.items():
            consultation = await session.get(Consultation, consultation_id)
            if (
                consultation is None
                or consultation.status != "open"
                or consultation.deadline <= now
            ):
                cancelled += await _cancel_outbox(
                    session, [i for i, _ in queued], "withdrawn: closed"
                )
                continue
            view = ConsultationView(consultation=consultation, questions=[])
            keys, opted_out = await _answered_and_opted_out(session, consultation_id)
            answered = [
                i
                for i, user in queued
                if respondent_key_for(view, user, services.anon_secret) in keys
            ]
            stopped = [i for i, user in queued if user in opted_out]
            cancelled += await _cancel_outbox(session, answered, "withdrawn: responded")
            cancelled += await _cancel_outbox(session, stopped, "withdrawn: stopped")
    return cancelled


# --- Stop reminders --------------------------------------------------------------------------


async def stop_reminders(
    services: Services,
    consultation_id: str,
    user_id: str,
    *,
    channel_id: str | None = None,
    message_ts: str | None = None,
) -> None:
    """Record the opt-out, withdraw this member's queued DMs, and update the DM they clicked."""
    async with services.db.session() as session:
        consultation = await session.get(Consultation, consultation_id)
        if consultation is None:
            raise ConsultationError(f"There is no consultation with id '{consultation_id}'.")
        # One statement: a retried or double click arriving at the same moment records one.
        opted_out = await insert_or_ignore(
            session,
            ReminderOptOut,
            {"consultation_id": consultation_id, "user_id": user_id, "created_at": utcnow()},
            ["consultation_id", "user_id"],
        )
        if opted_out:
            record(session, user_id, "reminders.stop", consultation_id)
            await session.flush()
        queued = (
            await session.exec(
                select(OutboxMessage.id).where(
                    _dm_rows(),
                    OutboxMessage.consultation_id == consultation_id,
                    OutboxMessage.channel == user_id,
                )
            )
        ).all()
        await _cancel_outbox(session, [i for i in queued if i is not None], "withdrawn: stopped")
        # Only the member's own DM with the bot is edited: a click's channel and ts come from
        # the payload, and must never let anyone rewrite a channel's consultation post.
        if channel_id and message_ts and channel_id.startswith("D"):
            await enqueue(
                session,
                dedup_key=f"reminders-stopped:{consultation_id}:{user_id}:{message_ts}",
                method="chat.update",
                channel=channel_id,
                payload={
                    "render": "reminder_dm",
                    "consultation_id": consultation_id,
                    "channel": channel_id,
                    "ts": message_ts,
                    "stopped": True,
                },
                consultation_id=consultation_id,
                batch=FORGET_WHEN_SENT if consultation.anonymous else None,
            )
    services.outbox.wake()


# --- manual nudges ---------------------------------------------------------------------------


@dataclass(frozen=True)
class NudgeRefusal:
    network: Network
    again_at: datetime


@dataclass
class NudgeOutcome:
    consultation: Consultation
    sent: list[tuple[Network, RoundCounts]] = field(default_factory=list)
    refused: list[NudgeRefusal] = field(default_factory=list)
    regions: frozenset[str] | None = None
    # network -> regions left out: their lead nudged them within the hour
    skipped: dict[str, frozenset[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class NudgeRoom:
    """What a new nudge may still reach, network by network, given the last hour's reminders."""

    blocked: dict[str, datetime] = field(default_factory=dict)  # network -> when it may again
    # network -> regions a lead's nudge reached this hour: skipped by a wider nudge
    reached: dict[str, frozenset[str]] = field(default_factory=dict)


def nudge_room(
    scope: frozenset[str] | None,
    recent: Iterable[tuple[str, frozenset[str] | None, datetime]],
) -> NudgeRoom:
    """From the last hour's nudges (network, regions reached, when), what a nudge with `scope`
    (None: everyone) may reach. A nudge to everyone blocks the network for an hour; a lead's
    blocks only the regions it reached: another lead of those regions waits, staff still reach
    everyone else in the network."""
    room = NudgeRoom()
    for network_id, regions, sent_at in recent:
        again = sent_at + MANUAL_INTERVAL
        if regions is None:
            room.blocked[network_id] = max(room.blocked.get(network_id, again), again)
            continue
        if scope is not None and scopes_overlap(scope, regions):
            room.blocked[network_id] = max(room.blocked.get(network_id, again), again)
            continue
        room.reached[network_id] = room.reached.get(network_id, frozenset()) | regions
    return room


async def _nudge_room(
    session: AsyncSession,
    consultation_id: str,
    network_ids: list[str],
    scope: frozenset[str] | None,
    now: datetime,
    *,
    after_round: bool = False,
) -> NudgeRoom:
    """`nudge_room` for these networks: a scheduled round in the last hour reached everyone.
    `after_round`: a lead answering an escalation may follow the scheduled round at once (only
    other nudges count)."""
    since = now - MANUAL_INTERVAL
    recent: list[tuple[str, frozenset[str] | None, datetime]] = []
    scheduled = (
        []
        if after_round
        else (
            await session.exec(
                select(ReminderPlan.done_at).where(
                    ReminderPlan.consultation_id == consultation_id,
                    ReminderPlan.status == "done",
                    col(ReminderPlan.done_at) > since,
                )
            )
        ).all()
    )
    for done_at in scheduled:
        if done_at is not None:
            recent += [(network_id, None, done_at) for network_id in network_ids]
    nudges = (
        await session.exec(
            select(ManualReminder).where(
                ManualReminder.consultation_id == consultation_id,
                col(ManualReminder.network_id).in_(network_ids),
                col(ManualReminder.sent_at) > since,
            )
        )
    ).all()
    recent += [
        (row.network_id, None if row.regions is None else frozenset(row.regions), row.sent_at)
        for row in nudges
    ]
    return nudge_room(scope, recent)


async def nudge(
    services: Services,
    consultation_id: str,
    actor: Actor,
    network_ref: str | None = None,
    now: datetime | None = None,
    *,
    region: str | None = None,
) -> NudgeOutcome:
    """Remind one network (id or name) or every target network now, within the actor's scope
    (narrowed to one `region` when given: the button of an escalation DM, which may follow the
    scheduled round at once)."""
    now = now or utcnow()
    view = await get_consultation(services.db, consultation_id)
    consultation = view.consultation
    if consultation.status != "open" or consultation.deadline <= now:
        raise ConsultationError(
            f"`{consultation_id}` is not open for answers, so there is no one to remind."
        )
    networks = await target_networks(services.db, consultation)
    if network_ref is not None:
        wanted = network_ref.strip().lstrip("#").lower()
        networks = [
            n for n in networks if wanted in (n.id.lower(), n.name.lower(), n.channel_id.lower())
        ]
        if not networks:
            known = ", ".join(f"`{n.id}`" for n in await target_networks(services.db, consultation))
            raise ConsultationError(
                f"`{network_ref}` is not one of this consultation's networks ({known})."
            )
    scope = reminder_scope(actor)
    if region is not None:
        scope = frozenset({region}) if scope is None else scope & {region}
    after_round = region is not None
    outcome = NudgeOutcome(consultation=consultation, regions=scope)
    async with services.db.session() as session:
        room = await _nudge_room(
            session, consultation_id, [n.id for n in networks], scope, now, after_round=after_round
        )
    allowed = [n for n in networks if n.id not in room.blocked]
    outcome.refused = [
        NudgeRefusal(n, room.blocked[n.id]) for n in networks if n.id in room.blocked
    ]
    if not allowed:
        return outcome
    audience = await gather_audience(services, view, allowed)
    async with services.db.session() as session:
        # Serialise concurrent nudges of one consultation (PostgreSQL; SQLite's write lock
        # already does), then check again: someone may have nudged while we read Slack.
        await session.exec(
            select(Consultation.id).where(Consultation.id == consultation_id).with_for_update()
        )
        late = await _nudge_room(
            session, consultation_id, [n.id for n in allowed], scope, now, after_round=after_round
        )
        outcome.refused += [
            NudgeRefusal(n, late.blocked[n.id]) for n in allowed if n.id in late.blocked
        ]
        allowed = [n for n in allowed if n.id not in late.blocked]
        skip = {n.id: late.reached[n.id] for n in allowed if n.id in late.reached}
        outcome.skipped = skip
        reached = {n.id: audience.to_remind([n.id], scope, skip) for n in allowed}
        rows: dict[str, str] = {}
        for network in allowed:
            if scope is not None and not reached[network.id]:
                continue  # a lead's nudge that reached no one here blocks no one after it
            row = ManualReminder(
                consultation_id=consultation_id,
                network_id=network.id,
                requested_by=actor.user_id,
                sent_at=now,
                # What it reached: a lead's regions only, so staff can still nudge the rest.
                regions=sorted(scope) if scope is not None else None,
            )
            session.add(row)
            await session.flush()
            rows[network.id] = str(row.id)
        total = RoundCounts()
        if rows:
            total = await enqueue_round(
                session,
                audience,
                prefix="nudge",
                round_id=min(rows.values(), key=int),
                thread_rounds=rows if scope is None else {},
                dm_networks=list(rows),
                regions=scope,
                skip=skip,
                now=now,
            )
        # Per network counts for the reply; the DMs themselves are one round.
        for network in allowed:
            later = sum(
                1
                for p in reached[network.id]
                if delivery_time(now, p.tz, consultation.deadline, consultation.timezone) > now
            )
            counts = RoundCounts(len(reached[network.id]) - later, later, int(scope is None))
            outcome.sent.append((network, counts))
        record(
            session,
            actor.user_id,
            "reminders.nudge",
            consultation_id,
            networks=list(rows),
            regions=sorted(scope) if scope is not None else None,
            skipped_regions={k: sorted(v) for k, v in skip.items()},
            dms_now=total.dms_now,
            dms_later=total.dms_later,
        )
    services.outbox.wake()
    return outcome


def nudge_reply(outcome: NudgeOutcome) -> str:
    """What the requester is told (ephemeral)."""
    c = outcome.consultation
    lines: list[str] = []
    for network, counts in outcome.sent:
        who = "member" if counts.dms_now + counts.dms_later == 1 else "members"
        where = f" in {', '.join(sorted(outcome.regions))}" if outcome.regions is not None else ""
        text = (
            f":white_check_mark: Reminded the *{network.name}*: "
            f"{counts.dms_now + counts.dms_later} {who}{where} who haven't responded"
        )
        if counts.dms_later:
            text += f" ({counts.dms_later} when their working day starts)"
        if network.id in outcome.skipped:
            text += (
                f" (not in {', '.join(sorted(outcome.skipped[network.id]))}: "
                "its lead reminded them within the hour)"
            )
        if counts.threads:
            text += ", and a note in the channel"
        lines.append(text + ".")
    for refusal in outcome.refused:
        lines.append(
            f"The *{refusal.network.name}* was reminded less than an hour ago; "
            f"you can remind it again from {human_time(refusal.again_at, c.timezone)}."
        )
    return "\n".join(lines)
