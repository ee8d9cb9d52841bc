"""Slack-like rate limiting for the sandbox, so back-off and outbox pacing get exercised."""

from __future__ import annotations

import math
import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["RateLimiter", "RateLimits"]

# Slack's documented tiers (requests per minute, per workspace). Tier 2 = 20+, 3 = 50+, 4 = 100+.
_TIER2, _TIER3, _TIER4 = 20, 50, 100


@dataclass
class RateLimits:
    """What the sandbox throttles. The default throttles nothing, so unit tests stay fast."""

    per_channel_per_second: float | None = None  # chat.postMessage refill rate per channel
    per_channel_burst: int = 1  # bucket size per channel
    per_method_per_minute: dict[str, int] = field(default_factory=dict)
    random_429_rate: float = 0.0  # probability any call answers 429 (seeded RNG)
    random_retry_after: int = 1  # Retry-After used for random 429s

    @classmethod
    def slack_like(cls) -> RateLimits:
        """Limits close to Slack's published ones (1 msg/s per channel with short bursts)."""
        return cls(
            per_channel_per_second=1.0,
            per_channel_burst=3,
            per_method_per_minute={
                "chat.update": _TIER3,
                "chat.postEphemeral": _TIER4,
                "chat.getPermalink": _TIER4,
                "conversations.members": _TIER4,
                "conversations.info": _TIER3,
                "conversations.open": _TIER3,
                "users.info": _TIER4,
                "views.open": _TIER4,
                "views.update": _TIER4,
                "views.push": _TIER4,
                "views.publish": _TIER4,
                "files.getUploadURLExternal": _TIER4,
                "files.completeUploadExternal": _TIER4,
                "auth.test": 600,
                "chat.postMessage": 600,
            },
        )


class RateLimiter:
    """Token bucket per channel + sliding 60 s window per method; returns Retry-After or None."""

    def __init__(self, limits: RateLimits, clock: Callable[[], float], rng: random.Random) -> None:
        self.limits = limits
        self._clock = clock
        self._rng = rng
        self._buckets: dict[str, tuple[float, float]] = {}  # channel -> (tokens, last_refill)
        self._windows: dict[str, deque[float]] = {}

    def check(self, method: str, channel: str | None) -> int | None:
        """Consume capacity for one call; return seconds to wait if it must be refused."""
        lim = self.limits
        if lim.random_429_rate and self._rng.random() < lim.random_429_rate:
            return lim.random_retry_after
        now = self._clock()
        per_minute = lim.per_method_per_minute.get(method)
        window: deque[float] | None = None
        if per_minute is not None:
            window = self._windows.setdefault(method, deque())
            while window and window[0] <= now - 60.0:
                window.popleft()
            if len(window) >= per_minute:
                return max(1, math.ceil(window[0] + 60.0 - now))
        if method == "chat.postMessage" and channel and lim.per_channel_per_second:
            rate = lim.per_channel_per_second
            burst = float(max(1, lim.per_channel_burst))
            tokens, last = self._buckets.get(channel, (burst, now))
            tokens = min(burst, tokens + (now - last) * rate)
            if tokens < 1.0:
                self._buckets[channel] = (tokens, now)
                return max(1, math.ceil((1.0 - tokens) / rate))
            self._buckets[channel] = (tokens - 1.0, now)
        if window is not None:
            window.append(now)
        return None
