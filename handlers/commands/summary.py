"""`/consult summary ID [REGION]`."""

from __future__ import annotations

import uuid

from bot.consultations.catalogue import ConsultationError
from bot.reporting.summary import SummaryRefused, build_summary, upload_chart
from bot.slack.text import escape
from handlers.commands import CommandContext


async def summary_command(ctx: CommandContext) -> None:
    if not ctx.args:
        await ctx.reply("Usage: `/consult summary ID [REGION]` — see `/consult list` for ids.")
        return
    consultation_id = ctx.args[0]
    region = ctx.args[1] if len(ctx.args) > 1 else None
    await ctx.ack_quietly("Counting the answers so far…")
    try:
        summary = await build_summary(ctx.services, ctx.actor, consultation_id, region)
    except (SummaryRefused, ConsultationError) as exc:
        await ctx.reply(escape(str(exc)))
        return
    await ctx.reply(f"Summary of {summary.result.consultation.title}", summary.blocks)
    if summary.chart_png is not None:
        await upload_chart(
            ctx.services,
            ctx.actor.user_id,
            consultation_id,
            summary.chart_png,
            # Slack's retries of this command carry the same trigger id: one chart.
            request_id=ctx.trigger_id or uuid.uuid4().hex,
        )
