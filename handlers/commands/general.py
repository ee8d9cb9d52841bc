"""`/consult help` and `/consult list`."""

from __future__ import annotations

from bot.consultations.blocks.listing import help_blocks, list_blocks
from bot.consultations.catalogue import list_consultations
from bot.core.permissions import allowed_actions, authorize
from handlers.commands import CommandContext


async def help_command(ctx: CommandContext) -> None:
    await ctx.reply("What consultbot can do for you", help_blocks(allowed_actions(ctx.actor)))


async def list_command(ctx: CommandContext) -> None:
    # Members see what they can answer; staff and leads also see drafts and closed ones.
    statuses = None if authorize(ctx.actor, "list_all") else ("open",)
    consultations = await list_consultations(ctx.services.db, statuses=statuses)
    show_counts = bool(authorize(ctx.actor, "status"))
    await ctx.reply("Consultations", list_blocks(consultations, show_counts=show_counts))
