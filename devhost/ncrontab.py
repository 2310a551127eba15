"""Timer schedules as the Functions host reads them: NCRONTAB or a TimeSpan interval.

NCRONTAB is `{second} {minute} {hour} {day} {month} {day-of-week}`; croniter wants seconds
last, so fields are reordered. NCrontab matches day-of-month AND day-of-week (classic cron
uses OR), hence `day_or=False`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from croniter import croniter

from devhost.errors import StartupError

_FIELD_NAMES = ("second", "minute", "hour", "day", "month", "day-of-week")
_NUMERIC_FIELD = re.compile(r"^[0-9*/,\-]+$")
_MONTHS = "jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec"
_DAYS = "sun|mon|tue|wed|thu|fri|sat"
_NAMED_FIELD = {
    4: re.compile(rf"^(?:[0-9*/,\-]|{_MONTHS})+$", re.IGNORECASE),
    5: re.compile(rf"^(?:[0-9*/,\-]|{_DAYS})+$", re.IGNORECASE),
}
_TIMESPAN = re.compile(r"^(?:(\d+)\.)?(\d{1,2}):(\d{2})(?::(\d{2}))?$")


@dataclass(frozen=True)
class Schedule:
    """A parsed timer schedule; `next_after` gives the next fire time strictly after `moment`."""

    expression: str
    cron: str | None = None  # croniter form (seconds last)
    interval: timedelta | None = None

    def next_after(self, moment: datetime) -> datetime:
        if moment.tzinfo is None:
            raise ValueError("next_after needs an aware datetime")
        if self.interval is not None:
            return moment + self.interval
        assert self.cron is not None
        result = croniter(self.cron, moment, day_or=False).get_next(datetime)
        assert isinstance(result, datetime)
        return result

    def describe(self) -> str:
        return f"every {self.interval}" if self.interval is not None else self.expression


def parse_schedule(expression: str) -> Schedule:
    """Parse an NCRONTAB (6 fields, or 5 without seconds) or `hh:mm:ss` interval schedule."""
    text = expression.strip()
    interval = _TIMESPAN.match(text)
    if interval:
        days, hours, minutes, seconds = (int(g or 0) for g in interval.groups())
        span = timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
        if span <= timedelta(0):
            raise StartupError(f"timer schedule {expression!r}: interval must be positive")
        return Schedule(expression=text, interval=span)
    fields = text.split()
    if len(fields) == 5:
        fields = ["0", *fields]
    if len(fields) != 6:
        raise StartupError(
            f"timer schedule {expression!r} is not NCRONTAB: expected 6 fields "
            "'{second} {minute} {hour} {day} {month} {day-of-week}'"
        )
    for index, value in enumerate(fields):
        pattern = _NAMED_FIELD.get(index, _NUMERIC_FIELD)
        if not pattern.match(value):
            raise StartupError(
                f"timer schedule {expression!r}: invalid {_FIELD_NAMES[index]} field {value!r}"
            )
    second, rest = fields[0], fields[1:]
    cron = " ".join([*rest, second])
    try:
        croniter(cron, datetime(2000, 1, 1, tzinfo=UTC), day_or=False).get_next(datetime)
    except Exception as exc:  # croniter raises several error types for bad ranges
        raise StartupError(f"timer schedule {expression!r} is invalid: {exc}") from exc
    return Schedule(expression=text, cron=cron)
