"""Pure decision: how long to wait before polling a copy's replication status again.

Azure publishes progress about every 10 minutes and it may jump from 0 to 100, so:
- start near `initial_seconds` (a small copy can finish within the first progress interval);
- back off exponentially toward the progress granularity, never past `max_seconds`;
- once progress has moved at least twice, estimate the finish from the observed rate and aim
  at it (never sooner than `min_seconds`, never later than the backoff bound).

That backoff is the fallback. Once progress has moved and the observations fit a publish
rhythm and a steady rate, the schedule is learned instead (`shared.rules.poll_phases`): every
publish phase the polls allow is tried, the next poll is just after the earliest publish that
can be the copy's last (within `lag_target_seconds` of it), or a probe before it that is
expected to save more polls than it costs; it waits at most `learned_max_seconds`.
Observations that fit no rhythm (jittery publishes, a rate that changes) send it back to the
backoff for good.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from shared.model.message import PollState
from shared.rules import poll_phases, poll_rhythm
from shared.rules.poll_rhythm import Arc
from shared.settings import PollSettings


@dataclass(frozen=True)
class PollPlan:
    delay_seconds: float
    expected_finish: datetime | None
    reason: str
    # Learned plans only: the publish window in which the percentage is sure to change (kept in
    # the poll state so the next observation can halve the publish window either way).
    sure_change: tuple[float, float] | None = None
    # The observations stopped fitting a rhythm and a steady rate: back to the backoff for good.
    rhythm_broken: bool = False
    # The publish window the phases left by this plan span: kept, so that what they said
    # survives the observations dropped from the message and a fast disk that finished.
    publish_window: Arc | None = None


def carry(state: PollState, plan: PollPlan) -> PollState:
    """The poll state to send with the next poll: what the plan learned."""
    update: dict[str, object] = {
        "sure_change": plan.sure_change,
        "rhythm_broken": state.rhythm_broken or plan.rhythm_broken,
    }
    if plan.publish_window is not None:
        update["publish_after"] = round(plan.publish_window.lo, 3)
        update["publish_by"] = round(plan.publish_window.hi, 3)
    return state.model_copy(update=update)


def observe(
    state: PollState,
    now: datetime,
    percent: float | None,
    *,
    slowest: float | None = None,
    fastest: tuple[int, float] | None = None,
    interval: float = 0.0,
) -> PollState:
    """Fold one observation into the poll history. `slowest` (the slowest disk's percentage)
    and `interval` (Azure's publish interval) feed the learned schedule; without them it is
    today's history only."""
    changes: dict[str, object] = {"count": state.count + 1, "last_polled_at": now}
    if state.started_at is None:
        changes["started_at"] = now
    if percent is not None:
        if state.first_percent is None:
            changes["first_percent"] = percent
            changes["first_percent_at"] = now
        if state.last_percent is None or percent != state.last_percent:
            changes["last_percent"] = percent
            changes["last_progress_at"] = now
    base = state.started_at or now
    if slowest is not None and interval > 0 and not state.rhythm_broken:
        t = round((now - base).total_seconds(), 3)
        changes.update(_learn(state, t, percent, slowest, interval))
        if fastest is not None and not changes.get("rhythm_broken"):
            changes.update(_learn_fastest(state, t, fastest))
    return state.model_copy(update=changes)


def _arc(state: PollState, interval: float) -> Arc | None:
    if state.publish_after is None or state.publish_by is None:
        return None
    return Arc(state.publish_after, state.publish_by, interval)


def _learn(
    state: PollState, t: float, percent: float | None, slowest: float, interval: float
) -> dict[str, object]:
    """The rhythm part of `observe`: the publish window and the kept observations."""
    arc: Arc | bool | None = _arc(state, interval)
    previous = state.seen[-1] if state.seen else None
    if previous is not None and slowest < previous[1]:
        return {"rhythm_broken": True}  # a percentage that goes back fits no steady rate
    changed = previous is not None and slowest != previous[1]
    # Any disk's move marks a publish (a fast disk moves at more of them than the slowest);
    # only between this poll and the one just before it, both seen here.
    last = state.last_polled_at
    consecutive = (
        previous is not None
        and last is not None
        and state.started_at is not None
        and abs((last - state.started_at).total_seconds() - previous[0]) < 1e-3
    )
    moved = changed or (consecutive and percent != state.last_percent)
    if previous is not None and consecutive and moved:
        arc = poll_rhythm.narrow(arc if arc else None, previous[0], t, interval)
    if arc is not False and state.sure_change is not None:
        low, high = state.sure_change
        if low < t <= high:  # the publish in (low, high] was sure to change the percentage
            bracket = (low, t) if moved else (t, high)
            arc = poll_rhythm.narrow(arc if arc else None, *bracket, interval)
        elif t > high and not moved:  # it did not: the rhythm or the rate was not what it seemed
            return {"rhythm_broken": True}
    if arc is False:
        return {"rhythm_broken": True}
    update: dict[str, object] = {
        "seen": poll_rhythm.keep(state.seen, (t, slowest)),
        "sure_change": None,
    }
    if isinstance(arc, Arc):
        update["publish_after"], update["publish_by"] = round(arc.lo, 3), round(arc.hi, 3)
    return update


def _learn_fastest(state: PollState, t: float, fastest: tuple[int, float]) -> dict[str, object]:
    """The fastest running disk moves at more publishes: its own rate tells when a change is
    sure. A different disk (the last one finished) starts its history afresh."""
    disk, percent = fastest
    if disk != state.fast_disk or (state.fast_seen and percent < state.fast_seen[-1][1]):
        return {"fast_disk": disk, "fast_seen": ((t, percent),)}
    return {"fast_seen": poll_rhythm.keep(state.fast_seen, (t, percent))}


_LONGEST_ESTIMATE_SECONDS = 15 * 24 * 3600.0


def expected_finish(state: PollState) -> datetime | None:
    """Linear estimate from the first and the latest progress change, if progress has moved."""
    if (
        state.first_percent is None
        or state.first_percent_at is None
        or state.last_percent is None
        or state.last_progress_at is None
    ):
        return None
    gained = state.last_percent - state.first_percent
    elapsed = (state.last_progress_at - state.first_percent_at).total_seconds()
    if gained <= 0 or elapsed <= 0 or state.last_percent >= 100:
        return None
    rate = gained / elapsed
    if rate <= 0:  # a gain so small that the rate underflows says nothing about the finish
        return None
    remaining = (100 - state.last_percent) / rate
    if remaining > _LONGEST_ESTIMATE_SECONDS:
        return None  # beyond Azure's 14-day copy limit the estimate means nothing
    return state.last_progress_at + timedelta(seconds=remaining)


def next_poll(
    state: PollState,
    now: datetime,
    settings: PollSettings,
    *,
    copy_started: datetime | None = None,
) -> PollPlan:
    """Delay before the next poll, given the history including the observation just made;
    `copy_started` (when the copy was requested) bounds when replication can have begun."""
    fallback = backoff_plan(state, now, settings)
    learned = learned_plan(state, now, settings, copy_started, fallback)
    if learned is None and state.seen and not state.rhythm_broken:
        return replace(fallback, rhythm_broken=True)  # it was learning: it fits no more
    return learned or fallback


def backoff_plan(state: PollState, now: datetime, settings: PollSettings) -> PollPlan:
    """Today's schedule: exponential backoff to the progress granularity, aimed at the linear
    estimate of the finish once progress has moved."""
    granularity = max(settings.progress_granularity_seconds, settings.min_seconds)
    ceiling = min(settings.max_seconds, granularity)
    floor = min(settings.min_seconds, ceiling)
    # initial * 2**(count-1); a copy can be polled ~2000 times, past what a float holds.
    try:
        backoff = math.ldexp(settings.initial_seconds, max(state.count - 1, 0))
    except OverflowError:
        backoff = math.inf
    bound = max(min(backoff, ceiling), floor)
    finish = expected_finish(state)
    if finish is None:
        reason = "initial" if state.count <= 1 else "backoff"
        return PollPlan(bound, None, reason)
    until_finish = (finish - now).total_seconds()
    if until_finish <= floor:
        return PollPlan(floor, finish, "expected finish is near")
    if until_finish < bound:
        return PollPlan(until_finish, finish, "aiming at the expected finish")
    return PollPlan(bound, finish, "expected finish is beyond the backoff bound")


def learned_plan(
    state: PollState,
    now: datetime,
    settings: PollSettings,
    copy_started: datetime | None,
    fallback: PollPlan,
) -> PollPlan | None:
    """The schedule learned from the observations, or None when they fit no rhythm and rate."""
    interval = settings.progress_granularity_seconds
    if state.rhythm_broken or not state.seen or interval <= 0 or state.started_at is None:
        return None
    base = state.started_at
    t_now = (now - base).total_seconds()
    arc = _arc(state, interval)
    started = None if copy_started is None else (copy_started - base).total_seconds()
    fitted = poll_rhythm.fit(state.seen, arc, interval, started)
    if fitted is None:
        return None
    floor = settings.min_seconds
    bound = max(settings.learned_max_seconds, floor)
    end_low = fitted.end_range()[0]
    # The job's expected finish stays the linear estimate: the polygon's corners bound the end,
    # they do not estimate it.
    finish = fallback.expected_finish

    def plan(at: float, reason: str) -> PollPlan:
        return PollPlan(min(max(at - t_now, floor), bound), finish, reason)

    if max(v for _, v in state.seen) < 1:
        # Nothing has moved yet: every publish so far could have been the last; poll no sooner
        # than the backoff would (a small copy ends within the first publishes).
        # Zeros alone skip only on the weakest reading (publishes at most an interval apart),
        # never on a publish window that a single early bracket may have got wrong.
        earliest = t_now + fallback.delay_seconds
        unwindowed = poll_rhythm.fit(state.seen, None, interval, started)
        zero_end = unwindowed.end_range()[0] if unwindowed else t_now
        return plan(max(earliest, min(end_low, zero_end)), "learning: no progress seen yet")
    # Progress has moved: every publish phase the observations allow is tried, and the poll
    # that learns most about the end is chosen (shared.rules.poll_phases).
    found = poll_phases.phases(state.seen, state.fast_seen, interval, started, arc)
    if not found:
        return None
    choice = poll_phases.plan(
        found,
        t_now,
        interval,
        earliest_poll=t_now + floor,
        latest_poll=t_now + bound,
        lag_target=settings.lag_target_seconds,
    )
    learned = plan(choice.at, choice.reason)
    return replace(learned, publish_window=poll_phases.window_of(found, interval))
