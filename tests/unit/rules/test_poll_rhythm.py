"""The learned poll schedule (shared/rules/poll_rhythm.py + poll_schedule.learned_plan).

A tiny pure model of Azure's publishing stands in for the service: publishes every `interval`
seconds at a phase the schedule is not told, each showing floor(percent) of a steady transfer;
the copy shows succeeded at the first publish after its transfer ends. Tables pin the pieces
(publish window, rate polygon); properties drive whole copies through `observe` + `next_poll`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from pydantic import ValidationError

from shared.model.message import JobMessage, PollState
from shared.rules import poll_phases, poll_rhythm
from shared.rules.poll_rhythm import Arc, fit, keep, narrow
from shared.rules.poll_schedule import PollPlan, backoff_plan, carry, next_poll, observe
from shared.settings import PollSettings

T0 = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
P = 600.0
SETTINGS = PollSettings()  # initial 60, min 30, granularity 600, learned max 1 day


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


# -- the publish window ---------------------------------------------------------------------

SLACK = poll_rhythm.SLACK_FRACTION * P


@pytest.mark.parametrize(
    ("arc", "bracket", "expected"),
    [
        # the first bracket shorter than an interval becomes the window (widened by the slack)
        (None, (100.0, 300.0), (100.0 - SLACK, 300.0 + SLACK)),
        # a bracket of an interval or more says nothing
        (None, (100.0, 700.0), None),
        # a later bracket, whole intervals away, narrows the window
        ((100.0, 300.0), (1400.0, 1600.0), (200.0 - SLACK, 300.0)),
        ((100.0, 300.0), (1450.0, 1650.0), (250.0 - SLACK, 300.0)),
        ((100.0, 300.0), (1250.0, 1340.0), (100.0, 140.0 + SLACK)),
        # one that contains the window changes nothing
        ((100.0, 300.0), (650.0, 950.0), (100.0, 300.0)),
        # brackets that do not meet: no steady rhythm
        ((100.0, 200.0), (1500.0, 1550.0), False),
    ],
)
def test_narrow(
    arc: tuple[float, float] | None,
    bracket: tuple[float, float],
    expected: tuple[float, float] | bool | None,
) -> None:
    before = Arc(*arc, P) if arc else None
    after = narrow(before, *bracket, P)
    if expected is False:
        assert after is False
    elif expected is None:
        assert after is None
    else:
        assert isinstance(after, Arc)
        assert (after.lo, after.hi) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("t", "expected"),
    [
        (350.0, (200.0, 300.0)),  # after this interval's window: its publish happened
        (300.0, (200.0, 300.0)),  # at the window's end
        (250.0, (-400.0, 250.0)),  # inside: this publish or the previous one
        (150.0, (-400.0, -300.0)),  # before the window: the previous one
        (1350.0, (1400.0 - 600, 1500.0 - 600)),
    ],
)
def test_last_publish_range(t: float, expected: tuple[float, float]) -> None:
    assert Arc(200.0, 300.0, P).last_publish_range(t) == pytest.approx(expected)


def test_keep_is_bounded_and_keeps_the_first_and_the_latest() -> None:
    seen: tuple[tuple[float, float], ...] = ()
    for i in range(100):
        seen = keep(seen, (float(i), float(i)))
    assert len(seen) == poll_rhythm.MAX_SEEN
    assert seen[0] == (0.0, 0.0)
    assert seen[-1] == (99.0, 99.0)


def test_keep_drops_the_middle_of_a_run_of_equal_percentages() -> None:
    seen: tuple[tuple[float, float], ...] = ((0.0, 1.0), (600.0, 5.0))
    for t in (700.0, 800.0, 900.0, 1000.0):
        seen = keep(seen, (t, 9.0))
    # the run's first poll bounds the rate from below, its last from above; nothing between
    assert seen == ((0.0, 1.0), (600.0, 5.0), (700.0, 9.0), (1000.0, 9.0))


# -- the rate polygon -----------------------------------------------------------------------


def test_fit_brackets_a_steady_rate() -> None:
    # 1 % per 60 s, started at 0, publishes exactly at multiples of 600 (window known)
    arc = Arc(590.0, 600.0, P)
    seen = [(610.0, 10.0), (1210.0, 20.0), (1810.0, 30.0)]
    fitted = fit(seen, arc, P, copy_started=0.0)
    assert fitted is not None
    low, high = fitted.end_range()
    assert low <= 6000.0 <= high
    assert high - low < 1200.0


def test_fit_refuses_a_rate_that_changes() -> None:
    arc = Arc(590.0, 600.0, P)
    # 10 % per publish, then 1 % per publish: no steady rate explains both
    seen = [(610.0, 10.0), (1210.0, 20.0), (1810.0, 30.0), (4210.0, 34.0)]
    assert fit(seen, arc, P, copy_started=0.0) is None


def test_fit_bounds_the_end_by_when_the_copy_started() -> None:
    # 10 % by 600 s, started between -6 s and the first poll: at most ~6,060 s in all
    fitted = fit([(0.0, 0.0), (600.0, 10.0)], None, P, copy_started=-6.0)
    assert fitted is not None
    low, high = fitted.end_range()
    assert low < high <= 6060.0 + 1e-6
    # not knowing the start, the end is unbounded (a slower copy that started long before)
    unbounded = fit([(0.0, 0.0), (600.0, 10.0)], None, P, copy_started=None)
    assert unbounded is not None
    assert unbounded.end_range()[1] > high


# -- a pure model of the service ------------------------------------------------------------


@dataclass(frozen=True)
class Copy:
    """Publishes at start + phase + k*P (k >= 0); `jitter(k)` moves publish k."""

    length: float  # transfer seconds of the slowest disk
    phase: float  # in (0, P]
    start: float = 6.0  # replication starts when the copy LRO ends, 6 s after the request
    jitter: Callable[[int], float] | None = None

    def publish(self, k: int) -> float:
        moved = self.jitter(k) if self.jitter else 0.0
        return self.start + self.phase + k * P + moved

    def last_publish(self, now: float) -> float | None:
        k = math.floor((now - self.start - self.phase) / P) + 1
        while k > 0 and self.publish(k - 1) > now:
            k -= 1
        while self.publish(k) <= now:
            k += 1
        return self.publish(k - 1) if k > 0 else None

    def done_at(self) -> float:
        k = 0
        while self.publish(k) < self.start + self.length:
            k += 1
        return self.publish(k)

    def percent(self, now: float) -> float | None:
        """None once succeeded, else the slowest disk's published floor percentage."""
        if now >= self.done_at():
            return None
        last = self.last_publish(now)
        if last is None:
            return 0.0
        return float(min(99, math.floor(100 * (last - self.start) / self.length)))


