"""Block Kit validation with Slack's limits, so broken payloads fail in tests, not in production."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

__all__ = [
    "MAX_MESSAGE_BLOCKS",
    "MAX_MODAL_TITLE",
    "MAX_SECTION_TEXT",
    "MAX_VIEW_BLOCKS",
    "validate_message_blocks",
    "validate_view",
]

MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
MAX_MODAL_TITLE = 24
MAX_SECTION_TEXT = 3000
_VIEW_KEYS = {
    "type",
    "id",
    "callback_id",
    "external_id",
    "team_id",
    "bot_id",
    "app_id",
    "root_view_id",
    "previous_view_id",
    "title",
    "submit",
    "close",
    "blocks",
    "private_metadata",
    "state",
    "hash",
    "clear_on_close",
    "notify_on_close",
}


def _check_blocks(blocks: Any, max_blocks: int) -> list[str]:
    errors: list[str] = []
    if not isinstance(blocks, list):
        return ["blocks must be a JSON array"]
    if len(blocks) > max_blocks:
        errors.append(f"must contain at most {max_blocks} blocks (got {len(blocks)})")
    seen_block_ids: set[str] = set()
    for i, raw in enumerate(blocks):
        where = f"[json-pointer:/blocks/{i}]"
        if not isinstance(raw, Mapping):
            errors.append(f"block must be an object {where}")
            continue
        block_id = raw.get("block_id")
        if block_id is not None:
            if block_id in seen_block_ids:
                errors.append(f"duplicate block_id {block_id!r} {where}")
            seen_block_ids.add(block_id)
        if raw.get("type") == "section":
            text = raw.get("text")
            if isinstance(text, Mapping) and len(str(text.get("text", ""))) > MAX_SECTION_TEXT:
                errors.append(f"section text must be at most {MAX_SECTION_TEXT} characters {where}")
        elements = list(raw.get("elements") or []) if raw.get("type") == "actions" else []
        action_ids = [e.get("action_id") for e in elements if isinstance(e, Mapping)]
        dupes = {a for a in action_ids if a is not None and action_ids.count(a) > 1}
        if dupes:
            errors.append(f"duplicate action_id {sorted(dupes)} {where}")
        try:
            block = Block.parse(dict(raw))
            if block is None:
                errors.append(f"unsupported block type {raw.get('type')!r} {where}")
                continue
            block.validate_json()
            block.to_dict()  # validates nested elements and text objects too
        except Exception as exc:
            errors.append(f"{exc} {where}")
    return errors


def validate_message_blocks(blocks: Any) -> list[str]:
    """Return Slack-style error strings for a message's blocks (empty list = valid)."""
    return _check_blocks(blocks, MAX_MESSAGE_BLOCKS)


def validate_view(view: Any) -> list[str]:
    """Return Slack-style error strings for a modal/home view (empty list = valid)."""
    if not isinstance(view, Mapping):
        return ["view must be a JSON object"]
    errors: list[str] = []
    kind = view.get("type")
    if kind not in {"modal", "home"}:
        errors.append(f"unsupported view type {kind!r}")
    title = view.get("title")
    if kind == "modal":
        if not isinstance(title, Mapping) or not title.get("text"):
            errors.append("modal requires a title")
        elif len(str(title.get("text"))) > MAX_MODAL_TITLE:
            errors.append(f"title must be at most {MAX_MODAL_TITLE} characters")
        has_input = any(
            isinstance(b, Mapping) and b.get("type") == "input" for b in view.get("blocks") or []
        )
        if has_input and not view.get("submit"):
            errors.append("a modal with input blocks requires a submit button")
    errors.extend(_check_blocks(view.get("blocks"), MAX_VIEW_BLOCKS))
    try:
        View(**{k: v for k, v in view.items() if k in _VIEW_KEYS}).validate_json()
    except Exception as exc:
        errors.append(str(exc))
    return errors
