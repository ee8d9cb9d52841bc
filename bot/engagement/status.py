"""`/consult status`: response rate per network, time left, the reminder plan, the outbox."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func
from sqlmodel import col, select

from bot.consultations.catalogue import get_consultation, target_networks
from bot.core.permissions import Actor, own_regions
from bot.core.services import Services
from bot.delivery.outbox import backlog
from bot.engagement.blocks import NetworkRate, PlannedReminder, StatusReport
from bot.engagement.reminders import gather_audience
from storage.models import Region, ReminderPlan, Response, utcnow


async def consultation_status(
    services: Services, consultation_id: str, actor: Actor, now: datetime | None = None
) -> StatusReport:
    """Response rate per network (respondents among the channel's people), time left, the
    reminder plan and the outbox backlog; a lead also sees the count of their own regions."""
    now = now or utcnow()
    view = await get_consultation(services.db, consultation_id)
    consultation = view.consultation
    networks = await target_networks(services.db, consultation)
    audience = await gather_audience(services, view, networks)
    rates = [NetworkRate(n.name, *audience.count(n.id)) for n in networks]
    async with services.db.session() as session:
        plan = (
            await session.exec(
                select(ReminderPlan)
                .where(ReminderPlan.consultation_id == consultation_id)
                .order_by(col(ReminderPlan.due_at))
            )
        ).all()
        respondents = (
            await session.exec(
                select(func.count()).where(Response.consultation_id == consultation_id)
            )
        ).one()
        regions: dict[str, int] = {}
        for region_id in sorted(own_regions(actor)):
            region = await session.get(Region, region_id)
            regions[region.name if region else region_id] = (
                await session.exec(
                    select(func.count()).where(
                        Response.consultation_id == consultation_id,
                        Response.region_id == region_id,
                    )
                )
            ).one()
    return StatusReport(
        consultation=consultation,
        networks=rates,
        reminders=[PlannedReminder(r.offset_label, r.due_at, r.status) for r in plan],
        backlog=await backlog(services.db, consultation_id),
        now=now,
        respondents=respondents,
        regions=regions,
    )
