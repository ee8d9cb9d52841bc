"""Dates, times and durations as people read them, in the consultation's time zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.core.timefmt import human_deadline, human_duration, human_time, local


def test_deadline_in_winter() -> None:
    moment = datetime(2021, 1, 8, 17, 0, tzinfo=UTC)
    assert human_deadline(moment, "Europe/London") == "Friday 8 January 2021, 5pm"


def test_deadline_in_summer_is_shown_in_british_summer_time() -> None:
    moment = datetime(2021, 7, 8, 16, 0, tzinfo=UTC)
    assert human_deadline(moment, "Europe/London") == "Thursday 8 July 2021, 5pm"


def test_deadline_that_crosses_midnight_shows_the_local_date() -> None:
    # 23:30 UTC on 30 June is 00:30 on 1 July in London (BST).
    moment = datetime(2021, 6, 30, 23, 30, tzinfo=UTC)
    assert human_deadline(moment, "Europe/London") == "Thursday 1 July 2021, 12:30am"


def test_naive_times_are_taken_as_utc() -> None:
    assert human_deadline(datetime(2021, 7, 8, 16, 0), "Europe/London") == (
        "Thursday 8 July 2021, 5pm"
    )
    assert local(datetime(2021, 1, 8, 17, 0), "UTC").tzinfo is not None


def test_other_timezones() -> None:
    moment = datetime(2021, 1, 8, 17, 0, tzinfo=UTC)
    assert human_deadline(moment, "America/New_York") == "Friday 8 January 2021, midday"


@pytest.mark.parametrize(
    ("hour", "minute", "shown"),
    [
        (12, 0, "midday"),
        (0, 0, "midnight"),
        (9, 30, "9:30am"),
        (9, 5, "9:05am"),
        (12, 30, "12:30pm"),
        (0, 15, "12:15am"),
        (17, 0, "5pm"),
        (23, 59, "11:59pm"),
    ],
)
def test_times(hour: int, minute: int, shown: str) -> None:
    assert human_time(datetime(2021, 1, 8, hour, minute, tzinfo=UTC), "Europe/London") == shown


@pytest.mark.parametrize(
    ("delta", "shown"),
    [
        (timedelta(seconds=0), "less than a minute"),
        (timedelta(seconds=59), "less than a minute"),
        (timedelta(minutes=1), "1 minute"),
        (timedelta(minutes=35), "35 minutes"),
        (timedelta(hours=1), "1 hour"),
        (timedelta(hours=4), "4 hours"),
        (timedelta(days=1), "1 day"),
        (timedelta(days=1, minutes=30), "1 day"),
        (timedelta(days=1, hours=1), "1 day 1 hour"),
        (timedelta(days=1, hours=12), "1 day 12 hours"),
        (timedelta(days=2), "2 days"),
        (timedelta(days=7), "7 days"),
        (timedelta(seconds=-30), "less than a minute"),
    ],
)
def test_durations(delta: timedelta, shown: str) -> None:
    assert human_duration(delta) == shown
