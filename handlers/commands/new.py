"""`/consult new`: open the form for a new consultation."""

from __future__ import annotations

from bot.consultations.blocks.new_consultation import new_consultation_modal
from bot.consultations.directory import list_networks
from handlers.commands import CommandContext


async def new_command(ctx: CommandContext) -> None:
    await ctx.ack_silently()
    networks = await list_networks(ctx.services.db)
    await ctx.services.client.views_open(
        trigger_id=ctx.trigger_id,
        view=new_consultation_modal(networks, ctx.services.settings.timezone),
    )
