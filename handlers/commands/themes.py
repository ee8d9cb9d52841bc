"""`/consult themes ID [QUESTION]` (staff): review a question's theme codebook in a modal."""

from __future__ import annotations

from bot.reporting.theme_review import open_review
from bot.slack.copy import say
from handlers.commands import CommandContext


async def themes_command(ctx: CommandContext) -> None:
    if not ctx.args or not ctx.trigger_id:
        await ctx.reply(say("commands", "usage", line="/consult themes ID [QUESTION]"))
        return
    await ctx.ack_silently()
    question = ctx.args[1] if len(ctx.args) > 1 else None
    await open_review(ctx.services, ctx.args[0], question, ctx.trigger_id)