def drive(
    copy: Copy, settings: PollSettings = SETTINGS, limit: int = 5000
) -> tuple[list[float], list[PollPlan], PollState]:
    """Poll the model as the poll stage does; the poll times, the plans, the last state."""
    now, state = 60.0, PollState()
    polls: list[float] = []
    plans: list[PollPlan] = []
    while len(polls) < limit:
        polls.append(now)
        value = copy.percent(now)
        if value is None:
            return polls, plans, state
        state = observe(state, at(now), value, slowest=value, interval=P)
        plan = next_poll(state, at(now), settings, copy_started=at(0))
        state = carry(state, plan)
        plans.append(plan)
        now += plan.delay_seconds
    raise AssertionError(f"{copy} was never seen done in {limit} polls")


lengths = st.floats(min_value=60.0, max_value=5 * 86400.0)
phases = st.floats(min_value=1.0, max_value=P)


@hypothesis_settings(max_examples=150, deadline=None)
@given(length=lengths, phase=phases)
def test_every_delay_is_within_the_settings(length: float, phase: float) -> None:
    _, plans, _ = drive(Copy(length, phase))
    for plan in plans:
        assert SETTINGS.min_seconds <= plan.delay_seconds <= SETTINGS.learned_max_seconds


@hypothesis_settings(max_examples=150, deadline=None)
@given(length=lengths, phase=phases)
def test_a_steady_copy_is_seen_done_before_the_next_publish(length: float, phase: float) -> None:
    copy = Copy(length, phase)
    polls, _, state = drive(copy)
    assert not state.rhythm_broken
    assert 0 <= polls[-1] - copy.done_at() < P  # within one publish of the end
    assert len(polls) < 40  # the learned schedule skips publishes (today's: ~length / 600)


