"""Starting and stopping one consultbot process: database, outbox worker, ticker, Slack app."""

from __future__ import annotations

import gc
import logging
from dataclasses import dataclass, field

import aiohttp

from bot.answering.inbox import InboxWorker
from bot.answering.responding import warm_answering_caches
from bot.app import wiring
from bot.app.bolt import ConsultbotApp, build_app
from bot.app.server import HttpServer, make_web_app
from bot.consultations.directory import load_directory
from bot.consultations.files import load_directory_file
from bot.core.services import Services
from bot.core.settings import Settings
from bot.delivery.scheduling import make_scheduler, run_ticks
from bot.slack.client import make_client
from storage.db import Database
from storage.migrate import current_revision, head_revision, upgrade

log = logging.getLogger(__name__)


async def prepare_database(db: Database, *, anon_secret: str = "") -> None:
    """Apply migrations when the schema is behind (an empty database included)."""
    if await current_revision(db) != head_revision():
        await upgrade(db, anon_secret=anon_secret)


@dataclass
class RuntimeOptions:
    tick_seconds: float = 5.0
    per_channel_interval: float = 1.0
    start_scheduler: bool = True
    start_outbox: bool = True
    load_directory: bool = True
    # One runtime per process (`consultbot run`): once started, move everything loaded so far
    # (modules, Bolt, SQLAlchemy's metadata) out of the garbage collector's full passes. With
    # ~200,000 such objects a full pass stalls every request in flight for over 100 ms.
    freeze_startup_heap: bool = False


@dataclass
class Runtime:
    """Everything one process runs. `start_http()` for HTTP mode, `run_socket_mode()` otherwise."""

    settings: Settings
    options: RuntimeOptions = field(default_factory=RuntimeOptions)
    services: Services | None = None
    app: ConsultbotApp | None = None
    server: HttpServer | None = None
    _http: aiohttp.ClientSession | None = field(default=None, init=False, repr=False)

    async def start(self) -> Services:
        settings = self.settings
        db = Database(settings.database_url)
        await prepare_database(db, anon_secret=settings.anon_key)
        if self.options.load_directory and settings.directory_path:
            await load_directory(db, load_directory_file(settings.directory_path))
        token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else ""
        # Closed in stop(); every Web API call of this process shares its connections.
        self._http = aiohttp.ClientSession()
        client = make_client(token, settings.slack_api_url, session=self._http)
        services = wiring.build_services(
            settings, db, client, per_channel_interval=self.options.per_channel_interval
        )
        secret = (
            settings.slack_signing_secret.get_secret_value()
            if settings.slack_signing_secret
            else ""
        )
        self.app = build_app(services, wiring.subcommands(), signing_secret=secret)
        try:
            # Asked through the app's authorization, so no Slack request has to ask again.
            identity = await self.app.workspace.identity()
            services.bot_user_id = identity.get("user_id")
        except Exception as exc:  # offline or a bad token: the first request will say so
            log.warning("auth.test failed at start: %s", type(exc).__name__)
        services.inbox = InboxWorker(services)
        if self.options.start_outbox:
            services.outbox.start()
            services.inbox.start()
        if self.options.start_scheduler:
            ticks = wiring.ticks()
            scheduler = make_scheduler(services, ticks, interval_seconds=self.options.tick_seconds)
            scheduler.start()
            services.scheduler = scheduler
            # Whatever fell due while we were down is handled now, not a tick later.
            services.in_background(run_ticks(services, ticks))
        services.in_background(warm_answering_caches(services))
        self.services = services
        if self.options.freeze_startup_heap:
            gc.collect()
            gc.freeze()
        return services

    async def start_http(self, host: str = "0.0.0.0", port: int = 3000) -> HttpServer:
        services = self.services or await self.start()
        assert self.app is not None
        secret = self.settings.slack_signing_secret
        web_app = make_web_app(
            self.app, services, signing_secret=secret.get_secret_value() if secret else ""
        )
        self.server = HttpServer(web_app, host=host, port=port)
        await self.server.start()
        return self.server

    async def run_socket_mode(self) -> None:
        from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

        if self.services is None:
            await self.start()
        assert self.app is not None and self.settings.slack_app_token is not None
        handler = AsyncSocketModeHandler(self.app, self.settings.slack_app_token.get_secret_value())
        await handler.start_async()

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.stop()
        if self.services is not None:
            # No new ticks; then let listeners still running after their ack, a tick in
            # progress and cache loads finish, so nothing is cancelled mid-query.
            scheduler = self.services.scheduler
            if scheduler is not None and scheduler.running:
                scheduler.pause()
            await self.services.stop_background()
            if scheduler is not None and scheduler.running:
                scheduler.shutdown(wait=False)
            if self.services.inbox is not None:
                await self.services.inbox.stop()
            await self.services.outbox.stop()
            await self.services.stop_background()
            await self.services.db.dispose()
        if self._http is not None:
            await self._http.close()
            self._http = None
