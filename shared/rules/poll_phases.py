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

from shared.rules.poll_rhythm import Arc, Fit, Point, clip, fit

GRID_POINTS = 40  # phases tried: one every interval/40 (15 s for Azure's 10 minutes)
# Above half a grid step: the phase on the grid nearest the true one always fits.
TOLERANCE_FRACTION = 0.02
# The earliest possible end is seen within the lag target (PollSettings.lag_target_seconds)
# plus the tolerance and this: past the tolerance, the publish has surely happened.
_JUST_AFTER_SECONDS = 2.0
_MOST_TICKS = 400  # end publishes listed per phase (a 3-day spread)
_PROBE_MARGIN = 0.0  # watching polls a probe must save beyond itself
_HORIZON_SHARES = (0.25, 0.5, 0.75, 0.9, 0.97)
_TICKS_AHEAD = 6
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


def watch_time(
    found: Sequence[Phase], interval: float, last_poll: float, lag_target: float
) -> float:
    """When to look for the earliest end: just after the earliest publish that can be the
    copy's last under any phase left, and the ones under other phases that fall at most
    `lag_target` seconds after it (one poll sees them all, none later than that)."""
    ends = [p.offset + end_ticks(p, interval, last_poll)[0] * interval for p in found]
    earliest = min(ends)
    covered = max(t for t in ends if t <= earliest + lag_target)
    return covered + tolerance(interval) + _JUST_AFTER_SECONDS


def _values(rates: Fit, earliest: float, latest: float) -> range:
    """The whole percentages a poll can show: the publish it sees is in [earliest, latest]."""
    low = math.floor(rates.lowest_value(earliest))
    high = math.floor(rates.highest_value(latest))
    low, high = min(max(low, 0), 100), min(max(high, 0), 100)
    return range(low, high + 1)


def _clip_to(rates: Fit, earliest: float, latest: float, value: int) -> Fit | None:
    """The rates left if the poll shows `value` (below 100) for a publish in [earliest, latest]."""
    polygon = list(rates.vertices)
    for plane in ((earliest, 1.0, value + 1.0), (-latest, -1.0, -float(value))):
        polygon = clip(polygon, plane)
        if len(polygon) < 3:
            return None
    return Fit(tuple(polygon))


def _end_times(phase: Phase, interval: float, last_poll: float) -> list[float]:
    first, last = end_ticks(phase, interval, last_poll)
    last = min(last, first + _MOST_TICKS)
    return [phase.offset + k * interval for k in range(first, last + 1)]


def sweep_reads(times: list[float], reach: float) -> int:
    """Polls needed to see each of these possible end publishes within `reach` seconds, when
    no poll teaches anything else (one poll covers the publishes `reach` before it)."""
    polls, covered = 0, -math.inf
    for t in sorted(times):
        if t > covered:
            polls, covered = polls + 1, t + reach
    return polls


def expected_sweep(
    found: Sequence[Phase], at: float, interval: float, reach: float
) -> float | None:
    """The watching polls expected to be left after a poll at `at`: over its possible outcomes
    (the slowest and the fastest running disk's percentages), each weighted by the end
    candidates it leaves, "done" by the ones at or before the publish it sees (every (phase,
    end publish) pair taken as equally likely); None when there are too many to score."""
    slack = tolerance(interval)
    # (slowest disk's value, fastest running disk's value) -> (weight, end times left)
    outcomes: dict[tuple[int, int], tuple[list[float], list[float]]] = {}
    for phase in found:
        earliest, latest = phase.arc(interval, slack).last_publish_range(at)
        slow_values = _values(phase.slow, earliest, latest)
        fast_values = _values(phase.fast, earliest, latest) if phase.fast else range(1)
        if len(slow_values) * len(fast_values) > _MAX_OUTCOMES or not slow_values:
            return None
        lefts: list[tuple[int, list[float], float]] = []
        for value in slow_values:
            if value >= 100:
                low, high = end_ticks(phase, interval, -1e12)
                seen_to = last_tick_seen(phase.offset, interval, at + slack)
                lefts.append((value, [], float(max(0, min(high, seen_to) - low + 1))))
                continue
            clipped = _clip_to(phase.slow, earliest, latest, value)
            if clipped is not None:
                times = _end_times(Phase(phase.offset, clipped, None), interval, at)
                lefts.append((value, times, float(len(times))))
        total = sum(weight for _, _, weight in lefts)
        if total <= 0:
            continue
        for value, times, weight in lefts:
            for fast_value in fast_values:
                tally = outcomes.setdefault((value, fast_value), ([0.0], []))
                tally[0][0] += weight / total / len(fast_values)
                tally[1].extend(times)
    total = sum(weight[0] for weight, _ in outcomes.values())
    if total <= 0:
        return None
    return sum(w[0] / total * sweep_reads(times, reach) for w, times in outcomes.values())


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


def plan(
    found: Sequence[Phase],
    now: float,
    interval: float,
    *,
    earliest_poll: float,
    latest_poll: float,
    lag_target: float,
) -> Choice:
    """The next poll (seconds on the state's axis), between `earliest_poll` and `latest_poll`.

    It is never later than the earliest possible end plus `lag_target` (and the tolerance): the
    watch. The end publishes that can still be the last then cost one watching poll per
    `lag_target` of them; a probe before the watch is taken if it is expected to save more
    watching polls than itself (its outcome rules out rates and phases)."""
    slack = tolerance(interval)
    reach = lag_target + slack
    watch = watch_time(found, interval, now, lag_target)
    watch = min(max(watch, earliest_poll), latest_poll)
    ordered = _spread(found, interval)
    low, high = ordered[0], ordered[-1]
    now_cost = sweep_reads([t for p in found for t in _end_times(p, interval, now)], reach)
    best = Choice(watch, "just after the earliest publish that can be the last")
    watched = expected_sweep(found, watch, interval, reach)
    # A probe costs a poll, as the watch does: it must be expected to leave fewer watching
    # polls than the watch itself leaves, by a margin.
    best_cost = (now_cost - 1.0 if watched is None else watched) - _PROBE_MARGIN
    # Probes: just after a publish under every phase left (the rate alone), or inside the
    # phases' spread (which side of it the publish fell), at the next publishes and further on.
    offsets = [high + slack + 1.0]
    if high - low > 2 * slack:
        offsets += [ordered[(i * len(ordered)) // 8] for i in range(1, 8)]
    horizon = watch - now
    times = {now + f * horizon for f in _HORIZON_SHARES}
    times |= {now + k * interval for k in range(_TICKS_AHEAD)}
    times |= {watch - k * interval for k in range(1, _TICKS_AHEAD + 1)}
    for t in sorted(times):
        for offset in offsets:
            at = math.floor((t - low) / interval) * interval + offset
            while at < earliest_poll:
                at += interval
            if at >= watch - 1.0 or at > latest_poll:
                continue
            cost = expected_sweep(found, at, interval, reach)
            if cost is not None and cost < best_cost:
                best, best_cost = Choice(at, "probing what the publishes say of the end"), cost
    return best
