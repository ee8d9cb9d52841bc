"""`/consult export ID [FORMAT]`: the file arrives in the requester's DM."""

from __future__ import annotations

from bot.consultations.catalogue import ConsultationError
from bot.reporting.exports import FORMATS, ExportError
from bot.reporting.exports.delivery import send_export_to_dm
from bot.slack.copy import say
from bot.slack.text import escape
from handlers.commands import CommandContext


async def export_command(ctx: CommandContext) -> None:
    if not ctx.args:
        await ctx.reply(say("commands", "export_usage"))
        return
    consultation_id = ctx.args[0]
    fmt = ctx.args[1].lower() if len(ctx.args) > 1 else "docx"
    if fmt not in FORMATS:
        await ctx.reply(say("commands", "export_bad_format", fmt=fmt, formats=FORMATS))
        return
    await ctx.ack_quietly(
        say("commands", "export_preparing", fmt=fmt, consultation_id=consultation_id)
    )
    try:
        sent = await send_export_to_dm(ctx.services, ctx.actor.user_id, consultation_id, fmt)
    except (ConsultationError, ExportError) as exc:
        await ctx.reply(escape(str(exc)))
        return
    if not sent:
        await ctx.reply(say("commands", "export_too_large"))
        return
    await ctx.reply(say("commands", "export_sent", files=sent))