@hypothesis_settings(max_examples=60, deadline=None)
@given(
    length=lengths,
    phase=phases,
    minimum=st.floats(min_value=1.0, max_value=300.0),
    learned_max=st.floats(min_value=300.0, max_value=7 * 86400.0),
)
def test_other_settings_bound_every_delay(
    length: float, phase: float, minimum: float, learned_max: float
) -> None:
    settings = PollSettings(min_seconds=minimum, learned_max_seconds=learned_max)
    _, plans, _ = drive(Copy(length, phase), settings)
    for plan in plans:
        assert minimum <= plan.delay_seconds <= max(learned_max, minimum)


@pytest.mark.parametrize(
    ("length", "most_reads"),
    [
        (3600.0, 12),
        (12 * 3600.0, 12),
        # one slow disk (0.23 % a publish) says little of when publishes fall: the phase is
        # learned near the end, at the cost of a few more reads (benchmarks/bench_polling.py)
        (3 * 86400.0, 20),
    ],
)
def test_a_long_copy_takes_few_reads(length: float, most_reads: int) -> None:
    for phase in (1.0, 250.0, 599.0):
        copy = Copy(length, phase)
        polls, plans, _ = drive(copy)
        assert len(polls) <= most_reads
        assert any(p.delay_seconds > 2 * P for p in plans)  # publishes were skipped


@hypothesis_settings(max_examples=120, deadline=None)
@given(
    length=st.floats(min_value=2 * 3600.0, max_value=5 * 86400.0),
    phase=phases,
    lag_target=st.sampled_from([SETTINGS.lag_target_seconds, 30.0, 300.0]),
)
def test_a_long_copy_is_seen_done_within_the_lag_target(
    length: float, phase: float, lag_target: float
) -> None:
    # Once progress has moved, the end is seen within the lag target of the publish that
    # shows it (plus the phase tolerance and the couple of seconds that make sure of it).
    copy = Copy(length, phase)
    polls, _, state = drive(copy, PollSettings(lag_target_seconds=lag_target))
    assert not state.rhythm_broken
    assert 0 <= polls[-1] - copy.done_at() <= lag_target + poll_phases.tolerance(P) + 3.0


def test_a_longer_lag_target_costs_fewer_reads() -> None:
    copy = Copy(3 * 86400.0, 250.0)
    quick, _, _ = drive(copy, PollSettings(lag_target_seconds=30.0))
    slow, _, _ = drive(copy, PollSettings(lag_target_seconds=500.0))
    assert len(slow) < len(quick)


# -- falling back -----------------------------------------------------------------------------


def test_publishes_off_the_rhythm_fall_back_to_the_backoff() -> None:
    state = PollState()
    # a publish in (60, 180], then one in (1500, 1560]: 300-360 s off the first one's phase
    points = [(0, 0.0), (60, 0.0), (180, 5.0), (1500, 5.0), (1560, 8.0)]
    for t, value in points:
        state = observe(state, at(t), value, slowest=value, interval=P)
        if t == 180:
            assert (state.publish_after, state.publish_by) == (60 - SLACK, 180 + SLACK)
    assert state.rhythm_broken
    plan = next_poll(state, at(1560), SETTINGS, copy_started=at(-6))
    assert plan == backoff_plan(state, at(1560), SETTINGS)
    later = observe(state, at(1800), 9.0, slowest=9.0, interval=P)
    assert later.rhythm_broken  # for good
    assert later.seen == state.seen


def test_a_change_that_was_sure_and_did_not_come_breaks_the_rhythm() -> None:
    state = PollState()
    for t, value in [(0, 0.0), (60, 0.0), (180, 10.0), (600, 20.0)]:
        state = observe(state, at(t), value, slowest=value, interval=P)
    state = state.model_copy(update={"sure_change": (648.0, 792.0)})
    state = observe(state, at(800), 20.0, slowest=20.0, interval=P)
    assert state.rhythm_broken


