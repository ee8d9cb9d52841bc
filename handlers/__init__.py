"""Thin Slack listeners, registered per kind: parse the payload, check permission, ack, call bot/."""

from __future__ import annotations

from collections.abc import Sequence

from slack_bolt.async_app import AsyncApp

from bot.core.services import Services
from handlers import actions, commands, events, views
from handlers.commands import Subcommand


def register_all(app: AsyncApp, services: Services, subcommands: Sequence[Subcommand]) -> None:

    # Bolt tries listeners in the order they were added, building each matcher's arguments:
    # the deadline rush's submissions and Respond clicks come first.
    views.register(app, services)
    actions.register(app, services)
    commands.register(app, services, subcommands)
    events.register(app, services)
