"""Pure: which publish phases a copy's polls allow, and the next poll that learns most about
when the copy ends.

Azure republishes progress every `interval` seconds at a phase no client is told. Rather than
guess it, every phase on a grid over one interval is tried (a *version space*): under phase
φ the publishes are at φ + k*interval (give or take `tolerance`), so each poll saw the publish
before it, and the slowest (and the fastest running) disk's percentages must fit one steady
rate from that publish's time (`poll_rhythm.fit` with a window of 2*tolerance). Phases with no
fit drop out; a poll that saw a change therefore brackets the phase, and so does a poll that
saw *no* change where the rate says one was due.

Under each surviving phase the slowest disk's rate polygon bounds when its transfer ends, so
the copy's last publish is one of a few ticks: the (phase, tick) pairs are the *end candidates*.
The schedule (`plan`) must see the earliest of them within `lag_target` seconds, and between
now and then picks the poll whose outcome is expected to leave the fewest end candidates — the
end is then watched with few polls. All of this is a function of the observations in the poll
state: nothing is stored but them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from shared.rules.poll_rhythm import Arc, Fit, Point, fit

GRID_POINTS = 40  # phases tried: one every interval/40 (15 s for Azure's 10 minutes)
# Above half a grid step: the phase on the grid nearest the true one always fits.
TOLERANCE_FRACTION = 0.02
# The earliest possible end is seen within this many seconds (plus the tolerance).
LAG_TARGET_SECONDS = 100.0
_JUST_AFTER_SECONDS = 2.0  # past the tolerance: the publish has surely happened
_MAX_OUTCOMES = 40  # values a poll can show under one phase, beyond which a probe is not scored


@dataclass(frozen=True)
class Phase:
    """One publish phase the observations allow, with the rates they allow under it."""

    offset: float  # publishes at offset + k*interval (seconds on the poll state's axis)
    slow: Fit
    fast: Fit | None

    def arc(self, interval: float, tolerance: float) -> Arc:
        return Arc(self.offset - tolerance, self.offset + tolerance, interval)


def tolerance(interval: float) -> float:
    return TOLERANCE_FRACTION * interval


def phases(
    seen: Sequence[Point],
    fast_seen: Sequence[Point],
    interval: float,
    copy_started: float | None,
    window: Arc | None = None,
) -> list[Phase]:
    """Every grid phase under which the observations fit steady rates (inside `window`, the
    phases earlier polls left: observations dropped since, or a disk that finished, narrowed
    it)."""
    if not seen or interval <= 0:
        return []
    slack = tolerance(interval)
    out: list[Phase] = []
    for i in range(GRID_POINTS):
        offset = interval * i / GRID_POINTS
        if window is not None and not covers(window, offset):
            continue
        if not _one_value_per_publish(seen, offset, interval) or not _one_value_per_publish(
            fast_seen, offset, interval
        ):
            continue
        arc = Arc(offset - slack, offset + slack, interval)
        slow = fit(seen, arc, interval, copy_started)
        if slow is None:
            continue
        fast = fit(fast_seen, arc, interval, copy_started) if fast_seen else None
        if fast_seen and fast is None:
            continue
        out.append(Phase(offset, slow, fast))
    return out


def _one_value_per_publish(seen: Sequence[Point], offset: float, interval: float) -> bool:
    """Polls that saw the same publish under this phase saw the same percentage (the rate
    polygon alone would let one publish sit at two times within the tolerance)."""
    slack = tolerance(interval)
    by_publish: dict[int, float] = {}
    for t, value in seen:
        early = math.floor((t - offset - slack) / interval)
        if early != math.floor((t - offset + slack) / interval):
            continue  # within the tolerance of a publish: it may or may not have happened
        if by_publish.setdefault(early, value) != value:
            return False
    return True


def covers(window: Arc, t: float) -> bool:
    low, high = window.window_at_or_after(t)
    return low <= t <= high


def window_of(found: Sequence[Phase], interval: float) -> Arc | None:
    """The publish window the phases left span (widened by the tolerance), None if all of it."""
    if not found:
        return None
    ordered = _spread(found, interval)
    slack = tolerance(interval)
    low, high = ordered[0] - slack, ordered[-1] + slack
    return Arc(low, high, interval) if high - low < interval else None


def _first_tick_at_or_after(offset: float, interval: float, t: float) -> int:
    return math.ceil((t - offset) / interval - 1e-9)


def last_tick_seen(offset: float, interval: float, at: float) -> int:
    """The number of the last tick a poll at `at` surely saw (one within the tolerance of `at`
    may not have happened yet)."""
    return math.floor((at - offset - tolerance(interval)) / interval)


def end_ticks(phase: Phase, interval: float, last_poll: float) -> tuple[int, int]:
    """The range of tick numbers k (publish at offset + k*interval) that can be the copy's
    last under this phase: the first publish at or after the slowest disk's end, after the
    ticks the last poll (which saw it running) saw."""
    low, high = phase.slow.end_range()
    first = max(
        _first_tick_at_or_after(phase.offset, interval, low),
        last_tick_seen(phase.offset, interval, last_poll) + 1,
    )
    last = _first_tick_at_or_after(phase.offset, interval, min(high, 1e12))
    return first, max(first, last)


def end_candidates(found: Sequence[Phase], interval: float, last_poll: float) -> int:
    return sum(high - low + 1 for low, high in (end_ticks(p, interval, last_poll) for p in found))


def watch_time(found: Sequence[Phase], interval: float, last_poll: float) -> float:
    """When to look for the earliest end: just after the earliest publish that can be the
    copy's last under any phase left, and the ones under other phases that fall at most
    `LAG_TARGET_SECONDS` after it (one poll sees them all, none later than that)."""
    ends = [p.offset + end_ticks(p, interval, last_poll)[0] * interval for p in found]
    earliest = min(ends)
    covered = max(t for t in ends if t <= earliest + LAG_TARGET_SECONDS)
    return covered + tolerance(interval) + _JUST_AFTER_SECONDS


def _highest_value(rates: Fit, t: float) -> float:
    return max(a * t + b for a, b in rates.vertices)


def _values(rates: Fit, earliest: float, latest: float) -> range:
    """The whole percentages a poll can show: the publish it sees is in [earliest, latest]."""
    low = math.floor(rates.lowest_value(earliest))
    high = math.floor(_highest_value(rates, latest))
    low, high = min(max(low, 0), 100), min(max(high, 0), 100)
    return range(low, high + 1)


def _clip_to(rates: Fit, earliest: float, latest: float, value: int) -> Fit | None:
    """The rates left if the poll shows `value` (below 100) for a publish in [earliest, latest]."""
    from shared.rules.poll_rhythm import _clip  # one clipping routine for both modules

    polygon = list(rates.vertices)
    for plane in ((earliest, 1.0, value + 1.0), (-latest, -1.0, -float(value))):
        polygon = _clip(polygon, plane)
        if len(polygon) < 3:
            return None
    return Fit(tuple(polygon))


@dataclass(frozen=True)
class Expectation:
    """What a poll at some time is expected to leave, over its possible outcomes."""

    candidates: float  # end candidates (0 when only the phases were asked for)
    phases: float  # phases


def expect(
    found: Sequence[Phase], at: float, interval: float, *, candidates: bool = True
) -> Expectation | None:
    """The expected end candidates and phases left after a poll at `at`, each possible outcome
    weighted by how many phases and values give it; None when there are too many to score."""
    slack = tolerance(interval)
    # (slowest disk's value, fastest running disk's value) -> [weight, candidates, phases]
    outcomes: dict[tuple[int, int], list[float]] = {}
    for phase in found:
        earliest, latest = phase.arc(interval, slack).last_publish_range(at)
        slow_values = _values(phase.slow, earliest, latest)
        fast_values = _values(phase.fast, earliest, latest) if phase.fast else range(1)
        if len(slow_values) * len(fast_values) > _MAX_OUTCOMES or not slow_values:
            return None
        # Each (phase, end tick) is taken as equally likely: a value is as likely as the end
        # candidates it leaves, and "done" as the ones at or before the publish the poll sees.
        lefts: list[tuple[int, float]] = []
        for value in slow_values:
            if value >= 100:
                low, high = end_ticks(phase, interval, -1e12)
                seen_to = last_tick_seen(phase.offset, interval, at + slack)
                lefts.append((value, float(max(0, min(high, seen_to) - low + 1))))
                continue
            clipped = _clip_to(phase.slow, earliest, latest, value)
            if clipped is not None:
                left = end_candidates([Phase(phase.offset, clipped, None)], interval, at)
                lefts.append((value, float(left)))
        weights = [1.0 if not candidates else left for _, left in lefts]
        total = sum(weights)
        if total <= 0:
            continue
        for (value, left), weight in zip(lefts, weights, strict=True):
            share = weight / total / len(fast_values)
            remaining = 0.0 if value >= 100 or not candidates else left
            for fast_value in fast_values:
                tally = outcomes.setdefault((value, fast_value), [0.0, 0.0, 0.0])
                tally[0] += share
                tally[1] += remaining
                tally[2] += 1
    total = sum(weight for weight, _, _ in outcomes.values())
    if total <= 0:
        return None
    return Expectation(
        sum(weight / total * left for weight, left, _ in outcomes.values()),
        sum(weight / total * phases for weight, _, phases in outcomes.values()),
    )


def _spread(found: Sequence[Phase], interval: float) -> list[float]:
    """The phases left, unwrapped at the widest gap so that they read in order."""
    offsets = sorted(p.offset for p in found)
    gaps = [(offsets[(i + 1) % len(offsets)] - offsets[i]) % interval for i in range(len(offsets))]
    cut = (max(range(len(offsets)), key=lambda i: gaps[i]) + 1) % len(offsets)
    ordered = offsets[cut:] + [o + interval for o in offsets[:cut]]
    return ordered


@dataclass(frozen=True)
class Choice:
    at: float
    reason: str


# The phase is worth learning while it is spread wider than this (seconds), by a probe that
# is expected to rule out at least a quarter of the phases left.
PHASE_SPREAD_SECONDS = 45.0
_PHASE_SPLIT = 0.6
_PHASE_TICKS_AHEAD = 6


def plan(
    found: Sequence[Phase],
    now: float,
    interval: float,
    *,
    earliest_poll: float,
    latest_poll: float,
) -> Choice:
    """The next poll (seconds on the state's axis), between `earliest_poll` and `latest_poll`.

    It is never later than the earliest possible end plus `LAG_TARGET_SECONDS` (and the
    tolerance). Before that, the phase comes first: while it is spread wide, a probe at one of
    the next ticks that splits it is taken (a disk that moves at most publishes says when they
    fall, until it finishes; the rate can be learned at any time). Otherwise the probe expected
    to leave the fewest end candidates wins, if it beats what the watch poll would learn."""
    slack = tolerance(interval)
    watch = watch_time(found, interval, now)
    watch = min(max(watch, earliest_poll), latest_poll)
    ordered = _spread(found, interval)
    low, high = ordered[0], ordered[-1]

    def shifted(t: float, offset: float) -> float | None:
        at = math.floor((t - low) / interval) * interval + offset
        while at < earliest_poll:
            at += interval
        return at if at < watch - 1.0 and at <= latest_poll else None

    if high - low > PHASE_SPREAD_SECONDS:
        splits = [ordered[(i * len(ordered)) // 4] for i in (1, 2, 3)]
        for k in range(_PHASE_TICKS_AHEAD):
            best_phase: tuple[float, float] | None = None
            for offset in splits:
                at = shifted(now + k * interval, offset)
                guess = None if at is None else expect(found, at, interval, candidates=False)
                if guess is None or at is None:
                    continue
                if guess.phases <= _PHASE_SPLIT * len(found) and (
                    best_phase is None or guess.phases < best_phase[1]
                ):
                    best_phase = (at, guess.phases)
            if best_phase is not None:
                return Choice(best_phase[0], "splitting the publish phases left")

    best = Choice(watch, "just after the earliest publish that can be the last")
    watched = expect(found, watch, interval)
    best_score = None if watched is None else watched.candidates
    # Probes: just after a tick for every phase left (the rate alone), or inside the phases'
    # spread (which side of it the tick fell), at the next ticks and further toward the end.
    offsets = [high + slack + 1.0]
    if high - low > 2 * slack:
        offsets += [ordered[len(ordered) // 3], ordered[(2 * len(ordered)) // 3]]
    horizon = watch - now
    times = {now + f * horizon for f in (0.0, 0.25, 0.5, 0.75)}
    times |= {now + k * interval for k in (1, 2)}
    for t in sorted(times):
        for offset in offsets:
            at = shifted(t, offset)
            guess = None if at is None else expect(found, at, interval)
            if guess is None or at is None:
                continue
            if best_score is None or guess.candidates < best_score - 0.5:
                best = Choice(at, "probing what the publishes say of the end")
                best_score = guess.candidates
    return best
