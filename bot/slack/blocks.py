"""Small builders shared by every surface."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from bot.slack.text import truncate

SECTION_LIMIT = 3000
HEADER_LIMIT = 150


def as_dicts(blocks: Sequence[Block]) -> list[dict[str, Any]]:
    """Validate each block against Slack's limits and return the JSON-ready dicts."""
    out = []
    for block in blocks:
        block.validate_json()
        out.append(block.to_dict())
    return out


def header(text: str) -> HeaderBlock:
    return HeaderBlock(text=PlainTextObject(text=truncate(text, HEADER_LIMIT), emoji=True))


def section(text: str, **kwargs: Any) -> SectionBlock:
    return SectionBlock(text=MarkdownTextObject(text=truncate(text, SECTION_LIMIT)), **kwargs)


def context(*texts: str) -> ContextBlock:
    return ContextBlock(elements=[MarkdownTextObject(text=truncate(t, 2000)) for t in texts[:10]])


def ephemeral_text(text: str) -> list[dict[str, Any]]:
    """A one-section message, e.g. a refusal or a confirmation."""
    return as_dicts([section(text)])
