"""`/consult launch ID`, `/consult launch ID at DATE` (scheduled), `/consult launch ID cancel`."""

from __future__ import annotations

from bot.consultations.catalogue import ConsultationError
from bot.consultations.launch import start_launch, wait_for_launch
from bot.consultations.schedule import cancel_scheduled_launch, schedule_launch
from bot.core.timefmt import human_deadline
from bot.delivery.outbox import BatchProgress
from bot.slack.blocks import ephemeral_text
from bot.slack.copy import say
from bot.slack.text import escape
from handlers.commands import CommandContext


def progress_text(consultation_id: str, progress: BatchProgress) -> str:
    if not progress.done:
        return say(
            "commands",
            "launch_progress",
            consultation_id=consultation_id,
            sent=progress.sent,
            total=progress.total,
        )
    if not progress.failed:
        return say("commands", "launch_live", consultation_id=consultation_id, total=progress.total)
    return say(
        "commands",
        "launch_failed",
        consultation_id=consultation_id,
        sent=progress.sent,
        total=progress.total,
        failures=progress.failures,
    )


async def _usage(ctx: CommandContext) -> None:
    text = say("commands", "launch_usage")
    await ctx.reply(text, ephemeral_text(text))


async def launch_command(ctx: CommandContext) -> None:
    if not ctx.args:
        await _usage(ctx)
        return
    consultation_id = ctx.args[0]
    rest = [word.lower() for word in ctx.args[1:2]]
    if rest == ["at"]:
        await _schedule(ctx, consultation_id, " ".join(ctx.args[2:]))
        return
    if rest == ["cancel"]:
        await _cancel(ctx, consultation_id)
        return
    if rest:
        await _usage(ctx)
        return
    await ctx.ack_quietly(say("commands", "launching", consultation_id=consultation_id))
    try:
        started = await start_launch(ctx.services, consultation_id, actor=ctx.actor.user_id)
    except ConsultationError as exc:
        await ctx.reply(str(exc), ephemeral_text(escape(str(exc))))
        return

    async def show(progress: BatchProgress) -> None:
        text = progress_text(started.consultation_id, progress)
        await ctx.reply(text, ephemeral_text(text), replace=True)

    await wait_for_launch(ctx.services.db, started.consultation_id, show, interval=0.5)


async def _schedule(ctx: CommandContext, consultation_id: str, when: str) -> None:
    if not when.strip():
        await _usage(ctx)
        return
    try:
        scheduled = await schedule_launch(
            ctx.services, consultation_id, when, actor=ctx.actor.user_id
        )
    except ConsultationError as exc:
        await ctx.reply(str(exc), ephemeral_text(escape(str(exc))))
        return
    c = scheduled.consultation
    assert c.launch_at is not None
    text = say(
        "commands",
        "launch_scheduled",
        consultation_id=c.id,
        rescheduled=scheduled.previous is not None,
        when=human_deadline(c.launch_at, c.timezone),
    )
    await ctx.reply(text, ephemeral_text(text))


async def _cancel(ctx: CommandContext, consultation_id: str) -> None:
    try:
        consultation = await cancel_scheduled_launch(
            ctx.services, consultation_id, actor=ctx.actor.user_id
        )
    except ConsultationError as exc:
        await ctx.reply(str(exc), ephemeral_text(escape(str(exc))))
        return
    text = say("commands", "launch_cancelled", consultation_id=consultation.id)
    await ctx.reply(text, ephemeral_text(text))
