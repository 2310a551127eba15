"""shared/model/schedule.py: NCRONTAB (Azure Functions' six fields) in a time zone, intervals,
and the slot that is due now."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.model.schedule import Schedule, ScheduleError, due_slot

T = datetime(2026, 6, 10, 12, 7, 31, tzinfo=UTC)  # a Wednesday


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


# The examples of the Azure Functions timer trigger docs, read as documented (UTC).
DOC_EXAMPLES = [
    ("0 */5 * * * *", utc(2026, 6, 10, 12, 10, 0)),  # once every five minutes
    ("0 0 * * * *", utc(2026, 6, 10, 13, 0, 0)),  # at the top of every hour
    ("0 0 */2 * * *", utc(2026, 6, 10, 14, 0, 0)),  # every two hours
    ("0 0 9-17 * * *", utc(2026, 6, 10, 13, 0, 0)),  # every hour from 9 AM to 5 PM
    ("0 30 9 * * *", utc(2026, 6, 11, 9, 30, 0)),  # at 9:30 AM every day
    ("0 30 9 * * 1-5", utc(2026, 6, 11, 9, 30, 0)),  # at 9:30 AM every weekday
    ("0 30 9 * Jan Mon", utc(2027, 1, 4, 9, 30, 0)),  # 9:30 AM every Monday in January
    ("*/20 * * * * *", utc(2026, 6, 10, 12, 7, 40)),  # seconds come first
    ("15 * * * * *", utc(2026, 6, 10, 12, 8, 15)),
    ("0 0 2 * * 0", utc(2026, 6, 14, 2, 0, 0)),  # Sunday is 0
    ("0 0 2 * * Sun", utc(2026, 6, 14, 2, 0, 0)),
]


@pytest.mark.parametrize(("expression", "expected"), DOC_EXAMPLES)
def test_the_functions_docs_examples_fire_when_documented(
    expression: str, expected: datetime
) -> None:
    assert Schedule.parse(cron=expression).next_after(T) == expected


def test_seconds_are_the_first_field_not_the_last() -> None:
    # croniter alone would read "30 2 * * * *" as minute 30, hour 2 (seconds last).
    schedule = Schedule.parse(cron="30 2 * * * *")
    assert schedule.next_after(utc(2026, 1, 1, 0, 0, 0)) == utc(2026, 1, 1, 0, 2, 30)


@pytest.mark.parametrize(
    ("zone", "when", "expected"),
    [
        # 02:00 in Berlin is 00:00 UTC in summer (CEST, +2) and 01:00 UTC in winter (CET, +1).
        ("Europe/Berlin", utc(2026, 6, 10, 12), utc(2026, 6, 11, 0)),
        ("Europe/Berlin", utc(2026, 1, 10, 12), utc(2026, 1, 11, 1)),
        # 02:00 on the spring-forward day does not exist: it fires at 03:00 CEST (01:00 UTC).
        ("Europe/Berlin", utc(2026, 3, 28, 12), utc(2026, 3, 29, 1)),
        ("America/New_York", utc(2026, 6, 10, 12), utc(2026, 6, 11, 6)),
        ("UTC", utc(2026, 6, 10, 12), utc(2026, 6, 11, 2)),
    ],
)
def test_a_time_zone_moves_the_slot(zone: str, when: datetime, expected: datetime) -> None:
    schedule = Schedule.parse(cron="0 0 2 * * *", time_zone=zone)
    assert schedule.next_after(when) == expected


def test_previous_slot_includes_the_moment_itself() -> None:
    schedule = Schedule.parse(cron="0 0 2 * * *")
    assert schedule.previous_at_or_before(utc(2026, 6, 10, 2)) == utc(2026, 6, 10, 2)
    assert schedule.previous_at_or_before(utc(2026, 6, 10, 1, 59, 59)) == utc(2026, 6, 9, 2)


def test_an_interval_fires_at_multiples_since_the_epoch() -> None:
    schedule = Schedule.parse(interval_minutes=360)
    assert schedule.previous_at_or_before(T) == utc(2026, 6, 10, 12)
    assert schedule.next_after(T) == utc(2026, 6, 10, 18)
    assert schedule.next_after(utc(2026, 6, 10, 18)) == utc(2026, 6, 11, 0)
    assert schedule.longest_gap() == timedelta(hours=6)
    assert schedule.describe() == "every 360 minutes"


@pytest.mark.parametrize(
    ("expression", "zone", "gap"),
    [
        ("0 0 2 * * *", "UTC", timedelta(days=1)),
        ("0 0 */6 * * *", "UTC", timedelta(hours=6)),
        ("0 0 9-17 * * *", "UTC", timedelta(hours=16)),  # 17:00 -> 09:00
        ("0 30 9 * * 1-5", "UTC", timedelta(days=3)),  # Friday -> Monday
        ("*/20 * * * * *", "UTC", timedelta(seconds=20)),
        # Across daylight saving time the local 02:00 is 23 or 25 hours apart, the rest 24.
        ("0 0 2 * * *", "Europe/Berlin", timedelta(days=1)),
    ],
)
def test_longest_gap(expression: str, zone: str, gap: timedelta) -> None:
    assert Schedule.parse(cron=expression, time_zone=zone).longest_gap() == gap


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"cron": "0 0 2 * *"}, "has 5 fields; NCRONTAB has six"),
        ({"cron": "0 0 2 * * * *"}, "has 7 fields"),
        ({"cron": "0 0 25 * * *"}, "is not a valid NCRONTAB expression"),
        ({"cron": "0 0 2 ? * *"}, "may use only digits"),
        ({"cron": "0 0 2 L * *"}, "is not a month or day name"),
        ({"cron": "0 0 2 * Foo *"}, "is not a month or day name"),
        ({"cron": "0 0 2 1 * 1"}, "restricts both the day of the month and the day of the week"),
        ({"cron": "0 0 0 30 2 *"}, "never fires"),
        ({"cron": "0 0 2 * * *", "time_zone": "Mars/Olympus"}, "is not an IANA time zone"),
        ({"cron": "0 0 2 * * *", "interval_minutes": 5}, "exactly one of"),
        ({}, "exactly one of"),
        ({"interval_minutes": 0}, "at least 1"),
    ],
)
def test_bad_schedules_say_why(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ScheduleError, match=message.replace("?", r"\?")):
        Schedule.parse(**kwargs)  # type: ignore[arg-type]


def test_due_slot_fires_each_slot_once_and_missed_slots_once_late() -> None:
    schedule = Schedule.parse(cron="0 0 */6 * * *")
    now = utc(2026, 6, 10, 12, 5)
    assert due_slot(schedule, now, None) == utc(2026, 6, 10, 12)
    assert due_slot(schedule, now, utc(2026, 6, 10, 12)) is None
    # The host was down for a day: the four missed slots are one, the latest.
    assert due_slot(schedule, now, utc(2026, 6, 9, 6)) == utc(2026, 6, 10, 12)
    assert due_slot(schedule, utc(2026, 6, 10, 11, 59), utc(2026, 6, 10, 6)) is None


# -- properties ----------------------------------------------------------------------------------

EXPRESSIONS = st.sampled_from(
    [
        "0 0 2 * * *",
        "0 */15 * * * *",
        "*/20 * * * * *",
        "0 30 9 * * 1-5",
        "0 0 */6 * * *",
        "0 0 0 1 * *",
        "0 15 1,13 * * *",
    ]
)
ZONES = st.sampled_from(["UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe"])
MOMENTS = st.datetimes(
    min_value=datetime(2024, 1, 1), max_value=datetime(2030, 12, 31), timezones=st.just(UTC)
)


@settings(max_examples=300, deadline=None)
@given(expression=EXPRESSIONS, zone=ZONES, moment=MOMENTS)
def test_previous_and_next_bracket_the_moment(expression: str, zone: str, moment: datetime) -> None:
    schedule = Schedule.parse(cron=expression, time_zone=zone)
    previous = schedule.previous_at_or_before(moment)
    following = schedule.next_after(moment)
    assert previous is not None
    assert previous <= moment < following
    assert previous.tzinfo is UTC
    assert following.tzinfo is UTC
    # No slot lies between the previous one and the moment.
    assert schedule.next_after(previous) > moment
    # The next slot's previous slot is itself.
    assert schedule.previous_at_or_before(following) == following


@settings(max_examples=200, deadline=None)
@given(minutes=st.integers(1, 7 * 24 * 60), moment=MOMENTS)
def test_interval_slots_are_evenly_spaced(minutes: int, moment: datetime) -> None:
    schedule = Schedule.parse(interval_minutes=minutes)
    previous = schedule.previous_at_or_before(moment)
    assert previous is not None
    assert previous <= moment < schedule.next_after(moment) == previous + timedelta(minutes=minutes)


@settings(max_examples=200, deadline=None)
@given(
    expression=EXPRESSIONS,
    zone=ZONES,
    last=MOMENTS,
    ticks=st.lists(st.integers(1, 3 * 24 * 3600), min_size=1, max_size=20),
)
def test_a_slot_fires_at_most_once_however_the_ticks_fall(
    expression: str, zone: str, last: datetime, ticks: list[int]
) -> None:
    schedule = Schedule.parse(cron=expression, time_zone=zone)
    fired: list[datetime] = []
    now, recorded = last, last
    for step in ticks:
        now += timedelta(seconds=step)
        slot = due_slot(schedule, now, recorded)
        if slot is not None:
            assert recorded < slot <= now
            fired.append(slot)
            recorded = slot
    assert fired == sorted(set(fired))
