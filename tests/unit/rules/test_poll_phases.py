"""The version space of publish phases (shared/rules/poll_phases.py): which phases a copy's
polls allow, the end candidates under each, and the next poll's bounds."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from shared.rules import poll_phases
from shared.rules.poll_phases import Phase, end_ticks, phases, plan, watch_time, window_of
from shared.rules.poll_rhythm import Arc, fit

P = 600.0
SLACK = poll_phases.tolerance(P)
STEP = P / poll_phases.GRID_POINTS
LAG = 100.0  # seconds: the default lag target


def published(length: float, phase: float, now: float, start: float = 0.0) -> float:
    """floor(percent) at the last publish (start + phase + k*P, k >= 0) at or before `now`."""
    k = math.floor((now - start - phase) / P)
    if k < 0:
        return 0.0
    return float(min(99, math.floor(100 * (phase + k * P) / length)))


@pytest.mark.parametrize(
    ("seen", "inside"),
    [
        # 10 % a publish: a change between polls at 150 and 250 puts every publish in (150, 250]
        (((150.0, 0.0), (250.0, 10.0)), (150.0, 250.0)),
        (((150.0, 0.0), (250.0, 10.0), (1380.0, 20.0), (1430.0, 30.0)), (180.0, 230.0)),
    ],
)
def test_a_change_between_polls_brackets_the_phase(
    seen: tuple[tuple[float, float], ...], inside: tuple[float, float]
) -> None:
    found = phases(seen, (), P, copy_started=-1000.0)
    low, high = inside
    assert found
    assert all(low - SLACK <= p.offset % P <= high + SLACK for p in found)
    # the grid phase nearest every phase in the bracket is kept
    assert {round(p.offset) for p in found} >= {
        round(o) for o in (STEP * i for i in range(poll_phases.GRID_POINTS)) if low < o <= high
    }


def test_the_true_phase_always_survives() -> None:
    for phase in (5.0, 200.0, 599.0):
        for length in (3000.0, 30000.0, 200000.0):  # polls before the end only
            times = (60.0, 700.0, 1410.0, 2900.0, 9000.0)
            seen = tuple((t, published(length, phase, t)) for t in times if t < length)
            offsets = [p.offset for p in phases(seen, (), P, copy_started=0.0)]
            assert any(min(abs(o - phase), P - abs(o - phase)) <= STEP / 2 for o in offsets)


def test_a_window_keeps_only_the_phases_inside_it() -> None:
    seen = ((60.0, 0.0), (700.0, 1.0))
    window = Arc(100.0, 160.0, P)
    found = phases(seen, (), P, copy_started=0.0, window=window)
    assert found
    assert all(100.0 <= p.offset <= 160.0 for p in found)


def test_observations_that_fit_no_rate_leave_no_phase() -> None:
    # 50 % then 10 %: no steady rate and no publish phase explains it
    assert phases(((60.0, 50.0), (700.0, 10.0)), (), P, copy_started=0.0) == []


@pytest.mark.parametrize(
    ("offsets", "expected"),
    [
        ([STEP * i for i in range(poll_phases.GRID_POINTS)], None),  # all: nothing known
        ([300.0, 315.0], (300.0 - SLACK, 315.0 + SLACK)),
        ([585.0, 0.0, 15.0], (585.0 - SLACK, 615.0 + SLACK)),  # across the interval's end
    ],
)
def test_window_of(offsets: list[float], expected: tuple[float, float] | None) -> None:
    rates = fit(((60.0, 1.0),), None, P, 0.0)
    assert rates is not None
    window = window_of([Phase(o, rates, None) for o in offsets], P)
    if expected is None:
        assert window is None
    else:
        assert window is not None
        assert (window.lo, window.hi) == pytest.approx(expected)


def test_the_ticks_a_poll_saw_running_are_not_end_candidates() -> None:
    rates = fit(((60.0, 0.0), (700.0, 40.0)), Arc(100.0 - SLACK, 100.0 + SLACK, P), P, 0.0)
    assert rates is not None
    phase = Phase(100.0, rates, None)
    first, _ = end_ticks(phase, P, last_poll=1000.0)
    later, _ = end_ticks(phase, P, last_poll=100.0 + 5 * P + SLACK + 1)
    assert later >= 6 > first or later == max(first, 6)
    assert 100.0 + later * P > 100.0 + 5 * P  # publish 5 was seen running


def test_one_watch_poll_covers_the_phases_close_behind_the_earliest() -> None:
    rates = fit(((60.0, 0.0), (1300.0, 60.0)), None, P, 0.0)
    assert rates is not None
    found = [Phase(o, rates, None) for o in (0.0, 30.0, 90.0, 300.0)]
    ends = [p.offset + end_ticks(p, P, 1300.0)[0] * P for p in found]
    watch = watch_time(found, P, 1300.0, LAG)
    close = [e for e in ends if e <= min(ends) + LAG]
    assert watch >= max(close) + SLACK
    assert watch <= min(ends) + LAG + SLACK + 3


@hypothesis_settings(max_examples=100, deadline=None)
@given(
    length=st.floats(min_value=1800.0, max_value=5 * 86400.0),
    phase=st.floats(min_value=0.0, max_value=P - 1),
    times=st.lists(st.floats(min_value=60.0, max_value=86400.0), min_size=1, max_size=8),
    gap=st.floats(min_value=1.0, max_value=300.0),
)
def test_the_next_poll_stays_within_its_bounds(
    length: float, phase: float, times: list[float], gap: float
) -> None:
    seen = tuple((t, published(length, phase, t)) for t in sorted(set(times)))
    now = seen[-1][0]
    if seen[-1][1] >= 99:
        return
    found = phases(seen, (), P, copy_started=0.0)
    assert found  # the true phase always fits
    latest = now + 172800.0
    choice = plan(found, now, P, earliest_poll=now + gap, latest_poll=latest, lag_target=LAG)
    assert now + gap <= choice.at <= latest
    assert choice.at <= max(watch_time(found, P, now, LAG), now + gap)
