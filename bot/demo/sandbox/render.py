"""Plain-text rendering of Block Kit, so sandbox transcripts read like what a user would see."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["render_blocks_as_text", "render_element", "text_of"]


def text_of(obj: Any) -> str:
    """Return the visible text of a text object (plain_text/mrkdwn dict) or a bare string."""
    if obj is None:
        return ""
    if isinstance(obj, str):
        return obj
    if isinstance(obj, Mapping):
        if "text" in obj and isinstance(obj["text"], str | Mapping):
            return text_of(obj["text"])
        if obj.get("type") in {"rich_text_section", "rich_text_preformatted", "rich_text_quote"}:
            return "".join(_rich_inline(e) for e in obj.get("elements", []))
    return ""


def _rich_inline(el: Mapping[str, Any]) -> str:
    kind = el.get("type")
    if kind == "text":
        return str(el.get("text", ""))
    if kind == "link":
        return str(el.get("text") or el.get("url", ""))
    if kind == "user":
        return f"<@{el.get('user_id', '')}>"
    if kind == "channel":
        return f"<#{el.get('channel_id', '')}>"
    if kind == "emoji":
        return f":{el.get('name', '')}:"
    if kind == "date":
        return str(el.get("fallback", el.get("timestamp", "")))
    return str(el.get("text", ""))


def _options_text(el: Mapping[str, Any], multi: bool) -> str:
    options: list[Mapping[str, Any]] = list(el.get("options") or [])
    for group in el.get("option_groups") or []:
        options.extend(group.get("options") or [])
    selected: set[str] = set()
    if el.get("initial_option"):
        selected.add(str(el["initial_option"].get("value")))
    for opt in el.get("initial_options") or []:
        selected.add(str(opt.get("value")))
    marks = ("[x]", "[ ]") if multi else ("(o)", "( )")
    return "  ".join(
        f"{marks[0] if str(o.get('value')) in selected else marks[1]} {text_of(o.get('text'))}"
        for o in options
    )


def render_element(el: Mapping[str, Any]) -> str:
    """Render one interactive/context element as a short bracketed token."""
    kind = el.get("type")
    if kind == "button":
        return f"[{text_of(el.get('text'))}]"
    if kind in {"plain_text", "mrkdwn"}:
        return text_of(el)
    if kind == "image":
        return f"[image: {el.get('alt_text', '')}]"
    if kind == "radio_buttons":
        return _options_text(el, multi=False)
    if kind == "checkboxes":
        return _options_text(el, multi=True)
    if kind in {"static_select", "external_select"}:
        chosen = el.get("initial_option")
        label = text_of(chosen.get("text")) if chosen else text_of(el.get("placeholder"))
        return f"<select: {label or '…'}>"
    if kind in {"multi_static_select", "multi_external_select"}:
        chosen = el.get("initial_options") or []
        label = ", ".join(text_of(o.get("text")) for o in chosen) or text_of(el.get("placeholder"))
        return f"<multi-select: {label or '…'}>"
    if kind == "plain_text_input":
        initial = el.get("initial_value")
        return f"<text input{': ' + initial if initial else ''}>"
    if kind == "overflow":
        return "[…]"
    if kind in {"datepicker", "timepicker", "datetimepicker"}:
        initial = el.get("initial_date") or el.get("initial_time") or ""
        return f"<{kind}{': ' + initial if initial else ''}>"
    if kind:
        return f"<{kind}>"
    return ""


def _render_block(block: Mapping[str, Any]) -> list[str]:
    kind = block.get("type")
    lines: list[str] = []
    if kind == "header":
        lines.append(f"# {text_of(block.get('text'))}")
    elif kind == "section":
        if block.get("text"):
            lines.append(text_of(block["text"]))
        lines.extend(f"• {text_of(f)}" for f in block.get("fields") or [])
        if block.get("accessory"):
            lines.append(render_element(block["accessory"]))
    elif kind == "context":
        lines.append(" · ".join(render_element(e) for e in block.get("elements") or []))
    elif kind == "divider":
        lines.append("---")
    elif kind == "actions":
        lines.append(" ".join(render_element(e) for e in block.get("elements") or []))
    elif kind == "input":
        label = text_of(block.get("label"))
        optional = " (optional)" if block.get("optional") else ""
        lines.append(f"{label}{optional}: {render_element(block.get('element') or {})}")
        if block.get("hint"):
            lines.append(f"  ({text_of(block['hint'])})")
    elif kind == "image":
        lines.append(f"[image: {block.get('alt_text', '')}]")
    elif kind == "rich_text":
        for el in block.get("elements") or []:
            if el.get("type") == "rich_text_list":
                lines.extend(f"• {text_of(item)}" for item in el.get("elements") or [])
            else:
                lines.append(text_of(el))
    elif kind == "markdown":
        lines.append(str(block.get("text", "")))
    elif kind:
        lines.append(f"<{kind} block>")
    return [line for line in lines if line]


def render_blocks_as_text(blocks: Iterable[Mapping[str, Any]] | None) -> str:
    """Render a list of Block Kit blocks as readable plain text, one line per visible item."""
    lines: list[str] = []
    for block in blocks or []:
        if isinstance(block, Mapping):
            lines.extend(_render_block(block))
    return "\n".join(lines)
