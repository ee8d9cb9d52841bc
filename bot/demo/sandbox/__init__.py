"""Sandbox Slack: an emulated Web API plus a driver that sends signed payloads to the app."""

from bot.demo.sandbox.driver import DriverError, DriverResponse, SlackDriver, build_state_values
from bot.demo.sandbox.models import (
    Channel,
    FileShare,
    InvalidPayload,
    Message,
    RecordedCall,
    TranscriptEvent,
    User,
    ViewRecord,
)
from bot.demo.sandbox.ratelimit import RateLimits
from bot.demo.sandbox.render import render_blocks_as_text
from bot.demo.sandbox.slack_api import SandboxSlack

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
