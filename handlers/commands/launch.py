"""`/consult launch ID`, `/consult launch ID at DATE` (scheduled), `/consult launch ID cancel`."""

from __future__ import annotations

from bot.consultations.catalogue import ConsultationError
from bot.consultations.launch import start_launch, wait_for_launch
from bot.consultations.schedule import cancel_scheduled_launch, schedule_launch
from bot.core.timefmt import human_deadline
from bot.delivery.outbox import BatchProgress
from bot.slack.blocks import ephemeral_text
from bot.slack.text import escape
from handlers.commands import CommandContext


def progress_text(consultation_id: str, progress: BatchProgress) -> str:
    if not progress.done:
        return f"Launching `{consultation_id}`: posted to {progress.sent} of {progress.total} networks…"
    if not progress.failed:
        return f":white_check_mark: `{consultation_id}` is live: posted to all {progress.total} networks."
    lines = [
        f":warning: `{consultation_id}` posted to {progress.sent} of {progress.total} networks. "
        "These failed:"
    ]
    hints = {
        "not_in_channel": "invite the bot to the channel, then launch again",
        "channel_not_found": "check the channel id in the directory",
        "is_archived": "the channel is archived",
    }
    for channel, error in progress.failures:
        hint = hints.get(error, "")
        lines.append(f"• <#{channel}>: `{escape(error)}`" + (f" — {hint}" if hint else ""))
    return "\n".join(lines)


USAGE = (
    "Usage: `/consult launch ID` (now), `/consult launch ID at DATE` (DATE like "
    "`2021-01-04T09:30`, `2021-01-04` for 9am, or `+2h`) or `/consult launch ID cancel` — "
    "see `/consult list` for ids."
)


async def launch_command(ctx: CommandContext) -> None:
    if not ctx.args:
        await ctx.reply(USAGE, ephemeral_text(USAGE))
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
        await ctx.reply(USAGE, ephemeral_text(USAGE))
        return
    await ctx.ack_quietly(f"Launching `{escape(consultation_id)}`…")
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
        await ctx.reply(USAGE, ephemeral_text(USAGE))
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
    verb = "rescheduled" if scheduled.previous is not None else "scheduled"
    text = (
        f":calendar: `{c.id}` is {verb} to launch on {human_deadline(c.launch_at, c.timezone)}. "
        "I'll DM you when it has gone out. To change it, schedule again; "
        f"to stop it, `/consult launch {c.id} cancel`."
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
    text = (
        f"The scheduled launch of `{consultation.id}` is cancelled; it stays unlaunched until "
        f"you launch or schedule it again."
    )
    await ctx.reply(text, ephemeral_text(text))
