"""Pure: what a copy's polls say about when Azure publishes progress and when the copy ends.

Azure republishes `completionPercent` (an integer) about every `progress_granularity_seconds`,
at a phase no client is told. Two facts are learned from the polls themselves:

- the **phase**: a change seen between two polls less than an interval apart means a publish
  happened between them, and every publish is at that offset modulo the interval. The
  intersection of those brackets is the publish window `(publish_after, publish_by]`.
- the **rate**: the slowest disk's percentage at a publish at time T is `floor(a*T + b)` for a
  steady rate a (percent per second). Each poll bounds `a*T + b` from both sides for every T its
  publish could have been at; the copy cannot have started before it was requested, nor after
  the first poll that showed a percentage. Those half-planes in (a, b) are intersected exactly
  (a convex polygon); its vertices bound when the transfer can end, and whether the next
  publish must change the percentage.

The copy ends at the first publish after its transfer ends. `shared.rules.poll_schedule` polls
just after the earliest publish that can be that one, skipping the others. Nothing here is
guessed: an observation that fits no steady rate makes `fit` return None, and the schedule goes
back to its plain backoff.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

# Observations kept in the message: the first ones (the earliest bound on the rate and start)
# and the latest (the tightest); dropping the middle only loosens the polygon, never wrongs it.
MAX_SEEN = 12
_KEEP_FIRST = 3
# Brackets are widened by this fraction of the interval: clock skew and a publish that lands a
# few seconds early or late must not rule the true phase out.
SLACK_FRACTION = 0.02
LONGEST_COPY_SECONDS = 15 * 24 * 3600.0  # Azure terminates copies after 14 days

Point = tuple[float, float]


@dataclass(frozen=True)
class Arc:
    """Publishes happen in (lo + k*interval, hi + k*interval] for integers k."""

    lo: float
    hi: float
    interval: float

    @property
    def width(self) -> float:
        return self.hi - self.lo

    def window_at_or_after(self, t: float) -> tuple[float, float]:
        """The first window (L, H] with H >= t."""
        k = math.ceil((t - self.hi) / self.interval - 1e-9)
        return self.lo + k * self.interval, self.hi + k * self.interval

    def inside(self, t: float) -> bool:
        """Is t strictly inside a window (a publish may or may not have happened yet)?"""
        low, high = self.window_at_or_after(t)
        return low < t < high

    def last_publish_range(self, t: float) -> tuple[float, float]:
        """Earliest and latest time of the last publish at or before t."""
        low, high = self.window_at_or_after(t)
        if low < t < high:  # this window's publish may not have happened: it or the previous
            return low - self.interval, t
        if high <= t:  # t is exactly at the window's end
            return low, high
        return low - self.interval, high - self.interval


def narrow(arc: Arc | None, after: float, by: float, interval: float) -> Arc | bool | None:
    """Intersect the publish window with a bracket (after, by]: a publish happened in it.

    Returns the new window, the old one when the bracket says nothing new, or False when they
    do not meet (the publishes keep no steady rhythm)."""
    slack = SLACK_FRACTION * interval
    after, by = after - slack, by + slack
    if by - after >= interval:
        return arc
    if arc is None:
        return Arc(after, by, interval)
    # Move the bracket by whole intervals next to the window, then intersect.
    shift = math.floor((arc.hi - by) / interval + 0.5) * interval
    pieces = []
    for k in (-1, 0, 1):
        low = max(arc.lo, after + shift + k * interval)
        high = min(arc.hi, by + shift + k * interval)
        if high > low:
            pieces.append((low, high))
    if not pieces:
        return False
    if len(pieces) > 1:  # two pieces of a long window: keep it (a superset stays true)
        return arc
    return Arc(*pieces[0], interval)


def keep(seen: Sequence[Point], point: Point) -> tuple[Point, ...]:
    """Append an observation, dropping middle ones past MAX_SEEN. Of a run of polls that saw
    the same percentage only the first and the last say anything (the first bounds the rate
    from below, the last from above), so the run's middle is dropped first: a copy watched
    for its end keeps the polls that told its rate."""
    if len(seen) >= 2 and seen[-2][1] == seen[-1][1] == point[1]:
        seen = seen[:-1]
    kept = (*seen, point)
    if len(kept) > MAX_SEEN:
        kept = kept[:_KEEP_FIRST] + kept[len(kept) - (MAX_SEEN - _KEEP_FIRST) :]
    return kept


# -- the rate polygon -------------------------------------------------------------------------

# Half-plane alpha*a + beta*b <= gamma.
HalfPlane = tuple[float, float, float]


def clip(polygon: list[Point], plane: HalfPlane) -> list[Point]:
    alpha, beta, gamma = plane
    tolerance = 1e-9 * (1.0 + abs(gamma))
    out: list[Point] = []
    for i, current in enumerate(polygon):
        previous = polygon[i - 1]
        cur_in = alpha * current[0] + beta * current[1] <= gamma + tolerance
        prev_in = alpha * previous[0] + beta * previous[1] <= gamma + tolerance
        if cur_in != prev_in:
            f_prev = alpha * previous[0] + beta * previous[1] - gamma
            f_cur = alpha * current[0] + beta * current[1] - gamma
            share = f_prev / (f_prev - f_cur)
            out.append(
                (
                    previous[0] + share * (current[0] - previous[0]),
                    previous[1] + share * (current[1] - previous[1]),
                )
            )
        if cur_in:
            out.append(current)
    return out


@dataclass(frozen=True)
class Fit:
    """Every steady rate (a, b) consistent with the polls, as a polygon's vertices."""

    vertices: tuple[Point, ...]

    def end_range(self) -> tuple[float, float]:
        """Earliest and latest time the transfer can end (a*T + b reaches 100)."""
        ends = [(100.0 - b) / a for a, b in self.vertices]
        return min(ends), max(ends)

    def lowest_value(self, t: float) -> float:
        return min(a * t + b for a, b in self.vertices)

    def highest_value(self, t: float) -> float:
        return max(a * t + b for a, b in self.vertices)

    def slowest_rate(self) -> float:
        return min(a for a, _ in self.vertices)


def fit(
    seen: Sequence[Point], arc: Arc | None, interval: float, copy_started: float | None
) -> Fit | None:
    """The polygon of steady rates that explain `seen`; None if none does.

    Times are seconds on one axis (the poll state's), `copy_started` when the copy was
    requested (replication cannot have begun earlier)."""
    if not seen or interval <= 0:
        return None
    t_first = seen[0][0]
    # The box: from a 15-day copy to one done within a second; starts within the copy's life.
    a_min, a_max = 100.0 / LONGEST_COPY_SECONDS, 100.0
    b_low, b_high = -a_max * (abs(t_first) + 2 * LONGEST_COPY_SECONDS), 100.0
    polygon: list[Point] = [(a_min, b_low), (a_max, b_low), (a_max, b_high), (a_min, b_high)]
    planes: list[HalfPlane] = [(-t_first, -1.0, 0.0)]  # started by the first poll: a*t0+b >= 0
    if copy_started is not None and copy_started <= t_first:
        planes.append((copy_started, 1.0, 0.0))  # not before the request: a*tc + b <= 0
    for t, value in seen:
        if arc is None:
            earliest, latest = t - interval, t
        else:
            earliest, latest = arc.last_publish_range(t)
        planes.append((earliest, 1.0, value + 1.0))  # a*T + b < value + 1 at every T
        if value >= 1:
            planes.append((-latest, -1.0, -value))  # a*T + b >= value
    for plane in planes:
        polygon = clip(polygon, plane)
        if len(polygon) < 3:
            return None
    return Fit(tuple(polygon))
