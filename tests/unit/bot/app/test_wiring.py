"""The composition root names every part: whatever module happens to be imported first, the
process it builds has every tick, renderer, lifecycle hook and `/consult` subcommand."""

from __future__ import annotations

import importlib
import pkgutil
import sys
from collections.abc import Iterator

import pytest

import bot
import handlers

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


def test_importing_the_launch_service_alone_changes_nothing_a_launch_does() -> None:
    """A launch plans reminders because the composition root lists the hook, not because the
    reminders module happened to be imported (it was the case before the rooms)."""
    launch = importlib.import_module("bot.consultations.launch")
    assert not [name for name in vars(launch) if name.isupper() and "LAUNCH" in name]
    services_module = importlib.import_module("bot.core.services")
    assert services_module.LifecycleHooks().on_open == []
