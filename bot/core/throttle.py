"""Per-user throttling of the commands that cost Slack calls (`/consult status`, `summary`,
`remind`, `export`): each person may run a few in a row, then one every few seconds. Refused
ones are told how long to wait, instead of consultbot asking Slack again (users.list, a Tier 2
method, is shared with reminder rounds to thousands of members)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

BURST = 5  # commands one person may run in a row
REFILL_SECONDS = 12.0  # then one more every this many seconds


@dataclass
class CommandThrottle:
    burst: int = BURST
    refill_seconds: float = REFILL_SECONDS
    clock: Callable[[], float] = time.monotonic
    _buckets: dict[str, tuple[float, float]] = field(default_factory=dict)  # user -> tokens, at

    def wait(self, user_id: str) -> int:
        """Whole seconds `user_id` must wait before their next throttled command; 0 means go
        ahead (and counts it)."""
        now = self.clock()
        tokens, at = self._buckets.get(user_id, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - at) / self.refill_seconds)
        if tokens >= 1.0:
            self._buckets[user_id] = (tokens - 1.0, now)
            return 0
        self._buckets[user_id] = (tokens, now)
        return max(1, math.ceil((1.0 - tokens) * self.refill_seconds))
