"""`/consult ask ID QUESTION`: answered from the FAQ (ephemerally), or passed to staff."""

from __future__ import annotations

import uuid

from bot.consultations.catalogue import ConsultationError
from bot.engagement.questions import ask
from bot.slack.blocks import ephemeral_text
from bot.slack.copy import say
from bot.slack.text import escape
from handlers.commands import CommandContext


async def ask_command(ctx: CommandContext) -> None:
    # The question as typed (the parsed words would lose its apostrophes and quotes).
    parts = str(ctx.body.get("text") or "").split(maxsplit=2)
    if len(parts) < 3:
        usage = say("commands", "usage", line="/consult ask ID QUESTION")
        await ctx.reply(usage, ephemeral_text(usage))
        return
    consultation_id, question = parts[1], parts[2]
    await ctx.ack_quietly(say("commands", "looking_for_answer"))
    delivery = ctx.trigger_id or uuid.uuid4().hex
    try:
        asked = await ask(
            ctx.services,
            consultation_id,
            ctx.actor,
            question,
            delivery_key=f"command:{delivery}",
        )
    except ConsultationError as exc:
        await ctx.reply(str(exc), ephemeral_text(escape(str(exc))))
        return
    reply = asked.reply()
    await ctx.reply(reply["text"], reply["blocks"])
