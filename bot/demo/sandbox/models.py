"""Records kept by the sandbox Slack, so tests can assert on what the bot did."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "Channel",
    "Fault",
    "FileShare",
    "InvalidPayload",
    "Message",
    "RecordedCall",
    "TranscriptEvent",
    "User",
    "ViewRecord",
]


@dataclass
class User:
    """A workspace member as users.info describes it."""

    id: str
    name: str
    real_name: str
    tz: str = "Europe/London"
    is_bot: bool = False
    deleted: bool = False


@dataclass
class Channel:
    """A channel or a DM (is_im) with its members."""

    id: str
    name: str
    members: list[str] = field(default_factory=list)
    bot_is_member: bool = True
    is_im: bool = False
    user: str | None = None  # the other party of a DM
    is_private: bool = False
    created: int = 1700000000


@dataclass
class Message:
    """A message the bot posted (or an ephemeral it showed); `versions` keeps each chat.update."""

    channel: str
    ts: str
    text: str | None
    blocks: list[dict[str, Any]] | None
    user: str | None = None
    bot_id: str | None = None
    thread_ts: str | None = None
    reply_broadcast: bool = False
    ephemeral_to: str | None = None
    files: list[dict[str, Any]] = field(default_factory=list)
    metadata: dict[str, Any] | None = None
    versions: list[dict[str, Any]] = field(default_factory=list)
    source: str = "chat.postMessage"

    @property
    def is_reply(self) -> bool:
        """True when this message lives in a thread under another message."""
        return self.thread_ts is not None and self.thread_ts != self.ts

    def to_slack(self) -> dict[str, Any]:
        """The message object as Slack's APIs and payloads show it."""
        out: dict[str, Any] = {"type": "message", "ts": self.ts, "text": self.text or ""}
        if self.user:
            out["user"] = self.user
        if self.bot_id:
            out["bot_id"] = self.bot_id
            out["app_id"] = "A0SANDBOX"
        if self.blocks is not None:
            out["blocks"] = self.blocks
        if self.thread_ts:
            out["thread_ts"] = self.thread_ts
        if self.files:
            out["files"] = self.files
        if self.metadata:
            out["metadata"] = self.metadata
        if len(self.versions) > 1:
            out["edited"] = {"user": self.user, "ts": self.versions[-1]["ts"]}
        return out


@dataclass
class RecordedCall:
    """One Web API call as the sandbox received and answered it."""

    method: str
    params: dict[str, Any]
    ok: bool
    error: str | None
    response: dict[str, Any] | None
    at: float
    http_status: int = 200


@dataclass
class InvalidPayload:
    """A blocks/view payload Slack would have refused."""

    method: str
    params: dict[str, Any]
    errors: list[str]
    at: float


@dataclass
class ViewRecord:
    """A modal or App Home view; `view` is its current state as Slack would return it."""

    view: dict[str, Any]
    user_id: str
    trigger_id: str | None
    versions: list[dict[str, Any]] = field(default_factory=list)
    closed: bool = False

    @property
    def id(self) -> str:
        """Slack's view id (V...)."""
        return str(self.view["id"])


@dataclass
class FileShare:
    """A file uploaded via the v2 flow and shared into a channel or DM."""

    file_id: str
    filename: str
    title: str | None
    content: bytes
    channel: str | None
    thread_ts: str | None
    initial_comment: str | None
    ts: str | None


@dataclass
class Fault:
    """An injected failure for the next `count` calls of `method`."""

    method: str
    count: int
    status: int | None
    error: str | None
    retry_after: int | None
    delay: float | None
    channel: str | None


@dataclass
class TranscriptEvent:
    """One human-readable line of what a user would have seen, in order."""

    seq: int
    kind: str
    where: str
    text: str
    ts: str | None = None

    def __str__(self) -> str:
        body = self.text.replace("\n", "\n> ")
        return f"**{self.where}** ({self.kind})\n> {body}"
