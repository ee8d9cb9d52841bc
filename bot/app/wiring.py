"""The composition root's lists: which jobs run on each tick, how queued messages are rendered
when sent, what follows a consultation's launch, close or extend, and which `/consult`
subcommands exist. Nothing registers itself by being imported: this module names every part,
and `build_services` hands the lists to the services that use them."""

from __future__ import annotations

from slack_sdk.web.async_client import AsyncWebClient

from bot.answering.responding import refresh_answering_state
from bot.consultations.launch import render_consultation_post
from bot.consultations.lifecycle import close_at_deadline, render_closing_note
from bot.consultations.schedule import launch_due, render_scheduled_launch_note
from bot.core.services import LifecycleHooks, Services
from bot.core.settings import Settings
from bot.delivery.metrics import Metrics
from bot.delivery.outbox import OutboxWorker, Renderer
from bot.delivery.scheduling import Tick
from bot.engagement.reminders import (
    plan_reminders,
    render_reminder_dm,
    send_due_reminders,
    stop_reminders_at_close,
    withdraw_stale_reminders,
)
from handlers.commands import (
    Subcommand,
    ask,
    export,
    general,
    launch,
    lifecycle,
    new,
    remind,
    summary,
    themes,
)
from storage.db import Database


def ticks() -> list[Tick[Services]]:
    """Run in this order on every tick; each claims its work in the database."""
    return [
        Tick("scheduled-launches", launch_due),
        Tick("deadlines", close_at_deadline),
        Tick("reminders", send_due_reminders),
        Tick("reminder-withdrawals", withdraw_stale_reminders),
    ]


def renderers() -> dict[str, Renderer]:
    """Outbox payloads rendered when sent, so they show the state at that moment."""
    return {
        "consultation_post": render_consultation_post,
        "closing_note": render_closing_note,
        "reminder_dm": render_reminder_dm,
        "scheduled_launch_note": render_scheduled_launch_note,
    }


def lifecycle_hooks() -> LifecycleHooks:
    return LifecycleHooks(
        on_open=[plan_reminders],
        on_close=[stop_reminders_at_close],
        after_change=[refresh_answering_state],
    )


def subcommands() -> list[Subcommand]:
    """`/consult` subcommands, in the order `help` lists them."""
    return [
        Subcommand("help", "/consult help", general.help_command),
        Subcommand("list", "/consult list", general.list_command),
        Subcommand("new", "/consult new", new.new_command),
        Subcommand("launch", "/consult launch ID [at DATE | cancel]", launch.launch_command),
        Subcommand("status", "/consult status ID", lifecycle.status_command, throttled=True),
        Subcommand("remind", "/consult remind ID [NETWORK]", remind.remind_command, throttled=True),
        Subcommand(
            "summary", "/consult summary ID [REGION]", summary.summary_command, throttled=True
        ),
        Subcommand(
            "export",
            "/consult export ID [docx|md|csv|xlsx|json]",
            export.export_command,
            throttled=True,
        ),
        Subcommand("close", "/consult close ID", lifecycle.close_command),
        Subcommand("extend", "/consult extend ID DATE", lifecycle.extend_command),
        Subcommand("ask", "/consult ask ID QUESTION", ask.ask_command),
        Subcommand("themes", "/consult themes ID [QUESTION]", themes.themes_command),
    ]


def build_services(
    settings: Settings,
    db: Database,
    client: AsyncWebClient,
    *,
    per_channel_interval: float = 1.0,
    outbox_worker_id: str | None = None,
) -> Services:
    """The services of one process (or one CLI command), with every list wired in."""
    metrics = Metrics()  # this process's own registry, never prometheus-client's global one
    outbox = OutboxWorker(
        db,
        client,
        per_channel_interval=per_channel_interval,
        worker_id=outbox_worker_id,
        renderers=renderers(),
        metrics=metrics,
    )
    services = Services(
        settings=settings,
        db=db,
        client=client,
        outbox=outbox,
        metrics=metrics,
        hooks=lifecycle_hooks(),
        anon_secret=settings.anon_key,
    )
    # The outbox asks whether acks are queueing without waiting: it then delivers a few rows
    # at a time in a bounded share of the time, so a long rush still gets its receipts.
    outbox.give_way = lambda: services.load.give_way(max_wait=0.0)
    outbox.keep_share = services.load.keep_share
    return services
