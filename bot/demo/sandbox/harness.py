"""A whole consultbot in HTTP mode against the sandbox Slack, for scenario tests, demo and bench.

The app is the real one (`bot.app.runtime.Runtime`): requests reach it as signed HTTP, and every Web
API call it makes lands in the sandbox.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml
from sqlmodel import col, func, select

from bot.answering.inbox import MAX_ATTEMPTS
from bot.app.runtime import Runtime, RuntimeOptions
from bot.consultations.catalogue import add_consultation
from bot.consultations.directory import load_directory
from bot.consultations.files import DirectoryFile, load_consultation_file, load_directory_file
from bot.core.services import Services
from bot.core.settings import Settings
from bot.demo.sandbox.driver import SlackDriver
from bot.demo.sandbox.ratelimit import RateLimits
from bot.demo.sandbox.slack_api import SandboxSlack
from storage.models import InboxSubmission, OutboxMessage

SIGNING_SECRET = "sandbox-signing-secret"
# The example files ship inside the package (bot/demo/examples links to the top-level examples/).
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@dataclass
class Harness:
    database_url: str
    options: RuntimeOptions = field(
        default_factory=lambda: RuntimeOptions(tick_seconds=0.5, per_channel_interval=0.0)
    )
    rate_limits: RateLimits | None = None
    timezone: str = "Europe/London"
    # A throwaway pseudonymisation key for this run (the same across restarts of the app); ""
    # runs the bot as one started without CONSULTBOT_ANON_SECRET.
    anon_secret: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    slack: SandboxSlack | None = None
    runtime: Runtime | None = None
    driver: SlackDriver | None = None

    # --- lifecycle ---

    async def start(self) -> Harness:
        if self.slack is None:
            self.slack = SandboxSlack(rate_limits=self.rate_limits)
            await self.slack.start()
        await self.start_app()
        return self

    def settings(self) -> Settings:
        assert self.slack is not None
        return Settings(
            SLACK_BOT_TOKEN=self.slack.bot_token,
            SLACK_SIGNING_SECRET=SIGNING_SECRET,
            SLACK_API_URL=self.slack.url,
            DATABASE_URL=self.database_url,
            CONSULTBOT_TIMEZONE=self.timezone,
            CONSULTBOT_ANON_SECRET=self.anon_secret,
            CONSULTBOT_DIRECTORY=None,
        )

    async def start_app(self, options: RuntimeOptions | None = None) -> None:
        """Start (or start again, after `stop_app`) the bot process against the same sandbox."""
        assert self.slack is not None
        self.runtime = Runtime(self.settings(), options or self.options)
        server = await self.runtime.start_http(host="127.0.0.1", port=0)
        if self.driver is not None:
            await self.driver.aclose()
        self.driver = SlackDriver(f"{server.url}/slack/events", SIGNING_SECRET, self.slack)

    async def stop_app(self) -> None:
        if self.runtime is not None:
            await self.runtime.stop()
            self.runtime = None

    async def stop(self) -> None:
        await self.stop_app()
        if self.driver is not None:
            await self.driver.aclose()
            self.driver = None
        if self.slack is not None:
            await self.slack.stop()

    async def __aenter__(self) -> Harness:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def services(self) -> Services:
        assert self.runtime is not None and self.runtime.services is not None
        return self.runtime.services

    # --- the world ---

    def add_workspace(self, workspace: dict[str, Any]) -> None:
        """Users and channels as in examples/demo-workspace.yaml."""
        assert self.slack is not None
        for user in workspace.get("users", []):
            self.slack.add_user(
                user["id"],
                name=user.get("name"),
                real_name=user.get("real_name"),
                tz=user.get("tz", "Europe/London"),
                is_bot=bool(user.get("is_bot", False)),
                deleted=bool(user.get("deleted", False)),
            )
        for channel in workspace.get("channels", []):
            self.slack.add_channel(channel["id"], channel["name"], members=channel["members"])

    async def load_examples(self) -> DirectoryFile:
        """The example workspace, directory and both example consultations."""
        workspace = yaml.safe_load((EXAMPLES / "demo-workspace.yaml").read_text())
        self.add_workspace(workspace)
        directory = load_directory_file(EXAMPLES / "directory.yaml")
        await load_directory(self.services.db, directory)
        for name in ("integrating-care.yaml", "system-by-default.yaml"):
            await self.add_consultation_file(EXAMPLES / name)
        return directory

    async def load_directory(self, directory: DirectoryFile) -> None:
        await load_directory(self.services.db, directory)

    async def add_consultation_file(self, path: Path, **overrides: Any) -> str:
        spec = load_consultation_file(path)
        if overrides:
            spec = replace_spec(spec, **overrides)
        await add_consultation(self.services.db, spec, default_timezone=self.timezone)
        return spec.id

    async def settle(self, timeout: float = 15.0) -> None:
        """Wait until listeners still working after their ack are done, every accepted answer is
        recorded and the outbox has delivered all."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            self.services.outbox.wake()
            # Read first: a listener that finishes later may still enqueue (a summary's chart).
            working = self.services.working
            async with self.services.db.read_session() as session:
                # Accepted submissions still being recorded (not those parked for staff after
                # repeated failures), then messages still to deliver.
                recording = (
                    await session.exec(
                        select(func.count()).where(col(InboxSubmission.attempts) < MAX_ATTEMPTS)
                    )
                ).one()
                sending = (
                    await session.exec(
                        select(func.count()).where(
                            col(OutboxMessage.status).in_(("pending", "sending"))
                        )
                    )
                ).one()
            if working + recording + sending == 0:
                return
            if loop.time() > deadline:
                raise TimeoutError(
                    f"{working} listeners or ticks still working, "
                    f"{recording} answers still being recorded, "
                    f"{sending} outbox messages still undelivered"
                )
            await asyncio.sleep(0.05)


def replace_spec(spec: Any, **overrides: Any) -> Any:
    return spec.model_copy(update=overrides)


__all__ = ["SIGNING_SECRET", "Harness", "replace"]
