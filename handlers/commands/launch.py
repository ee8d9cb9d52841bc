"""`/consult launch ID`."""

from __future__ import annotations

from bot.consultations.catalogue import ConsultationError
from bot.consultations.launch import start_launch, wait_for_launch
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


async def launch_command(ctx: CommandContext) -> None:
    if not ctx.args:
        await ctx.reply("Usage: `/consult launch ID` — see `/consult list` for ids.")
        return
    consultation_id = ctx.args[0]
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
