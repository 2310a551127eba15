"""When a schedule fires: NCRONTAB expressions (Azure Functions' six-field format) in a time zone,
or a fixed interval. Pure time arithmetic; every time in and out is an aware UTC datetime.

NCRONTAB is `{second} {minute} {hour} {day} {month} {day-of-week}`. croniter reads the seconds
field *last*, so the fields are reordered explicitly before croniter sees them. Two readings of
NCRONTAB are ambiguous and refused rather than guessed: an expression that restricts both the
day of the month and the day of the week (classic cron fires on either, NCrontab on both), and
the `?`, `L`, `W` and `#` forms NCrontab does not document.

An interval schedule fires at every multiple of the interval since 1970-01-01T00:00Z, so its
slots do not depend on when the app started (an interval that divides a day fires at 00:00 UTC).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

_FIELD = re.compile(r"^[0-9A-Za-z*/,\-]+$")
_WORD = re.compile(r"[A-Za-z]+")
_MONTHS = {"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"}
_WEEKDAYS = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# How far `longest_gap` looks: enough for any yearly pattern, bounded for every-second ones.
_GAP_HORIZON = timedelta(days=400)
_GAP_MAX_OCCURRENCES = 3000
_GAP_REFERENCE = datetime(2026, 1, 1, tzinfo=UTC)


class ScheduleError(ValueError):
    """An expression, time zone or interval that cannot be a schedule (the message says why)."""


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ScheduleError(
            f"{name!r} is not an IANA time zone (such as 'UTC' or 'Europe/Berlin')"
        ) from None


def _croniter_form(expression: str) -> str:
    fields = expression.split()
    if len(fields) != 6:
        raise ScheduleError(
            f"{expression!r} has {len(fields)} fields; NCRONTAB has six: "
            "'{second} {minute} {hour} {day} {month} {day-of-week}', e.g. '0 0 2 * * *'"
        )
    for field in fields:
        if not _FIELD.match(field):
            raise ScheduleError(
                f"{expression!r}: field {field!r} may use only digits, names, '*', '/', ',' and '-'"
            )
    second, minute, hour, day, month, weekday = fields
    names = [(second, set()), (minute, set()), (hour, set()), (day, set())]
    names += [(month, _MONTHS), (weekday, _WEEKDAYS)]
    for field, allowed in names:
        for word in _WORD.findall(field):
            if word.lower() not in allowed:
                raise ScheduleError(
                    f"{expression!r}: {word!r} in field {field!r} is not a month or day name "
                    "NCRONTAB documents (L, W, # and H are not NCRONTAB)"
                )
    if day != "*" and weekday != "*":
        raise ScheduleError(
            f"{expression!r} restricts both the day of the month and the day of the week; "
            "cron and NCRONTAB read that differently, so set one of them to '*'"
        )
    # croniter: minute hour day month day-of-week second.
    form = f"{minute} {hour} {day} {month} {weekday} {second}"
    if not croniter.is_valid(form):
        raise ScheduleError(f"{expression!r} is not a valid NCRONTAB expression")
    return form


def _floor_second(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(microsecond=0)


@dataclass(frozen=True)
class Schedule:
    """One schedule: `cron` (NCRONTAB) in `time_zone`, or every `interval`."""

    cron: str | None = None
    time_zone: str = "UTC"
    interval: timedelta | None = None

    @classmethod
    def parse(
        cls,
        *,
        cron: str | None = None,
        time_zone: str | None = None,
        interval_minutes: int | None = None,
    ) -> Schedule:
        """A checked schedule, or ScheduleError saying what is wrong."""
        if (cron is None) == (interval_minutes is None):
            raise ScheduleError("give exactly one of cron and intervalMinutes")
        zone = time_zone or "UTC"
        _zone(zone)
        if cron is not None:
            normalized = " ".join(cron.split())
            _croniter_form(normalized)
            schedule = cls(cron=normalized, time_zone=zone)
            if schedule.previous_at_or_before(_GAP_REFERENCE + _GAP_HORIZON) is None:
                raise ScheduleError(f"{normalized!r} never fires")
            return schedule
        assert interval_minutes is not None
        if interval_minutes < 1:
            raise ScheduleError("intervalMinutes must be at least 1")
        return cls(time_zone=zone, interval=timedelta(minutes=interval_minutes))

    def describe(self) -> str:
        if self.interval is not None:
            return f"every {int(self.interval.total_seconds() // 60)} minutes"
        return f"{self.cron} ({self.time_zone})"

    def _iter(self, start: datetime) -> croniter:
        assert self.cron is not None
        local = _floor_second(start).astimezone(_zone(self.time_zone))
        return croniter(_croniter_form(self.cron), local)

    def next_after(self, moment: datetime) -> datetime:
        """The first slot strictly after `moment`."""
        if self.interval is not None:
            step = self.interval
            count = (moment.astimezone(UTC) - _EPOCH) // step
            return _EPOCH + (count + 1) * step
        found = self._iter(moment).get_next(datetime)
        return found.astimezone(UTC)

    def previous_at_or_before(self, moment: datetime) -> datetime | None:
        """The latest slot at or before `moment` (None when it never fired in reach)."""
        if self.interval is not None:
            count = (moment.astimezone(UTC) - _EPOCH) // self.interval
            return _EPOCH + count * self.interval
        # Slots are whole seconds: the latest one before the next whole second.
        start = _floor_second(moment) + timedelta(seconds=1)
        try:
            found = self._iter(start).get_prev(datetime)
        except (StopIteration, ValueError, OverflowError):
            return None
        return found.astimezone(UTC)

    def longest_gap(self) -> timedelta:
        """The longest time between two slots, over a year of slots (or the first 3,000)."""
        if self.interval is not None:
            return self.interval
        iterator = self._iter(_GAP_REFERENCE)
        previous = iterator.get_next(datetime).astimezone(UTC)
        gap = timedelta(0)
        end = _GAP_REFERENCE + _GAP_HORIZON
        for _ in range(_GAP_MAX_OCCURRENCES):
            current = iterator.get_next(datetime).astimezone(UTC)
            gap = max(gap, current - previous)
            if current > end:
                break
            previous = current
        return gap


def due_slot(schedule: Schedule, now: datetime, last_fired: datetime | None) -> datetime | None:
    """The slot to act on now: the latest one at or before `now` that is later than the last one
    acted on. Slots missed while no host ran collapse into this one: it fires once, late."""
    latest = schedule.previous_at_or_before(now)
    if latest is None:
        return None
    if last_fired is not None and latest <= last_fired.astimezone(UTC):
        return None
    return latest
