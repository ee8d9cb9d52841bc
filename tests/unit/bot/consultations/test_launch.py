"""Keeping the channel posts' live count current without a write per answer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.consultations.launch import PROGRESS_THROTTLE_SECONDS, QueuedProgress, progress_bucket

START = datetime(2026, 12, 1, 12, 0, 0, tzinfo=UTC)  # the start of a bucket


def test_an_update_queued_in_a_bucket_is_not_written_again_until_the_next() -> None:
    queued = QueuedProgress()
    networks = ["ics-network", "mental-health-network"]
    assert queued.still_to_queue("ic", networks, START) == networks

    queued.mark_queued("ic", ["ics-network"], START)

    later = START + timedelta(seconds=PROGRESS_THROTTLE_SECONDS - 1)
    assert progress_bucket(later) == progress_bucket(START)
    assert queued.still_to_queue("ic", networks, later) == ["mental-health-network"]
    assert queued.still_to_queue("other", networks, later) == networks  # per consultation
    next_bucket = START + timedelta(seconds=PROGRESS_THROTTLE_SECONDS)
    assert queued.still_to_queue("ic", networks, next_bucket) == networks


def test_nothing_is_marked_queued_that_was_not_asked_for() -> None:
    queued = QueuedProgress()
    assert queued.still_to_queue("ic", [], START) == []
    queued.mark_queued("ic", [], START)
    assert queued.still_to_queue("ic", ["ics-network"], START) == ["ics-network"]
