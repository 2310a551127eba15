"""shared/poll_schedule.py: folding observations in and choosing the next poll delay.

Property tests use hypothesis when it is installed; the same invariants are also checked over a
seeded table of random histories so they always run.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest

from shared.model.message import PollState
from shared.rules.poll_schedule import PollPlan, expected_finish, next_poll, observe
from shared.settings import PollSettings

try:
    from hypothesis import given
    from hypothesis import settings as hypothesis_settings
    from hypothesis import strategies as st
except ImportError:  # not in requirements-dev.txt; the seeded table below covers the invariants
    HAVE_HYPOTHESIS = False
else:
    HAVE_HYPOTHESIS = True

T0 = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)
DEFAULT = PollSettings()  # initial 60, min 30, max 900, granularity 600


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def history(
    points: Sequence[tuple[float, float | None]], start: PollState | None = None
) -> PollState:
    """Fold (seconds after T0, percent) observations into a poll state."""
    state = start or PollState()
    for seconds, percent in points:
        state = observe(state, at(seconds), percent)
    return state


# -- observe --------------------------------------------------------------------------------


def test_first_observation() -> None:
    state = observe(PollState(), at(0), 0.0)
    assert state.count == 1
    assert state.started_at == at(0)
    assert state.last_polled_at == at(0)
    assert (state.first_percent, state.first_percent_at) == (0.0, at(0))
    assert (state.last_percent, state.last_progress_at) == (0.0, at(0))


def test_observe_keeps_first_values_and_moves_progress_only_on_change() -> None:
    state = history([(0, 10.0), (60, 10.0), (120, 30.0), (180, 30.0)])
    assert state.count == 4
    assert state.started_at == at(0)
    assert state.last_polled_at == at(180)
    assert (state.first_percent, state.first_percent_at) == (10.0, at(0))
    # unchanged percentages do not count as progress
    assert (state.last_percent, state.last_progress_at) == (30.0, at(120))


def test_observe_without_percent() -> None:
    state = history([(0, None), (60, None)])
    assert state.count == 2
    assert state.started_at == at(0)
    assert state.last_polled_at == at(60)
    assert state.first_percent is None
    assert state.last_percent is None
    assert state.last_progress_at is None
    later = observe(state, at(120), 5.0)
    assert (later.first_percent, later.first_percent_at) == (5.0, at(120))


def test_observe_does_not_mutate() -> None:
    state = PollState()
    observe(state, at(0), 1.0)
    assert state == PollState()


# -- expected_finish ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("points", "expected"),
    [
        ([], None),
        ([(0, None)], None),
        ([(0, 0.0)], None),  # one value: no movement yet
        ([(0, 20.0), (600, 20.0), (1200, 20.0)], None),  # no movement
        ([(0, 0.0), (600, 100.0)], None),  # 0 -> 100: done, nothing to estimate
        ([(0, 50.0), (600, 40.0)], None),  # backwards
        ([(0, 0.0), (600, 20.0)], at(3000)),  # 20 % per 600 s, 80 % to go
        ([(0, 10.0), (300, 10.0), (900, 40.0)], at(2700)),  # measured from the first value
        ([(0, 0.0), (600, 50.0), (1200, 50.0)], at(1200)),  # last change at 600 s
        ([(0, 0.0), (600, 99.0)], at(600 + 600 / 99)),
    ],
)
def test_expected_finish(
    points: list[tuple[float, float | None]], expected: datetime | None
) -> None:
    finish = expected_finish(history(points))
    if expected is None:
        assert finish is None
    else:
        assert finish is not None
        assert abs((finish - expected).total_seconds()) < 1e-6


# -- next_poll: backoff without a rate --------------------------------------------------------


@pytest.mark.parametrize(
    ("count", "settings", "delay", "reason"),
    [
        (0, DEFAULT, 60.0, "initial"),
        (1, DEFAULT, 60.0, "initial"),
        (2, DEFAULT, 120.0, "backoff"),
        (3, DEFAULT, 240.0, "backoff"),
        (4, DEFAULT, 480.0, "backoff"),
        # bounded by the progress granularity (600), below max (900)
        (5, DEFAULT, 600.0, "backoff"),
        (40, DEFAULT, 600.0, "backoff"),
        # a copy runs up to 14 days: at 600 s that is ~2000 polls
        (2016, DEFAULT, 600.0, "backoff"),
        (10**6, DEFAULT, 600.0, "backoff"),
        # bounded by max when max < granularity
        (5, PollSettings(max_seconds=300), 300.0, "backoff"),
        (3, PollSettings(max_seconds=300), 240.0, "backoff"),
        # granularity below max
        (4, PollSettings(progress_granularity_seconds=200), 200.0, "backoff"),
        # min floor lifts a tiny initial
        (1, PollSettings(initial_seconds=1, min_seconds=30), 30.0, "initial"),
        (2, PollSettings(initial_seconds=1, min_seconds=30), 30.0, "backoff"),
        (7, PollSettings(initial_seconds=1, min_seconds=30), 64.0, "backoff"),
        (1, PollSettings(initial_seconds=0, min_seconds=0), 0.0, "initial"),
        # granularity below min is lifted to min
        (3, PollSettings(progress_granularity_seconds=10, min_seconds=30), 30.0, "backoff"),
        # initial above the bound is capped
        (1, PollSettings(initial_seconds=5000), 600.0, "initial"),
        # min == max pins every delay
        (1, PollSettings(min_seconds=45, max_seconds=45), 45.0, "initial"),
        (9, PollSettings(min_seconds=45, max_seconds=45), 45.0, "backoff"),
    ],
)
def test_backoff(count: int, settings: PollSettings, delay: float, reason: str) -> None:
    plan = next_poll(PollState(count=count), at(0), settings)
    assert plan == PollPlan(delay, None, reason)


def test_first_delay_is_initial_after_first_observation() -> None:
    state = observe(PollState(), at(0), 0.0)
    assert next_poll(state, at(0), DEFAULT) == PollPlan(60.0, None, "initial")


def test_no_movement_means_no_expected_finish() -> None:
    state = history([(0, 30.0), (60, 30.0), (180, 30.0), (420, 30.0)])
    plan = next_poll(state, at(420), DEFAULT)
    assert plan == PollPlan(480.0, None, "backoff")


def test_zero_to_hundred_jump_has_no_rate() -> None:
    state = history([(0, 0.0), (60, 0.0), (600, 100.0)])
    plan = next_poll(state, at(600), DEFAULT)
    assert plan.expected_finish is None
    assert plan.delay_seconds == 240.0


# -- next_poll: aiming at the expected finish ---------------------------------------------------


@pytest.mark.parametrize(
    ("points", "now", "delay", "reason"),
    [
        # 80 % in 600 s; 20 % left = 150 s, below the bound (600 s at count 5)
        (
            [(0, 0.0), (60, 0.0), (180, 0.0), (420, 0.0), (600, 80.0)],
            600,
            150.0,
            "aiming at the expected finish",
        ),
        # same history, 100 s later: 50 s left
        (
            [(0, 0.0), (60, 0.0), (180, 0.0), (420, 0.0), (600, 80.0)],
            700,
            50.0,
            "aiming at the expected finish",
        ),
        # 99 % after 600 s: ~6 s left, never sooner than min (30 s)
        (
            [(0, 0.0), (60, 0.0), (180, 0.0), (420, 0.0), (600, 99.0)],
            600,
            30.0,
            "expected finish is near",
        ),
        # expected finish already passed: still min
        (
            [(0, 0.0), (60, 0.0), (180, 0.0), (420, 0.0), (600, 80.0)],
            5000,
            30.0,
            "expected finish is near",
        ),
        # slow: 10 % in 600 s, 5400 s left, beyond the 600 s bound
        (
            [(0, 0.0), (60, 0.0), (180, 0.0), (420, 0.0), (600, 10.0)],
            600,
            600.0,
            "expected finish is beyond the backoff bound",
        ),
        # early (count 2, bound 120): the estimate (2400 s) is beyond the bound
        (
            [(0, 0.0), (600, 20.0)],
            600,
            120.0,
            "expected finish is beyond the backoff bound",
        ),
    ],
)
def test_rate_based(
    points: list[tuple[float, float]], now: float, delay: float, reason: str
) -> None:
    state = history(points)
    plan = next_poll(state, at(now), DEFAULT)
    assert plan.reason == reason
    assert plan.delay_seconds == pytest.approx(delay)
    assert plan.expected_finish == expected_finish(state)
    assert plan.expected_finish is not None


def test_expected_finish_reported_even_when_capped() -> None:
    state = history([(0, 0.0), (600, 20.0)])
    plan = next_poll(state, at(600), DEFAULT)
    assert plan.expected_finish == at(3000)


# -- invariants -------------------------------------------------------------------------------


def reference_backoff(initial: float, count: int) -> float:
    """initial * 2**(count-1), exactly, saturating at infinity."""
    try:
        return math.ldexp(initial, max(count - 1, 0))
    except OverflowError:
        return math.inf


def check_invariants(settings: PollSettings, state: PollState, now: datetime) -> None:
    plan = next_poll(state, now, settings)
    ceiling = min(
        settings.max_seconds, max(settings.progress_granularity_seconds, settings.min_seconds)
    )
    floor = min(settings.min_seconds, ceiling)
    assert math.isfinite(plan.delay_seconds)
    # never below min (when min <= max, which settings validation guarantees)
    assert plan.delay_seconds >= floor - 1e-9
    assert plan.delay_seconds >= min(settings.min_seconds, settings.max_seconds) - 1e-9
    # never above the bound: max, and the progress granularity (or min if that is larger)
    assert plan.delay_seconds <= ceiling + 1e-9
    assert plan.delay_seconds <= settings.max_seconds + 1e-9
    backoff_bound = max(
        min(reference_backoff(settings.initial_seconds, state.count), ceiling), floor
    )
    assert plan.delay_seconds <= backoff_bound + 1e-9
    finish = expected_finish(state)
    assert plan.expected_finish == finish
    if finish is None:
        assert plan.delay_seconds == pytest.approx(backoff_bound)
    else:
        until = (finish - now).total_seconds()
        if floor < until < backoff_bound:
            assert plan.delay_seconds == pytest.approx(until)


def random_case(seed: int) -> tuple[PollSettings, PollState, datetime]:
    rng = random.Random(seed)
    min_seconds = rng.choice([0.0, 1.0, 30.0, rng.uniform(0, 1000)])
    max_seconds = rng.choice([min_seconds, 900.0, 604800.0, min_seconds + rng.uniform(0.01, 5000)])
    max_seconds = max(max_seconds, min_seconds, 0.01)
    settings = PollSettings(
        initial_seconds=rng.choice([0.0, 1.0, 60.0, rng.uniform(0, 5000)]),
        min_seconds=min_seconds,
        max_seconds=max_seconds,
        progress_granularity_seconds=rng.choice([0.0, 600.0, rng.uniform(0, 3600)]),
    )
    state = PollState(count=rng.choice([0, 0, 0, rng.randint(0, 3000)]))
    seconds, percent = 0.0, rng.choice([0.0, rng.uniform(0, 100)])
    for _ in range(rng.randint(0, 12)):
        seconds += rng.uniform(0, 1200)
        step = rng.random()
        if step < 0.15:
            observed: float | None = None
        elif step < 0.25:
            percent = 100.0  # the 0 -> 100 jump
            observed = percent
        else:
            percent = min(100.0, percent + rng.choice([0.0, 0.0, rng.uniform(0, 40)]))
            observed = round(percent, rng.choice([0, 2]))
        state = observe(state, at(seconds), observed)
    now = at(seconds + rng.choice([0.0, rng.uniform(0, 5000)]))
    return settings, state, now


@pytest.mark.parametrize("seed", range(300))
def test_invariants_over_seeded_histories(seed: int) -> None:
    check_invariants(*random_case(seed))


if HAVE_HYPOTHESIS:

    @st.composite
    def _cases(draw: st.DrawFn) -> tuple[PollSettings, PollState, datetime]:
        seconds = st.floats(min_value=0, max_value=100_000, allow_nan=False)
        min_seconds = draw(seconds)
        max_seconds = draw(st.floats(min_value=max(min_seconds, 0.01), max_value=604800))
        settings = PollSettings(
            initial_seconds=draw(seconds),
            min_seconds=min_seconds,
            max_seconds=max_seconds,
            progress_granularity_seconds=draw(seconds),
        )
        state = PollState(count=draw(st.integers(min_value=0, max_value=100_000)))
        elapsed = 0.0
        observations = draw(
            st.lists(
                st.tuples(
                    st.floats(min_value=0, max_value=3600),
                    st.none() | st.floats(min_value=0, max_value=100),
                ),
                max_size=15,
            )
        )
        for gap, percent in observations:
            elapsed += gap
            state = observe(state, at(elapsed), percent)
        now = at(elapsed + draw(st.floats(min_value=0, max_value=100_000)))
        return settings, state, now

    @hypothesis_settings(max_examples=300, deadline=None)
    @given(_cases())
    def test_invariants_property(case: tuple[PollSettings, PollState, datetime]) -> None:
        check_invariants(*case)

else:

    @pytest.mark.skip(reason="hypothesis is not installed in the venv")
    def test_invariants_property() -> None:
        pass
