"""Dates and times as people read them in the consultation's time zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo


def local(moment: datetime, timezone: str) -> datetime:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(ZoneInfo(timezone))


def human_time(moment: datetime, timezone: str) -> str:
    """'5pm', '9:30am', 'midday'."""
    t = local(moment, timezone)
    if t.hour == 12 and t.minute == 0:
        return "midday"
    if t.hour == 0 and t.minute == 0:
        return "midnight"
    hour = t.hour % 12 or 12
    minutes = f":{t.minute:02d}" if t.minute else ""
    return f"{hour}{minutes}{'am' if t.hour < 12 else 'pm'}"


def human_deadline(moment: datetime, timezone: str) -> str:
    """'Friday 8 January 2021, 5pm' in the consultation's time zone."""
    t = local(moment, timezone)
    return f"{t:%A} {t.day} {t:%B %Y}, {human_time(moment, timezone)}"


def human_duration(delta: timedelta) -> str:
    """'2 days', '4 hours', '35 minutes', 'less than a minute'."""
    seconds = int(delta.total_seconds())
    if seconds < 60:
        return "less than a minute"
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            count = round(seconds / size) if unit != "minute" else seconds // size
            if unit == "day" and seconds < 2 * 86400:
                count = seconds // size
                if count == 1 and seconds % 86400 >= 3600:
                    hours = (seconds % 86400) // 3600
                    return f"1 day {hours} hour{'s' if hours != 1 else ''}"
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return "less than a minute"
