"""Making user text safe to echo into Slack mrkdwn."""

from __future__ import annotations


def escape(text: str) -> str:
    """Escape &, < and > as Slack asks, so `<!channel>` or `<@U123>` in user text never pings."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def truncate(text: str, limit: int, suffix: str = "…") -> str:
    """Cut text to fit a Slack field of `limit` characters, at a word boundary where possible."""
    if len(text) <= limit:
        return text
    cut = text[: limit - len(suffix)]
    space = cut.rfind(" ")
    if space > limit * 0.6:
        cut = cut[:space]
    return cut.rstrip() + suffix
