"""`/consult help` and `/consult list`."""

from __future__ import annotations

from bot.consultations.blocks.listing import help_blocks, list_blocks
from bot.consultations.catalogue import list_consultations
from bot.core.permissions import Role, authorize
from handlers.commands import CommandContext


async def help_command(ctx: CommandContext) -> None:
    await ctx.reply("What consultbot can do for you", help_blocks(ctx.actor.role.value))


async def list_command(ctx: CommandContext) -> None:
    # Members see what they can answer; staff and leads also see drafts and closed ones.
    statuses = ("open",) if ctx.actor.role is Role.MEMBER else None
    consultations = await list_consultations(ctx.services.db, statuses=statuses)
    show_counts = bool(authorize(ctx.actor, "status"))
    await ctx.reply("Consultations", list_blocks(consultations, show_counts=show_counts))
