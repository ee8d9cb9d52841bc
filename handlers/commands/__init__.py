"""`/consult <subcommand> ...`: parse, check permission (bot.core.permissions), hand to a subcommand."""

from __future__ import annotations

import shlex
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond

from bot.core.permissions import COMMAND_ROLES, Actor, authorize, resolve_actor
from bot.core.services import Services
from bot.slack.blocks import ephemeral_text
from bot.slack.copy import say


@dataclass
class CommandContext:
    services: Services
    actor: Actor
    args: list[str]
    body: dict[str, Any]
    ack: AsyncAck
    respond: AsyncRespond
    acked: bool = field(default=False)

    @property
    def channel_id(self) -> str | None:
        return self.body.get("channel_id")

    @property
    def trigger_id(self) -> str | None:
        return self.body.get("trigger_id")

    async def reply(
        self, text: str, blocks: list[dict[str, Any]] | None = None, *, replace: bool = False
    ) -> None:
        """Answer the user privately: in the ack while we can, then through response_url."""
        if not self.acked:
            self.acked = True
            await self.ack(response_type="ephemeral", text=text, blocks=blocks)
        else:
            await self.respond(
                response_type="ephemeral", text=text, blocks=blocks, replace_original=replace
            )

    async def ack_silently(self) -> None:
        """Ack with no message (e.g. before opening a modal with the trigger)."""
        if not self.acked:
            self.acked = True
            await self.ack()

    async def ack_quietly(self, text: str | None = None) -> None:
        """Ack within Slack's 3 seconds before slow work; later replies go via response_url."""
        if not self.acked:
            self.acked = True
            await self.ack(response_type="ephemeral", text=text or say("commands", "working"))


@dataclass(frozen=True)
class Subcommand:
    """One `/consult` subcommand; the composition root lists them (bot/app/wiring.py)."""

    name: str
    usage: str
    run: Callable[[CommandContext], Awaitable[None]]
    # Costs Slack calls (channel members, the workspace's people): per-user throttled.
    throttled: bool = False


def parse(text: str) -> list[str]:
    try:
        return shlex.split(text or "")
    except ValueError:  # an unbalanced quote: fall back to plain words
        return (text or "").split()


async def dispatch(
    services: Services,
    subcommands: Mapping[str, Subcommand],
    body: dict[str, Any],
    ack: AsyncAck,
    respond: AsyncRespond,
) -> None:
    words = parse(body.get("text", ""))
    name = words[0].lower() if words else "help"
    user_id = body.get("user_id") or ""
    actor = await resolve_actor(services.db, user_id)
    if name not in COMMAND_ROLES or name not in subcommands:
        text = say("commands", "unknown", name=name, known=list(subcommands))
        await ack(response_type="ephemeral", text=text, blocks=ephemeral_text(text))
        return
    decision = authorize(actor, name)
    if not decision:
        await ack(
            response_type="ephemeral", text=decision.reason, blocks=ephemeral_text(decision.reason)
        )
        return
    subcommand = subcommands[name]
    if subcommand.throttled and (wait := services.throttle.wait(user_id)):
        text = say("commands", "throttled", wait=wait)
        await ack(response_type="ephemeral", text=text, blocks=ephemeral_text(text))
        return
    await subcommand.run(CommandContext(services, actor, words[1:], body, ack, respond))


def register(app: AsyncApp, services: Services, subcommands: Sequence[Subcommand]) -> None:
    by_name = {subcommand.name: subcommand for subcommand in subcommands}

    @app.command("/consult")
    async def consult(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await dispatch(services, by_name, body, ack, respond)
