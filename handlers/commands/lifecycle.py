"""`/consult status ID`, `/consult close ID`, `/consult extend ID DATE`."""

from __future__ import annotations

from bot.consultations.catalogue import ConsultationError
from bot.consultations.lifecycle import (
    close_consultation,
    deadline_moved_text,
    extend_consultation,
)
from bot.engagement.blocks import status_blocks
from bot.engagement.status import consultation_status
from bot.slack.blocks import ephemeral_text
from bot.slack.copy import say
from bot.slack.text import escape
from handlers.commands import CommandContext


async def _refuse(ctx: CommandContext, exc: ConsultationError) -> None:
    await ctx.reply(str(exc), ephemeral_text(escape(str(exc))))


async def status_command(ctx: CommandContext) -> None:
    if not ctx.args:
        await ctx.reply(say("commands", "usage", line="/consult status ID"))
        return
    await ctx.ack_quietly(say("commands", "counting_responses"))
    try:
        report = await consultation_status(ctx.services, ctx.args[0], ctx.actor)
    except ConsultationError as exc:
        await _refuse(ctx, exc)
        return
    title = say("commands", "status_title", title=report.consultation.title)
    await ctx.reply(title, status_blocks(report))


async def close_command(ctx: CommandContext) -> None:
    if not ctx.args:
        await ctx.reply(say("commands", "usage", line="/consult close ID"))
        return
    consultation_id = ctx.args[0]
    try:
        closed = await close_consultation(ctx.services, consultation_id, actor=ctx.actor.user_id)
    except ConsultationError as exc:
        await _refuse(ctx, exc)
        return
    message = "closed" if closed.closed_now else "already_closed"
    text = say("commands", message, consultation_id=consultation_id)
    await ctx.reply(text, ephemeral_text(text))


async def extend_command(ctx: CommandContext) -> None:
    if len(ctx.args) < 2:
        text = say("commands", "extend_usage")
        await ctx.reply(text, ephemeral_text(text))
        return
    try:
        extended = await extend_consultation(
            ctx.services, ctx.args[0], " ".join(ctx.args[1:]), actor=ctx.actor.user_id
        )
    except ConsultationError as exc:
        await _refuse(ctx, exc)
        return
    text = deadline_moved_text(extended)
    await ctx.reply(text, ephemeral_text(text))
