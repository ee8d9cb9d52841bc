"""`/consult remind ID [NETWORK]`: nudge the non-responders now (staff: everyone; leads: their
regions), at most once an hour per network."""

from __future__ import annotations

from bot.consultations.catalogue import ConsultationError
from bot.engagement.reminders import nudge, nudge_reply
from bot.slack.blocks import ephemeral_text
from bot.slack.copy import say
from bot.slack.text import escape
from handlers.commands import CommandContext


async def remind_command(ctx: CommandContext) -> None:
    if not ctx.args:
        await ctx.reply(say("commands", "usage", line="/consult remind ID [NETWORK]"))
        return
    consultation_id = ctx.args[0]
    network = " ".join(ctx.args[1:]) or None
    await ctx.ack_quietly(say("commands", "reminding", consultation_id=consultation_id))
    try:
        outcome = await nudge(ctx.services, consultation_id, ctx.actor, network)
    except ConsultationError as exc:
        await ctx.reply(str(exc), ephemeral_text(escape(str(exc))))
        return
    text = nudge_reply(outcome)
    await ctx.reply(text, ephemeral_text(text))