@hypothesis_settings(max_examples=80, deadline=None)
@given(
    length=lengths,
    phase=phases,
    moves=st.lists(st.floats(min_value=-0.45 * P, max_value=0.45 * P), min_size=1, max_size=8),
)
def test_jittery_publishes_are_still_seen_done(
    length: float, phase: float, moves: list[float]
) -> None:
    copy = Copy(length, phase, jitter=lambda k: moves[k % len(moves)])
    polls, plans, _ = drive(copy)
    assert polls[-1] >= copy.done_at()
    for plan in plans:
        assert SETTINGS.min_seconds <= plan.delay_seconds <= SETTINGS.learned_max_seconds


def test_a_rate_that_changes_falls_back_to_the_backoff() -> None:
    state = PollState()
    # 10 % a publish for an hour, then 1 % a publish
    points = [(60, 0.0), (660, 10.0), (1260, 20.0), (1860, 30.0), (2460, 40.0), (8460, 50.0)]
    for t, value in points:
        state = observe(state, at(t), value, slowest=value, interval=P)
    plan = next_poll(state, at(8460), SETTINGS, copy_started=at(0))
    backoff = backoff_plan(state, at(8460), SETTINGS)
    assert (plan.delay_seconds, plan.reason) == (backoff.delay_seconds, backoff.reason)
    assert plan.rhythm_broken  # and it stays on the backoff from now on
    assert carry(state, plan).rhythm_broken


def test_a_percentage_that_goes_back_breaks_the_rhythm() -> None:
    state = PollState()
    for t, value in [(60, 10.0), (660, 20.0), (1260, 15.0)]:
        state = observe(state, at(t), value, slowest=value, interval=P)
    assert state.rhythm_broken
    assert next_poll(state, at(1260), SETTINGS) == backoff_plan(state, at(1260), SETTINGS)


# -- backward compatibility and size ----------------------------------------------------------


def test_a_history_without_observations_is_todays_schedule() -> None:
    state = PollState()
    for t, value in [(0, 0.0), (60, 0.0), (180, 10.0)]:
        state = observe(state, at(t), value)  # no slowest / interval: nothing learned
    assert state.seen == ()
    assert next_poll(state, at(180), SETTINGS) == backoff_plan(state, at(180), SETTINGS)


OLD_MESSAGE = {
    "version": 1,
    "jobId": "0" * 32,
    "stage": "poll",
    "sourceRestorePointId": "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/"
    "rg/providers/Microsoft.Compute/restorePointCollections/rpc/restorePoints/rp",
    "targetRegion": "westus",
    "targetResourceGroup": "rg",
    "targetCollectionName": "rpc",
    "targetRestorePointName": "rp",
    "correlationId": "c",
    "trigger": "http",
    "requestedAt": "2026-03-01T12:00:00+00:00",
    "poll": {
        "count": 3,
        "startedAt": "2026-03-01T12:01:00+00:00",
        "lastPolledAt": "2026-03-01T12:05:00+00:00",
        "lastPercent": 10.0,
    },
}


def test_a_message_from_before_the_learned_schedule_still_reads() -> None:
    message = JobMessage.model_validate(OLD_MESSAGE)
    assert message.poll.seen == ()
    assert not message.poll.rhythm_broken
    now = at(300)
    assert next_poll(message.poll, now, SETTINGS) == backoff_plan(message.poll, now, SETTINGS)


def test_the_observations_in_the_message_stay_small() -> None:
    _, _, state = drive(Copy(14 * 86400.0, 100.0), PollSettings(learned_max_seconds=600.0))
    assert len(state.seen) <= poll_rhythm.MAX_SEEN
    assert len(state.fast_seen) <= poll_rhythm.MAX_SEEN
    assert len(json.dumps(state.model_dump(mode="json", by_alias=True))) < 1500


@pytest.mark.parametrize(
    "poll",
    [
        {"seen": [[0.0, float("nan")]]},
        {"seen": [[float("inf"), 1.0]]},
        {"seen": [[float(i), 1.0] for i in range(17)]},  # more than any schedule keeps
        {"publishAfter": float("nan"), "publishBy": 10.0},
        {"sureChange": [1.0, 2.0, 3.0]},
    ],
)
def test_a_poll_state_that_no_schedule_wrote_is_refused(poll: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        JobMessage.model_validate({**OLD_MESSAGE, "poll": poll})
