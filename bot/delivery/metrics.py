"""What one consultbot process tells Prometheus (`GET /metrics`): request latency by kind, slow
acks, inbox and outbox backlog, answers recorded, receipts and reminders sent, Slack API errors,
rate-limit waits and tick duration.

Every process has its own `Metrics` (its own CollectorRegistry, never prometheus-client's global
one), built by the composition root, so two runtimes in one process (tests) never collide.

Labels only ever hold names the code chooses (a request kind, a Slack method, a tick, a state) or
a Slack error code: never a user or channel id, a name, or anything a member wrote.
"""

from __future__ import annotations

import re

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

CONTENT_TYPE = CONTENT_TYPE_LATEST

# The kinds of Slack request, as the request log names them; anything else counts as "other"
# (the type comes from the request body, so it must not become a label of its own).
REQUEST_KINDS = frozenset(
    {
        "slash_command",
        "block_actions",
        "view_submission",
        "view_closed",
        "event_callback",
        "url_verification",
        "shortcut",
        "message_action",
        "block_suggestion",
    }
)
SLOW_ACK_SECONDS = 3.0  # Slack shows the member an error when the ack takes longer
_SLACK_WORD = re.compile(r"[A-Za-z_.]{1,60}")


def request_kind(kind: str) -> str:
    return kind if kind in REQUEST_KINDS else "other"


def slack_word(value: str | None) -> str:
    """A Slack method or error code as a label; anything unexpected becomes "other"."""
    return value if value and _SLACK_WORD.fullmatch(value) else "other"


class Metrics:
    """The counters, gauges and histograms of one process, in its own registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.request_seconds = Histogram(
            "consultbot_slack_request_seconds",
            "Time to answer a Slack request (what Slack waits for), by kind.",
            ["kind"],
            buckets=(0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 2.0, 3.0, 5.0),
            registry=r,
        )
        self.slow_acks = Counter(
            "consultbot_slack_acks_over_3s",
            "Slack requests answered after 3 s (Slack has shown the member an error).",
            ["kind"],
            registry=r,
        )
        self.inbox_backlog = Gauge(
            "consultbot_inbox_backlog",
            "Accepted submissions not yet recorded, by state (waiting, recording, parked).",
            ["state"],
            registry=r,
        )
        self.outbox_backlog = Gauge(
            "consultbot_outbox_messages",
            "Outgoing Slack messages in the outbox, by state (pending, sending, sent, failed).",
            ["state"],
            registry=r,
        )
        self.answers_recorded = Counter(
            "consultbot_answers_recorded",
            "Accepted submissions recorded by this process's inbox worker.",
            registry=r,
        )
        self.inbox_batch_seconds = Histogram(
            "consultbot_inbox_batch_seconds",
            "Time to record one batch of accepted submissions.",
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
            registry=r,
        )
        self.messages_sent = Counter(
            "consultbot_slack_messages_sent",
            "Outbox messages Slack accepted, by method.",
            ["method"],
            registry=r,
        )
        self.receipts_sent = Counter(
            "consultbot_receipts_sent", "Receipt DMs Slack accepted.", registry=r
        )
        self.reminders_sent = Counter(
            "consultbot_reminders_sent", "Reminder DMs Slack accepted.", registry=r
        )
        self.slack_api_errors = Counter(
            "consultbot_slack_api_errors",
            "Slack Web API calls refused, by method and Slack's error code.",
            ["method", "error"],
            registry=r,
        )
        self.rate_limit_waits = Counter(
            "consultbot_slack_rate_limit_waits",
            "429s from Slack: a call put back to wait for Retry-After, by method.",
            ["method"],
            registry=r,
        )
        self.rate_limit_wait_seconds = Counter(
            "consultbot_slack_rate_limit_wait_seconds",
            "Seconds of Retry-After Slack asked for, by method.",
            ["method"],
            registry=r,
        )
        self.tick_seconds = Histogram(
            "consultbot_tick_seconds",
            "Time one tick job took (deadlines, reminders, ...), by job.",
            ["tick"],
            buckets=(0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
            registry=r,
        )

        for kind in (*REQUEST_KINDS, "other"):  # shown as 0 from the start, not absent
            self.slow_acks.labels(kind)
        for state in ("waiting", "recording", "parked"):
            self.inbox_backlog.labels(state)

    def observe_request(self, kind: str, seconds: float) -> None:
        label = request_kind(kind)
        self.request_seconds.labels(label).observe(seconds)
        if seconds > SLOW_ACK_SECONDS:
            self.slow_acks.labels(label).inc()

    def sent(self, method: str, *, receipt: bool = False, reminder: bool = False) -> None:
        self.messages_sent.labels(slack_word(method)).inc()
        if receipt:
            self.receipts_sent.inc()
        if reminder:
            self.reminders_sent.inc()

    def slack_error(self, method: str, error: str | None) -> None:
        self.slack_api_errors.labels(slack_word(method), slack_word(error)).inc()

    def rate_limited(self, method: str, retry_after: float) -> None:
        self.rate_limit_waits.labels(slack_word(method)).inc()
        self.rate_limit_wait_seconds.labels(slack_word(method)).inc(retry_after)

    def exposition(self) -> bytes:
        """The Prometheus text format of everything above."""
        return generate_latest(self.registry)
