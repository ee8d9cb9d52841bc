"""`/consult summary ID [REGION]`."""

from __future__ import annotations

import uuid

from bot.consultations.catalogue import ConsultationError
from bot.reporting.summary import SummaryRefused, build_summary, upload_chart
from bot.slack.copy import say
from bot.slack.text import escape
from handlers.commands import CommandContext


async def summary_command(ctx: CommandContext) -> None:
    if not ctx.args:
        await ctx.reply(say("commands", "usage", line="/consult summary ID [REGION]"))
        return
    consultation_id = ctx.args[0]
    region = ctx.args[1] if len(ctx.args) > 1 else None
    await ctx.ack_quietly(say("commands", "counting_answers"))
    try:
        summary = await build_summary(ctx.services, ctx.actor, consultation_id, region)
    except (SummaryRefused, ConsultationError) as exc:
        await ctx.reply(escape(str(exc)))
        return
    title = say("commands", "summary_title", title=summary.result.consultation.title)
    await ctx.reply(title, summary.blocks)
    if summary.chart_png is not None:
        await upload_chart(
            ctx.services,
            ctx.actor.user_id,
            consultation_id,
            summary.chart_png,
            # Slack's retries of this command carry the same trigger id: one chart.
            request_id=ctx.trigger_id or uuid.uuid4().hex,
        )
