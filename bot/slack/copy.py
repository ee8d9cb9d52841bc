"""Message copy lives in prompts/messages/*.j2 so staff can reword it without touching code."""

from __future__ import annotations

from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from bot.slack.text import escape


@cache
def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("prompts", ""),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )
    env.filters["slack_escape"] = escape
    return env


def render(template: str, **context: Any) -> str:
    """Render `prompts/<template>` (e.g. "messages/help.md.j2") and strip outer whitespace."""
    return _environment().get_template(template).render(**context).strip()


def say(surface: str, message: str, **context: Any) -> str:
    """One message of a surface's copy: the macro `message` of `prompts/messages/<surface>.j2`,
    called with `context` (which the template escapes for Slack)."""
    module = _environment().get_template(f"messages/{surface}.j2").module
    return str(getattr(module, message)(**context)).strip()
