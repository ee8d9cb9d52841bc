"""The composition root names every part: whatever module happens to be imported first, the
process it builds has every tick, renderer, lifecycle hook and `/consult` subcommand."""

from __future__ import annotations

import importlib
import pkgutil
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

import bot
import handlers
from storage.db import Database
from storage.models import ReminderPlan
from tests.conftest import EXAMPLES

TICKS = ["scheduled-launches", "deadlines", "reminders", "reminder-withdrawals"]
RENDERERS = {"consultation_post", "closing_note", "reminder_dm", "scheduled_launch_note"}
SUBCOMMANDS = [
    "help", "list", "new", "launch", "status", "remind", "summary", "export", "close", "extend",
    "ask",
    "themes",
]  # fmt: skip


def product_modules() -> list[str]:
    names = []
    for package in (bot, handlers):
        names.append(package.__name__)
        for info in pkgutil.walk_packages(package.__path__, prefix=f"{package.__name__}."):
            names.append(info.name)
    return sorted(names)


@pytest.fixture(autouse=True)
def fresh_product_modules() -> Iterator[None]:
    """Each test starts with no product module imported, and the modules the rest of the suite
    imported are put back after it (so their classes stay the ones the other tests hold)."""
    saved = {n: m for n, m in sys.modules.items() if n.split(".")[0] in ("bot", "handlers")}
    forget_product_modules()
    yield
    forget_product_modules()
    sys.modules.update(saved)


def forget_product_modules() -> None:
    # storage stays: its tables are defined once per process, as in production.
    for name in [n for n in sys.modules if n.split(".")[0] in ("bot", "handlers")]:
        del sys.modules[name]


def test_every_product_module_is_listed() -> None:
    assert "bot.consultations.launch" in product_modules()
    assert "handlers.commands.lifecycle" in product_modules()


@pytest.mark.parametrize("first", product_modules())
def test_whatever_is_imported_first_the_composition_root_wires_everything(first: str) -> None:
    importlib.import_module(first)
    wiring = importlib.import_module("bot.app.wiring")
    assert [tick.name for tick in wiring.ticks()] == TICKS
    assert set(wiring.renderers()) == RENDERERS
    assert [s.name for s in wiring.subcommands()] == SUBCOMMANDS
    hooks = wiring.lifecycle_hooks()
    assert [h.__name__ for h in hooks.on_open] == ["plan_reminders"]
    assert [h.__name__ for h in hooks.on_close] == ["stop_reminders_at_close"]
    assert [h.__name__ for h in hooks.after_change] == ["refresh_answering_state"]


async def test_what_a_launch_does_is_what_it_was_handed_not_what_was_imported(
    db: Database,
) -> None:
    """A launch plans reminders because the composition root hands it the hook: the same launch
    with no hooks plans none, although the reminders module is imported by then (before the
    rooms, importing it registered the hook for every launch)."""
    forget_product_modules()  # the database fixture imported the runtime
    launch = importlib.import_module("bot.consultations.launch")
    files = importlib.import_module("bot.consultations.files")
    catalogue = importlib.import_module("bot.consultations.catalogue")
    directory = importlib.import_module("bot.consultations.directory")
    wiring = importlib.import_module("bot.app.wiring")
    hooks_type = importlib.import_module("bot.core.services").LifecycleHooks
    await directory.load_directory(db, files.load_directory_file(EXAMPLES / "directory.yaml"))
    spec = files.load_consultation_file(EXAMPLES / "integrating-care.yaml")
    for consultation_id in ("wired", "bare"):
        await catalogue.add_consultation(
            db,
            spec.model_copy(
                update={
                    "id": consultation_id,
                    "deadline": datetime.now(UTC) + timedelta(days=30),
                    "launch_at": None,
                }
            ),
            default_timezone="Europe/London",
        )
    settings = importlib.import_module("bot.core.settings").Settings(SLACK_BOT_TOKEN="xoxb-unit")
    client = importlib.import_module("bot.slack.client").make_client("x", "http://127.0.0.1:9/api/")
    wired = wiring.build_services(settings, db, client)
    await launch.start_launch(wired, "wired", actor="U01STAFF")
    bare = wiring.build_services(settings, db, client)
    bare.hooks = hooks_type()
    await launch.start_launch(bare, "bare", actor="U01STAFF")
    async with db.session() as session:
        planned = (await session.exec(select(ReminderPlan))).all()
    assert sorted((p.consultation_id, p.offset_label) for p in planned) == [
        ("wired", "2d"),
        ("wired", "4h"),
        ("wired", "7d"),
    ]
