"""Small builders shared by every surface."""

from __future__ import annotations

import json
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


def read_private_metadata(raw: object) -> dict[str, Any] | None:
    """The JSON object a view of ours carries in private_metadata, or None when it is not one.

    It comes back inside the submission, so it can be forged, and JSON nested in a string hides
    an escaped NUL from the cleaning of the payload itself: "\\u0000" there decodes to a NUL
    here, which PostgreSQL refuses in a query. Nothing we write holds one, so such metadata is
    refused like any other that is not ours."""
    if not isinstance(raw, str) or "\\u0000" in raw:
        return None
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


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
