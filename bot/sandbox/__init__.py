"""Sandbox Slack: an emulated Web API plus a driver that sends signed payloads to the app."""

from bot.sandbox.driver import DriverError, DriverResponse, SlackDriver, build_state_values
from bot.sandbox.models import (
    Channel,
    FileShare,
    InvalidPayload,
    Message,
    RecordedCall,
    TranscriptEvent,
    User,
    ViewRecord,
)
from bot.sandbox.ratelimit import RateLimits
from bot.sandbox.render import render_blocks_as_text
from bot.sandbox.slack_api import SandboxSlack

__all__ = [
    "Channel",
    "DriverError",
    "DriverResponse",
    "FileShare",
    "InvalidPayload",
    "Message",
    "RateLimits",
    "RecordedCall",
    "SandboxSlack",
    "SlackDriver",
    "TranscriptEvent",
    "User",
    "ViewRecord",
    "build_state_values",
    "render_blocks_as_text",
]
