"""Escalation: at each reminder point, the leads of every quiet region hear of it by DM.

A consultation with `escalate_below: 30%` is checked when each of its scheduled reminders goes
out, in the same transaction as the round (so it happens once per reminder point, also with
several replicas, and the outbox keys `escalation:<reminder>:<region>:<lead>` make a replay
harmless). A region's rate is the share of the people of the targeted networks whose region is
that region (from their profile; each person counted once) who have responded. Each region
below the threshold is reported to its leads: the rate and how many have not answered, and for
a named consultation who they are, with a button that nudges them now (the ordinary nudge,
scoped to that region). An anonymous consultation gives counts only, and never of a region with
fewer people than the minimum group size (CONSULTBOT_MIN_GROUP).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.delivery.outbox import Outgoing, enqueue_many
from bot.engagement.blocks import escalation_dm
from storage.models import Consultation, Region, RegionLead


@dataclass(frozen=True)
class QuietRegion:
    region_id: str
    members: int
    answered: int
    not_answered: list[str]  # user ids, sorted

    @property
    def rate(self) -> float:
        return self.answered / self.members if self.members else 0.0


def quiet_regions(
    people: Iterable[str],
    region_of: Mapping[str, str | None],
    answered: set[str],
    *,
    threshold: float,
    anonymous: bool,
    min_group: int,
) -> list[QuietRegion]:
    """Regions whose response rate among `people` is below `threshold` (people without a
    region count for none). Anonymous: regions smaller than `min_group` are never reported."""
    by_region: dict[str, list[str]] = {}
    for user_id in sorted(set(people)):
        region = region_of.get(user_id)
        if region is not None:
            by_region.setdefault(region, []).append(user_id)
    quiet = []
    for region, members in sorted(by_region.items()):
        if anonymous and len(members) < min_group:
            continue
        done = [m for m in members if m in answered]
        found = QuietRegion(region, len(members), len(done), [m for m in members if m not in done])
        if found.rate < threshold:
            quiet.append(found)
    return quiet


async def escalate_quiet_regions(
    session: AsyncSession,
    consultation: Consultation,
    *,
    round_id: str,
    people: Iterable[str],
    region_of: Mapping[str, str | None],
    answered: set[str],
    min_group: int,
) -> list[QuietRegion]:
    """Write the leads' DMs for one reminder point in the caller's transaction."""
    if consultation.escalate_below is None:
        return []
    quiet = quiet_regions(
        people,
        region_of,
        answered,
        threshold=consultation.escalate_below,
        anonymous=consultation.anonymous,
        min_group=min_group,
    )
    if not quiet:
        return []
    ids = [q.region_id for q in quiet]
    names = dict(
        (await session.exec(select(Region.id, Region.name).where(col(Region.id).in_(ids)))).all()
    )
    leads: dict[str, list[str]] = {}
    for region_id, user_id in (
        await session.exec(
            select(RegionLead.region_id, RegionLead.user_id).where(
                col(RegionLead.region_id).in_(ids)
            )
        )
    ).all():
        leads.setdefault(region_id, []).append(user_id)
    messages = []
    for region in quiet:
        payload = escalation_dm(
            consultation,
            region_name=names.get(region.region_id, region.region_id),
            region_id=region.region_id,
            answered=region.answered,
            members=region.members,
            threshold=consultation.escalate_below,
            not_answered=None if consultation.anonymous else region.not_answered,
        )
        for lead in sorted(leads.get(region.region_id, [])):
            messages.append(
                Outgoing(
                    dedup_key=f"escalation:{round_id}:{region.region_id}:{lead}",
                    method="chat.postMessage",
                    channel=lead,
                    payload={"channel": lead, **payload},
                    consultation_id=consultation.id,
                )
            )
    await enqueue_many(session, messages)
    return quiet
