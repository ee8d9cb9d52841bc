"""The services one running consultbot shares: settings, database, Slack client, outbox."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.membership import ChannelMembers
from bot.outbox import OutboxWorker
from bot.settings import Settings
from storage.db import Database


@dataclass
class Services:
    settings: Settings
    db: Database
    client: AsyncWebClient
    outbox: OutboxWorker
    # The pseudonymisation key: kept out of repr so it never reaches a log or traceback.
    anon_secret: str = field(default="", repr=False)
    members: ChannelMembers = field(init=False)
    # Records accepted submissions after the ack (bot.inbox.InboxWorker); set by the runtime.
    inbox: Any = None
    # Filled by the runtime: e.g. the scheduler, for health checks.
    extras: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.members = ChannelMembers(self.client)
